// The sandbox topology module: what it creates, what its state file says, how another
// process would find and tear it down, and that nothing is left behind, also on failure.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InterfaceMonitor, OvsdbClient, VswitchDb, isBound } from '@dragonflow/ovsdb';
import { STATE_FILE, Sandbox, isAlive, linkExists, listLeftovers, listNetns, listSandboxes, netnsExists, readState, removeLeftovers, run, type SandboxState } from '@dragonflow/sandbox';

describe('sandbox topology lifecycle', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await Sandbox.create();
    await sandbox.createChassis(1);
    await sandbox.createChassis(2, { tunnelTypes: ['geneve'], provider: false });
  });

  afterAll(async () => {
    await sandbox?.destroy();
  });

  it('describes everything it created in the state file', () => {
    const state = JSON.parse(readFileSync(join(sandbox.dir, STATE_FILE), 'utf8')) as SandboxState;
    expect(state.tag).toBe(sandbox.tag);
    expect(state.fabric.netns).toBe(`${sandbox.tag}-fabric`);
    expect(state.chassis.map((c) => [c.name, c.netns, c.tunnelIp, c.status])).toEqual([
      ['chassis-1', `${sandbox.tag}-c1`, '172.31.0.1', 'ready'],
      ['chassis-2', `${sandbox.tag}-c2`, '172.31.0.2', 'ready'],
    ]);
    const c1 = state.chassis[0]!;
    expect(isAlive(c1.pids!.ovsdbServer)).toBe(true);
    expect(isAlive(c1.pids!.vswitchd)).toBe(true);
    expect(c1.ovsdbRemote).toBe(`unix:${join(sandbox.dir, 'chassis-1', 'db.sock')}`);
    expect(c1.controllerTarget).toBe(`unix:${join(sandbox.dir, 'chassis-1', 'controller.sock')}`);
    expect(c1.tunnelPorts).toEqual({ vxlan: 'tun-vxlan', geneve: 'tun-geneve', gre: 'tun-gre' });
    expect(c1.provider).toMatchObject({ physnet: 'physnet1', bridge: 'br-ex', patchOnIntegration: 'patch-br-ex', patchOnProvider: 'patch-br-int-br-ex' });
    expect(state.chassis[1]!.tunnelPorts).toEqual({ geneve: 'tun-geneve' });
    expect(state.chassis[1]!.provider).toBeUndefined();
  });

  it('seeds each chassis\' tunnel neighbour table with the other\'s underlay MAC (no first packet lost to an ARP)', async () => {
    const [c1, c2] = [sandbox.chassis(1), sandbox.chassis(2)];
    const neigh1 = await c1.ovs.appctl('tnl/neigh/show');
    const neigh2 = await c2.ovs.appctl('tnl/neigh/show');
    expect(neigh1).toMatch(new RegExp(`172\\.31\\.0\\.2\\s+${await c2.underlayMac()}\\s+br-phy`));
    expect(neigh2).toMatch(new RegExp(`172\\.31\\.0\\.1\\s+${await c1.underlayMac()}\\s+br-phy`));
  });

  it('sets up br-int, br-phy and the provider bridge as the controller expects, reachable from the root namespace', async () => {
    const c1 = sandbox.chassis(1);
    const client = await OvsdbClient.connect({ remote: c1.state.ovsdbRemote });
    try {
      const vs = new VswitchDb(client);
      expect(await vs.listBridges()).toEqual(['br-ex', 'br-int', 'br-phy']);
      expect(await vs.getBridge('br-int')).toMatchObject({
        datapathType: 'netdev',
        failMode: 'secure',
        protocols: ['OpenFlow13'],
        controllerTargets: [c1.state.controllerTarget],
        otherConfig: { 'datapath-id': c1.state.datapathId, 'disable-in-band': 'true' },
      });
      expect((await vs.getBridge('br-int'))!.ports).toEqual(['br-int', 'patch-br-ex', 'tun-geneve', 'tun-gre', 'tun-vxlan']);
      expect((await vs.getBridge('br-phy'))!.ports).toEqual(['br-phy', 'ul0']);
      expect((await vs.getBridge('br-ex'))!.ports).toEqual(['br-ex', 'patch-br-int-br-ex', 'px0']);
      expect(await vs.getInterface('tun-vxlan')).toMatchObject({ type: 'vxlan', options: { remote_ip: 'flow', key: 'flow' } });
    } finally {
      await client.close();
    }
    // ovs-ofctl through br-int's management socket works from the root namespace.
    const show = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'show', `unix:${c1.state.integrationMgmtSocket}`]);
    expect(show.stdout).toContain(`dpid:${c1.state.datapathId}`);
    // The tunnel IP sits on br-phy's LOCAL port inside the chassis namespace.
    expect((await run('ip', ['-4', 'addr', 'show', 'dev', 'br-phy'], { netns: c1.netns })).stdout).toContain('inet 172.31.0.1/24');
    expect(await netnsExists(sandbox.state.fabric.netns)).toBe(true);
    expect((await run('ip', ['link', 'show', 'master', 'br-underlay'], { netns: sandbox.state.fabric.netns })).stdout).toMatch(/c1-ul[\s\S]*c2-ul/);
  });

  it('creates a VM plugged into br-int with iface-id and attached-mac, configured as asked', async () => {
    const c1 = sandbox.chassis(1);
    const client = await OvsdbClient.connect({ remote: c1.state.ovsdbRemote });
    const monitor = await InterfaceMonitor.start(client, { bridge: 'br-int' });
    try {
      const vm = await sandbox.createVm(1, { name: 'web', ip: '10.20.0.5/24', gateway: '10.20.0.1', mac: 'fa:16:3e:12:34:56', portId: '6d0e5e6a-1b2c-4d5e-8f90-123456789abc' });
      expect(vm.state.tap).toBe('tap6d0e5e6a-1b');
      const bound = await monitor.waitFor((s) => s.ifaceId === '6d0e5e6a-1b2c-4d5e-8f90-123456789abc' && isBound(s), 10_000, 'the VM port bound');
      expect(bound.name).toBe('tap6d0e5e6a-1b');
      expect(bound.attachedMac!.toString()).toBe('fa:16:3e:12:34:56');
      const link = (await vm.exec('ip', ['-d', 'link', 'show', 'eth0'])).stdout;
      expect(link).toContain('link/ether fa:16:3e:12:34:56');
      expect(link).toContain('mtu 1400');
      expect((await vm.exec('ip', ['-4', 'addr', 'show', 'eth0'])).stdout).toContain('inet 10.20.0.5/24');
      expect((await vm.exec('ip', ['route', 'show', 'default'])).stdout).toContain('default via 10.20.0.1 dev eth0');
      expect((await vm.exec('ethtool', ['-k', 'eth0'])).stdout).toMatch(/^tx-checksumming: off/m);
    } finally {
      await monitor.cancel();
      await client.close();
    }
  });

  it('is visible to a separate process through the state file alone', async () => {
    const other = Sandbox.load(sandbox.dir);
    const status = await other.status();
    expect(status.fabricPresent).toBe(true);
    expect(status.chassis.map((c) => [c.name, c.netnsPresent, c.ovsdbServerAlive, c.vswitchdAlive])).toEqual([
      ['chassis-1', true, true, true],
      ['chassis-2', true, true, true],
    ]);
    expect(status.vms).toEqual([expect.objectContaining({ name: 'web', chassis: 1, netnsPresent: true, ip: '10.20.0.5/24', status: 'ready', ofport: expect.any(Number) })]);
    const leftovers = await listLeftovers();
    const ours = leftovers.namespaces.filter((n) => n.tag === sandbox.tag);
    expect(ours.map((n) => n.netns).sort()).toEqual([`${sandbox.tag}-c1`, `${sandbox.tag}-c2`, `${sandbox.tag}-fabric`, `${sandbox.tag}-vm-web`].sort());
    expect(ours.every((n) => n.ownerDir === sandbox.dir)).toBe(true);
    expect(ours.find((n) => n.netns.endsWith('-c1'))!.pids.length).toBeGreaterThanOrEqual(2);
    expect(listSandboxes()).toContainEqual({ tag: sandbox.tag, dir: sandbox.dir, present: true });
  });

  it('refuses bad VM options before creating anything', async () => {
    await expect(sandbox.createVm(1, { name: 'Bad_Name', ip: '10.0.0.1/24', mac: 'fa:16:3e:00:00:09' })).rejects.toMatchObject({ code: 'SANDBOX_BAD_NAME' });
    await expect(sandbox.createVm(1, { name: 'x', ip: '10.0.0.1', mac: 'fa:16:3e:00:00:09' })).rejects.toThrow(/needs a prefix length/);
    await expect(sandbox.createVm(1, { name: 'x', ip: '10.0.0.1/24', gateway: '10.9.9.1', mac: 'fa:16:3e:00:00:09' })).rejects.toThrow(/not in 10.0.0.0\/24/);
    await expect(sandbox.createVm(1, { name: 'x', ip: '10.0.0.1/24', mac: '01:00:5e:00:00:01' })).rejects.toThrow(/multicast/);
    await expect(sandbox.createVm(9, { name: 'x', ip: '10.0.0.1/24', mac: 'fa:16:3e:00:00:09' })).rejects.toMatchObject({ code: 'SANDBOX_NO_CHASSIS' });
    await expect(sandbox.createChassis(1)).rejects.toMatchObject({ code: 'SANDBOX_EXISTS' });
    expect(await netnsExists(`${sandbox.tag}-vm-x`)).toBe(false);
  });

  it('cleans up after a VM that fails half-way', async () => {
    const c2 = sandbox.chassis(2);
    // A device already holding the tap name makes the veth step fail after the namespace exists.
    await run('ip', ['link', 'add', 'tapbroken', 'type', 'veth', 'peer', 'name', 'tapbroken-p'], { netns: c2.netns });
    try {
      await expect(sandbox.createVm(2, { name: 'broken', ip: '10.0.0.9/24', mac: 'fa:16:3e:00:00:0b', portId: 'broken' })).rejects.toThrow();
    } finally {
      await run('ip', ['link', 'delete', 'tapbroken'], { netns: c2.netns });
    }
    expect(await netnsExists(`${sandbox.tag}-vm-broken`)).toBe(false);
    expect(readState(sandbox.dir).vms.map((v) => v.name)).toEqual(['web']);
  });

  it('deletes a VM: unplugged from br-int, namespace and veth gone', async () => {
    const vm = sandbox.vm('web');
    await sandbox.deleteVm('web');
    expect(await netnsExists(vm.netns)).toBe(false);
    expect(await linkExists(vm.state.tap, sandbox.chassis(1).netns)).toBe(false);
    const iface = await sandbox.chassis(1).withVswitch((vs) => vs.getInterface(vm.state.tap));
    expect(iface).toBeUndefined();
    expect(sandbox.state.vms).toEqual([]);
  });
});

