/**
 * The controller's switch setup (ensureSwitch) on a real ovsdb-server and
 * ovs-vswitchd: a tunnel type taken out of the config loses the port the controller
 * made for it; a port of the same name the controller did not make is left alone;
 * a second run with the same config writes nothing. Needs Open vSwitch
 * (./scripts/setup); never skips.
 */
import { TUNNEL_MARK, ensureSwitch, type SwitchSpec } from '@dragonflow/controller';
import { silentLogger } from '@dragonflow/core/host';
import { OvsdbClient, VswitchDb } from '@dragonflow/ovsdb';
import { createNetns, deleteNetns, shortId, startOvs, type OvsInstance } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let ovs: OvsInstance;
let client: OvsdbClient;
let vs: VswitchDb;
// vswitchd in a namespace of its own: the netdev datapath's devices go with it
const netns = `dfsws${shortId(6)}`;

const spec = (tunnelTypes: SwitchSpec['tunnelTypes']): SwitchSpec => ({ integrationBridge: 'br-int', datapathType: 'netdev', controllerTarget: 'unix:/nonexistent/controller.sock', tunnelTypes, mappings: {} });

beforeAll(async () => {
  await createNetns(netns);
  ovs = await startOvs({ netns });
  client = await OvsdbClient.connect({ remote: ovs.dbRemote });
  vs = new VswitchDb(client);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await ovs?.stop();
  await deleteNetns(netns);
});

describe('ensureSwitch: tunnel ports follow the configured types', () => {
  test('a type taken out of the config loses its port; a same-named port the controller did not make stays; a rerun writes nothing', async () => {
    const first = await ensureSwitch(vs, spec(['vxlan', 'geneve']), silentLogger());
    expect([first.tunnels['vxlan']?.created, first.tunnels['geneve']?.created, first.removedTunnels]).toEqual([true, true, []]);
    expect((await vs.getInterface('tun-geneve'))?.externalIds[TUNNEL_MARK]).toBe('geneve');
    // an operator's own GRE port under the controller's naming
    await vs.ensureTunnelPort('br-int', 'gre');

    const second = await ensureSwitch(vs, spec(['vxlan']), silentLogger());
    expect(second.removedTunnels).toEqual(['tun-geneve']);
    expect((await vs.getBridge('br-int'))?.ports).toEqual(['br-int', 'tun-gre', 'tun-vxlan']);
    expect(await ovs.vsctl('list-ports', 'br-int')).toBe('tun-gre\ntun-vxlan\n');

    const third = await ensureSwitch(vs, spec(['vxlan']), silentLogger());
    expect([third.bridge.changed, third.tunnels['vxlan'], third.removedTunnels]).toEqual([[], { created: false, changed: [] }, []]);
  });

  test('a tunnel port made before ports were marked gets the mark, and is then managed like the others', async () => {
    await vs.ensureTunnelPort('br-int', 'geneve');
    const marked = await ensureSwitch(vs, spec(['vxlan', 'geneve']), silentLogger());
    expect(marked.tunnels['geneve']).toEqual({ created: false, changed: ['external_ids'] });
    expect((await ensureSwitch(vs, spec(['vxlan']), silentLogger())).removedTunnels).toEqual(['tun-geneve']);
  });
});

describe('ensureSwitch: a standby pair on one bridge', () => {
  test("each controller keeps the other's target in the Controller list; neither rewrites the other's row", async () => {
    const a: SwitchSpec = { ...spec(['vxlan']), controllerTarget: 'unix:/nonexistent/a.sock', peerTargets: ['unix:/nonexistent/b.sock'] };
    const b: SwitchSpec = { ...spec(['vxlan']), controllerTarget: 'unix:/nonexistent/b.sock', peerTargets: ['unix:/nonexistent/a.sock'] };
    const first = await ensureSwitch(vs, a, silentLogger());
    expect(first.bridge.changed).toContain('controller');
    const rows = await ovs.vsctl('--columns=_uuid,target', 'list', 'Controller');
    expect((await ovs.vsctl('get-controller', 'br-int')).trim().split('\n').sort()).toEqual(['unix:/nonexistent/a.sock', 'unix:/nonexistent/b.sock']);
    // the peer's setup finds the same set: nothing written, the rows (and vswitchd's connections) untouched
    expect((await ensureSwitch(vs, b, silentLogger())).bridge.changed).toEqual([]);
    expect((await ensureSwitch(vs, a, silentLogger())).bridge.changed).toEqual([]);
    expect(await ovs.vsctl('--columns=_uuid,target', 'list', 'Controller')).toBe(rows);
    // a controller alone again (no ha) takes the peer out
    await ensureSwitch(vs, { ...a, peerTargets: [] }, silentLogger());
    expect((await ovs.vsctl('get-controller', 'br-int')).trim()).toBe('unix:/nonexistent/a.sock');
  });
});
