// The Open_vSwitch helpers against a real ovsdb-server and ovs-vswitchd (userspace
// datapath, in a network namespace of its own so it cannot clash with other tests).
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MacAddress } from '@dragonflow/base';
import { sh, TestOvsdbServer } from '../test/ovs-server.js';
import { OvsdbClient } from './client.js';
import { InterfaceMonitor } from './interface-monitor.js';
import { bfdForwarding } from './interface-state.js';
import type { RowChange } from './table-cache.js';
import { VswitchDb } from './vswitch.js';
import { isBound, type InterfaceChange, type InterfaceState } from './vswitch-types.js';

describe('VswitchDb against ovsdb-server + ovs-vswitchd', () => {
  let ovs: TestOvsdbServer;
  let client: OvsdbClient;
  let vs: VswitchDb;
  let ctlSock: string;

  beforeAll(async () => {
    ovs = await TestOvsdbServer.start();
    await ovs.startVswitchd();
    client = await OvsdbClient.connect({ remote: ovs.remote });
    vs = new VswitchDb(client);
    ctlSock = `unix:${ovs.dir}/ctl.sock`;
  });

  afterAll(async () => {
    await client?.close();
    await ovs?.stop();
  });

  /**
   * Waits until the monitor shows interface `name` in a state vswitchd writes (ofport,
   * link state, error). When it gives up it reports the monitor's view beside the row
   * as read from the database now, so a lost monitor update can be told from a slow
   * switch.
   */
  async function vswitchdWrites(mon: InterfaceMonitor, name: string, predicate: (s: InterfaceState) => boolean, what: string): Promise<InterfaceState> {
    try {
      return await mon.waitFor((s) => s.name === name && predicate(s), 20_000, what);
    } catch (err) {
      const row = await vs.getInterface(name);
      throw new Error(`${String(err)}; the monitor's view: ${JSON.stringify(mon.get(name))}; the row read now: ${JSON.stringify(row)}; vswitchd log: ${ovs.log('ovs-vswitchd.log')}`, { cause: err });
    }
  }

  it('creates the root row on an empty database, once', async () => {
    const a = await vs.ensureRoot();
    const b = await vs.ensureRoot();
    expect(a.equals(b)).toBe(true);
  });

  it('creates br-int as asked and reads it back, also through ovs-vsctl', async () => {
    const result = await vs.ensureBridge('br-int', {
      datapathType: 'netdev',
      failMode: 'secure',
      protocols: ['OpenFlow13'],
      controllerTargets: [ctlSock],
      datapathId: 0xdf01n,
      disableInBand: true,
      externalIds: { 'df-owned': 'yes' },
    });
    expect(result).toEqual({ created: true, changed: [] });
    const info = await vs.getBridge('br-int');
    expect(info).toMatchObject({
      name: 'br-int',
      datapathType: 'netdev',
      failMode: 'secure',
      protocols: ['OpenFlow13'],
      controllerTargets: [ctlSock],
      otherConfig: { 'datapath-id': '000000000000df01', 'disable-in-band': 'true' },
      externalIds: { 'df-owned': 'yes' },
      ports: ['br-int'],
    });
    expect((await ovs.vsctl('get-controller', 'br-int')).trim()).toBe(ctlSock);
    expect((await ovs.vsctl('get-fail-mode', 'br-int')).trim()).toBe('secure');
    // vswitchd picked the bridge up with the datapath id we asked for.
    await expect.poll(async () => (await ovs.inNetns('ovs-ofctl', ['-O', 'OpenFlow13', 'show', 'br-int']).catch(() => '')).includes('dpid:000000000000df01'), { timeout: 10_000 }).toBe(true);
    // ... and wrote it to the bridge's datapath_id, where the controller reads the id it accepts.
    await expect.poll(async () => (await vs.getBridge('br-int'))?.datapathId, { timeout: 10_000 }).toBe(0xdf01n);
  });

  it('is idempotent: an identical second call writes nothing and keeps the Controller row and the flows', async () => {
    await ovs.inNetns('ovs-ofctl', ['-O', 'OpenFlow13', 'add-flow', 'br-int', 'table=3,priority=7,cookie=0xdf,actions=drop']);
    const monitor = await client.monitor('Open_vSwitch', { Controller: { columns: ['target'] }, Bridge: { columns: ['controller', 'fail_mode', 'other_config', 'protocols'] } });
    const seen: RowChange[] = [];
    const sub = monitor.changes$.subscribe((b) => seen.push(...b));
    const controllerBefore = [...monitor.rows('Controller').keys()];
    expect(controllerBefore).toHaveLength(1);

    const again = await vs.ensureBridge('br-int', {
      datapathType: 'netdev',
      failMode: 'secure',
      protocols: ['OpenFlow13'],
      controllerTargets: [ctlSock],
      datapathId: 0xdf01n,
      disableInBand: true,
    });
    expect(again).toEqual({ created: false, changed: [] });
    await client.echo(['barrier']);
    expect(seen).toEqual([]);
    expect([...monitor.rows('Controller').keys()]).toEqual(controllerBefore);
    const flows = await ovs.inNetns('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', 'br-int']);
    expect(flows).toMatch(/cookie=0xdf, .*table=3, .*priority=7 actions=drop/);
    sub.unsubscribe();
    await monitor.cancel();
  });

  it('changes only what differs: adds a second controller without touching the first', async () => {
    const before = await client.transact('Open_vSwitch', [{ op: 'select', table: 'Controller', where: [['target', '==', ctlSock]], columns: ['_uuid'] }]);
    const second = `unix:${ovs.dir}/ctl2.sock`;
    const r = await vs.ensureBridge('br-int', { controllerTargets: [ctlSock, second], otherConfig: { 'mac-aging-time': '10' } });
    expect(r).toEqual({ created: false, changed: ['controller', 'other_config'] });
    const after = await client.transact('Open_vSwitch', [{ op: 'select', table: 'Controller', where: [['target', '==', ctlSock]], columns: ['_uuid'] }]);
    expect(after[0]!.rows).toEqual(before[0]!.rows);
    const info = await vs.getBridge('br-int');
    expect(info!.controllerTargets).toEqual([ctlSock, second].sort());
    // Keys not mentioned are kept; the one we changed is updated.
    expect(info!.otherConfig).toEqual({ 'datapath-id': '000000000000df01', 'disable-in-band': 'true', 'mac-aging-time': '10' });
    expect(await vs.ensureBridge('br-int', { controllerTargets: [ctlSock], failMode: 'secure' })).toEqual({ created: false, changed: ['controller'] });
    expect((await vs.getBridge('br-int'))!.controllerTargets).toEqual([ctlSock]);
  });

  it('adds flow-based VXLAN, Geneve and GRE ports that vswitchd numbers', async () => {
    const mon = await InterfaceMonitor.start(client, { bridge: 'br-int' });
    for (const type of ['vxlan', 'geneve', 'gre'] as const) {
      expect(await vs.ensureTunnelPort('br-int', type, { localIp: '192.0.2.1' })).toEqual({ created: true, changed: [] });
      expect(await vs.ensureTunnelPort('br-int', type, { localIp: '192.0.2.1' })).toEqual({ created: false, changed: [] });
      const state = await mon.waitFor((s) => s.name === `tun-${type}` && (s.ofport ?? 0) > 0, 10_000, `tun-${type} to get an ofport`);
      expect(state).toMatchObject({ type, bridge: 'br-int', options: { remote_ip: 'flow', key: 'flow', local_ip: '192.0.2.1' } });
    }
    const show = await ovs.inNetns('ovs-ofctl', ['-O', 'OpenFlow13', 'show', 'br-int']);
    expect(show).toMatch(/tun-vxlan/);
    expect(show).toMatch(/tun-geneve/);
    // Changing an option rewrites the interface's options only.
    expect(await vs.ensureTunnelPort('br-int', 'vxlan', { localIp: '192.0.2.9' })).toEqual({ created: false, changed: ['options'] });
    await expect(vs.ensureTunnelPort('br-int', 'stt' as 'gre')).rejects.toMatchObject({ code: 'OVSDB_INVALID_ARGUMENT' });
    await expect(vs.ensureTunnelPort('br-int', 'gre', { remoteIp: 'not-an-ip', name: 'x' })).rejects.toMatchObject({ code: 'INVALID_IP' });
    await mon.cancel();
  });

  it('adds a fixed-remote tunnel port with BFD beside the flow-based one; vswitchd reports its bfd_status (down: no peer answers)', async () => {
    const mon = await InterfaceMonitor.start(client, { bridge: 'br-int' });
    await vs.ensureTunnelPort('br-int', 'vxlan', {});
    const bfd = { enable: 'true', min_tx: '100', min_rx: '100' };
    expect(await vs.ensureTunnelPort('br-int', 'vxlan', { name: 'bfd-peer', remoteIp: '192.0.2.77', key: '0', bfd })).toEqual({ created: true, changed: [] });
    expect(await vs.ensureTunnelPort('br-int', 'vxlan', { name: 'bfd-peer', remoteIp: '192.0.2.77', key: '0', bfd })).toEqual({ created: false, changed: [] });
    const state = await mon.waitFor((s) => s.name === 'bfd-peer' && (s.ofport ?? 0) > 0 && s.bfdStatus['state'] !== undefined, 10_000, 'bfd-peer to report its bfd_status');
    expect(state.bfdStatus).toMatchObject({ state: 'down', forwarding: 'false' });
    expect(bfdForwarding(state)).toBe(false);
    expect(bfdForwarding((await vs.getInterface('tun-vxlan'))!)).toBeUndefined();
    expect(await vs.ensureTunnelPort('br-int', 'vxlan', { name: 'bfd-peer', remoteIp: '192.0.2.77', key: '0', bfd: { ...bfd, min_rx: '300' } })).toEqual({ created: false, changed: ['bfd'] });
    expect(await ovs.inNetns('ovs-vsctl', ['get', 'Interface', 'bfd-peer', 'bfd:min_rx'])).toMatch(/"?300"?/);
    await expect(vs.ensureTunnelPort('br-int', 'vxlan', { name: 'bfd-flow', bfd })).rejects.toMatchObject({ code: 'OVSDB_INVALID_ARGUMENT' });
    await mon.cancel();
  });

  it('reports a VM port plugged with an iface-id as bound, with its MAC and link state, and its removal', async () => {
    const mon = await InterfaceMonitor.start(client, { bridge: 'br-int' });
    const batches: InterfaceChange[][] = [];
    const sub = mon.changes$.subscribe((b) => batches.push([...b]));
    const ns = ovs.netns!;
    await sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'add', 'tap-vm1', 'type', 'veth', 'peer', 'name', 'vm1-eth0']);
    await sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'tap-vm1', 'address', '02:00:00:00:aa:01', 'up']);
    await sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'vm1-eth0', 'up']);
    const r = await vs.addPort('br-int', 'tap-vm1', { externalIds: { 'iface-id': 'lport-1', 'attached-mac': 'fa:16:3e:00:00:01', 'iface-status': 'active' } });
    expect(r.created).toBe(true);
    const bound = await mon.waitFor((s) => s.name === 'tap-vm1' && isBound(s), 10_000, 'tap-vm1 to be bound');
    expect(bound.ifaceId).toBe('lport-1');
    expect(bound.attachedMac?.equals(MacAddress.parse('fa:16:3e:00:00:01'))).toBe(true);
    const up = await mon.waitFor((s) => s.name === 'tap-vm1' && s.linkState === 'up' && s.macInUse !== undefined, 10_000, 'tap-vm1 link up');
    expect(up.macInUse!.toString()).toBe('02:00:00:00:aa:01');
    expect(up.error).toBeUndefined();
    expect(batches.flat().some((c) => c.kind === 'added' && c.name === 'tap-vm1')).toBe(true);

    // Same call again: nothing written; a different iface-id is an update of external_ids only.
    expect(await vs.addPort('br-int', 'tap-vm1', { externalIds: { 'iface-id': 'lport-1' } })).toEqual({ created: false, changed: [] });
    expect(await vs.addPort('br-int', 'tap-vm1', { externalIds: { 'iface-id': 'lport-2' } })).toEqual({ created: false, changed: ['external_ids'] });
    const moved = await mon.waitFor((s) => s.name === 'tap-vm1' && s.ifaceId === 'lport-2', 5000, 'iface-id change');
    expect(moved.externalIds['attached-mac']).toBe('fa:16:3e:00:00:01');

    const removed = firstValueFrom(mon.changes$);
    expect(await vs.deletePort('br-int', 'tap-vm1')).toBe(true);
    expect((await removed).map((c) => [c.kind, c.name])).toEqual([['removed', 'tap-vm1']]);
    expect(mon.get('tap-vm1')).toBeUndefined();
    expect(await vs.deletePort('br-int', 'tap-vm1')).toBe(false);
    await sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'delete', 'tap-vm1']);
    sub.unsubscribe();
    await mon.cancel();
  });

  it('reports an interface vswitchd cannot open with ofport -1 and its error', { timeout: 30_000 }, async () => {
    await vs.addPort('br-int', 'no-such-dev', {});
    const mon = await InterfaceMonitor.start(client);
    const failed = await vswitchdWrites(mon, 'no-such-dev', (s) => s.ofport === -1, 'ofport -1');
    expect(failed.error).toMatch(/could not open|No such device/i);
    expect(isBound(failed)).toBe(false);
    await vs.deletePort('br-int', 'no-such-dev');
    await mon.cancel();
  });

  it('joins br-int to a provider bridge with a patch pair, both ends up', { timeout: 30_000 }, async () => {
    await vs.ensureBridge('br-ex', { datapathType: 'netdev', failMode: 'standalone' });
    const pair = await vs.ensurePatchPair('br-int', 'br-ex');
    expect(pair).toMatchObject({ portA: 'patch-br-ex', portB: 'patch-br-int', a: { created: true }, b: { created: true } });
    expect(await vs.ensurePatchPair('br-int', 'br-ex')).toMatchObject({ a: { created: false, changed: [] }, b: { created: false, changed: [] } });
    const mon = await InterfaceMonitor.start(client);
    for (const name of ['patch-br-ex', 'patch-br-int']) {
      const s = await vswitchdWrites(mon, name, (x) => (x.ofport ?? 0) > 0 && x.linkState === 'up', `${name} up`);
      expect(s.type).toBe('patch');
    }
    expect(mon.get('patch-br-int')!.bridge).toBe('br-ex');
    expect(mon.get('patch-br-ex')!.options).toEqual({ peer: 'patch-br-int' });
    await mon.cancel();
  });

  it('refuses a port of the same name on another bridge, and a port on a missing bridge', async () => {
    await expect(vs.addPort('br-ex', 'patch-br-ex', { type: 'patch' })).rejects.toMatchObject({ code: 'OVSDB_INVALID_ARGUMENT' });
    await expect(vs.addPort('br-nope', 'p1')).rejects.toThrow(/bridge br-nope does not exist/);
    await expect(vs.ensureBridge('bad name')).rejects.toMatchObject({ code: 'OVSDB_INVALID_ARGUMENT' });
  });

  it('retries when another writer changes the bridge between its read and its write', async () => {
    // Two helpers race on the same bridge: both must end up applied, none clobbered.
    await Promise.all([
      vs.ensureBridge('br-int', { otherConfig: { 'race-a': '1' } }),
      new VswitchDb(client).ensureBridge('br-int', { otherConfig: { 'race-b': '2' } }),
    ]);
    const info = await vs.getBridge('br-int');
    expect(info!.otherConfig['race-a']).toBe('1');
    expect(info!.otherConfig['race-b']).toBe('2');
  });

  it('deletes bridges, and their ports go with them', async () => {
    expect(await vs.deleteBridge('br-ex')).toBe(true);
    expect(await vs.deleteBridge('br-ex')).toBe(false);
    expect(await vs.listBridges()).toEqual(['br-int']);
    const [ports] = await client.transact('Open_vSwitch', [{ op: 'select', table: 'Port', where: [['name', '==', 'patch-br-int']] }]);
    expect(ports!.rows).toEqual([]);
  });
});