describe('sandbox teardown', () => {
  it('tears down from the state file alone and leaves nothing behind', async () => {
    const created = await Sandbox.create();
    await created.createChassis(1);
    await created.createVm(1, { name: 'a', ip: '10.0.0.1/24', mac: 'fa:16:3e:00:00:0a' });
    const state = readState(created.dir);
    const pids = state.chassis.flatMap((c) => [c.pids!.ovsdbServer, c.pids!.vswitchd]);
    // A process the test started inside a VM namespace goes too.
    await run('ip', ['netns', 'exec', state.vms[0]!.netns, 'sh', '-c', 'sleep 300 >/dev/null 2>&1 &']);

    await Sandbox.load(created.dir).destroy();

    expect(pids.map(isAlive)).toEqual([false, false]);
    expect((await listNetns()).filter((n) => n.startsWith(`${state.tag}-`))).toEqual([]);
    expect(existsSync(created.dir)).toBe(false);
    const left = await listLeftovers();
    expect(left.namespaces.filter((n) => n.tag === state.tag)).toEqual([]);
    expect(left.staleRegistrations.filter((r) => r.tag === state.tag)).toEqual([]);
    expect(listSandboxes().map((s) => s.tag)).not.toContain(state.tag);
  });

  it('keeps a directory it did not create, removing only what it put there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-sandbox-user-'));
    try {
      const sb = await Sandbox.create({ dir, underlayCidr: '192.168.77.0/24' });
      const c = await sb.createChassis(3, { provider: false, tunnelTypes: ['vxlan'] });
      expect(c.tunnelIp).toBe('192.168.77.3');
      await sb.destroy();
      expect(existsSync(dir)).toBe(true);
      expect(existsSync(join(dir, STATE_FILE))).toBe(false);
      expect(existsSync(join(dir, 'chassis-3'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds and removes what a crashed sandbox left when even its state file is gone', async () => {
    const sb = await Sandbox.create();
    await sb.createChassis(1, { provider: false, tunnelTypes: [] });
    const { tag, dir } = sb.state;
    const pids = [sb.state.chassis[0]!.pids!.ovsdbServer, sb.state.chassis[0]!.pids!.vswitchd];
    rmSync(dir, { recursive: true, force: true });

    const before = await listLeftovers();
    const orphaned = before.namespaces.filter((n) => n.tag === tag);
    expect(orphaned.map((n) => n.netns).sort()).toEqual([`${tag}-c1`, `${tag}-fabric`]);
    expect(orphaned.every((n) => n.ownerDir === undefined)).toBe(true);
    expect(before.staleRegistrations.map((r) => r.tag)).toContain(tag);

    expect((await removeLeftovers(tag)).sort()).toEqual([`${tag}-c1`, `${tag}-fabric`]);
    expect(pids.map(isAlive)).toEqual([false, false]);
    const after = await listLeftovers();
    expect(after.namespaces.filter((n) => n.tag === tag)).toEqual([]);
    expect(after.staleRegistrations.filter((r) => r.tag === tag)).toEqual([]);
  });
});
