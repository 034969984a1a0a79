// The sandbox's external network (`Sandbox.create({ external: true })`, `dfctl sandbox up
// --external`): the public segment, the outside namespace on it, chassis joining it with
// their own provider bridge next to physnet1's, and real packets from a chassis' public
// bridge to the upstream router and to the internet host beyond it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvsdbClient, VswitchDb } from '@dragonflow/ovsdb';
import { EXTERNAL, Sandbox, listNetns, run } from '@dragonflow/sandbox';

describe('sandbox external network', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await Sandbox.create({ external: true });
    await sandbox.createChassis(1, { tunnelTypes: ['vxlan'], external: true });
    await sandbox.createChassis(2, { tunnelTypes: ['vxlan'] });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.destroy();
  });

  it('builds the outside namespace: the upstream router on the public segment, the internet host beyond it', async () => {
    const outside = sandbox.outside();
    expect(outside.netns).toBe(`${sandbox.tag}-outside`);
    expect((await outside.exec('ip', ['-4', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(`inet ${EXTERNAL.routerIp}/24`);
    expect((await outside.exec('ip', ['-4', 'addr', 'show', 'dev', 'inet0'])).stdout).toContain(`inet ${EXTERNAL.internetIp}/24`);
    expect((await run('ip', ['link', 'show', 'master', 'br-public'], { netns: sandbox.state.fabric.netns })).stdout).toMatch(/c1-pb[\s\S]*outside|outside[\s\S]*c1-pb/);
    expect((await sandbox.status()).outside).toEqual({ netns: outside.netns, present: true, routerIp: '172.24.4.1/24', internetIp: '198.51.100.10/24' });
  });

  it('gives a chassis that joins it a public provider bridge beside physnet1, each with its own patch pair', async () => {
    const c1 = sandbox.chassis(1);
    expect(c1.state.external).toEqual({ physnet: 'public', bridge: 'br-public', device: 'pb0', patchOnIntegration: 'patch-br-public', patchOnProvider: 'patch-br-int-br-public' });
    expect(sandbox.chassis(2).state.external).toBeUndefined();
    const client = await OvsdbClient.connect({ remote: c1.state.ovsdbRemote });
    try {
      const vs = new VswitchDb(client);
      expect(await vs.listBridges()).toEqual(['br-ex', 'br-int', 'br-phy', 'br-public']);
      expect((await vs.getBridge('br-public'))!.ports).toEqual(['br-public', 'patch-br-int-br-public', 'pb0']);
      expect((await vs.getBridge('br-int'))!.ports).toEqual(['br-int', 'patch-br-ex', 'patch-br-public', 'tun-vxlan']);
      expect(await vs.getInterface('patch-br-public')).toMatchObject({ type: 'patch', options: { peer: 'patch-br-int-br-public' } });
    } finally {
      await client.close();
    }
  });

  it('carries real packets from a chassis\' public bridge to the upstream router and, through it, to the internet host', async () => {
    const c1 = sandbox.chassis(1);
    // br-public's own (LOCAL) port stands for a host on the provider network for this test.
    await run('ip', ['addr', 'add', '172.24.4.250/24', 'dev', 'br-public'], { netns: c1.netns });
    await run('ip', ['link', 'set', 'br-public', 'up'], { netns: c1.netns });
    await run('ip', ['route', 'add', EXTERNAL.internetCidr, 'via', EXTERNAL.routerIp], { netns: c1.netns });
    try {
      const toRouter = await run('ping', ['-c', '2', '-W', '2', EXTERNAL.routerIp], { netns: c1.netns, allowFailure: true });
      expect(toRouter.stdout).toContain('2 received');
      const toInternet = await run('ping', ['-c', '2', '-W', '2', EXTERNAL.internetIp], { netns: c1.netns, allowFailure: true });
      expect(toInternet.stdout).toContain('2 received');
      // physnet1 is another wire: the router is not on it
      expect((await run('ip', ['link', 'show', 'master', 'br-provider'], { netns: sandbox.state.fabric.netns })).stdout).not.toContain('outside');
    } finally {
      await run('ip', ['route', 'del', EXTERNAL.internetCidr], { netns: c1.netns, allowFailure: true });
      await run('ip', ['addr', 'del', '172.24.4.250/24', 'dev', 'br-public'], { netns: c1.netns, allowFailure: true });
    }
  });

  it('refuses a chassis on the external network of a sandbox made without one, naming the fix', async () => {
    const plain = await Sandbox.create();
    try {
      await expect(plain.createChassis(1, { external: true })).rejects.toMatchObject({ code: 'SANDBOX_NO_EXTERNAL' });
      expect(() => plain.outside()).toThrow(/--external/);
    } finally {
      await plain.destroy();
    }
  });

  it('removes the outside namespace with the rest', async () => {
    const other = await Sandbox.create({ external: true });
    const ns = other.outside().netns;
    expect(await listNetns()).toContain(ns);
    await other.destroy();
    expect(await listNetns()).not.toContain(ns);
  });
});