describe('VswitchDb on a database without the root row', () => {
  let ovs: TestOvsdbServer;
  let client: OvsdbClient;
  let vs: VswitchDb;

  beforeAll(async () => {
    ovs = await TestOvsdbServer.start();
    client = await OvsdbClient.connect({ remote: ovs.remote });
    vs = new VswitchDb(client);
  });

  afterAll(async () => {
    await client?.close();
    await ovs?.stop();
  });

  const rootRows = async (): Promise<number> => (await client.transact('Open_vSwitch', [{ op: 'select', table: 'Open_vSwitch', where: [], columns: ['_uuid'] }]))[0]!.rows!.length;

  it('deletes nothing and writes nothing: deleteBridge does not create the root row', async () => {
    expect(await rootRows()).toBe(0);
    expect(await vs.deleteBridge('br-x')).toBe(false);
    expect(await rootRows()).toBe(0);
  });

  it('creates the root row together with the first bridge', async () => {
    expect(await vs.ensureBridge('br-a', { failMode: 'secure' })).toEqual({ created: true, changed: [] });
    expect(await rootRows()).toBe(1);
    expect(await vs.listBridges()).toEqual(['br-a']);
    expect((await ovs.vsctl('list-br')).trim()).toBe('br-a');
    expect(await vs.ensureBridge('br-a', { failMode: 'secure' })).toEqual({ created: false, changed: [] });
    expect(await vs.deleteBridge('br-a')).toBe(true);
    expect(await vs.listBridges()).toEqual([]);
  });
});
