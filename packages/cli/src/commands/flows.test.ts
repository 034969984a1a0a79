import l2 from '@dragonflow/app-l2';
import l3 from '@dragonflow/app-l3-proactive';
import { OWNER_KINDS, PIPELINE_OWNER, allocatePipeline, makeCookie, ownerHash } from '@dragonflow/core/host';
import { shortId, startOvs, type OvsInstance } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpOf } from '../../test/help.js';
import { OwnerIndex } from '../inspect/owners.js';
import { resolveInspectTarget } from '../inspect/target.js';
import { dumpFlows, filterFlows, formatFlows, nameFlows } from './flows.js';

const pipeline = allocatePipeline([l2, l3].map((a) => ({ app: a.name, tables: a.tables ?? {}, registers: a.registers ?? [] })));
const t = (name: string): number => pipeline.table(name).id;
const hex = (c: bigint): string => `0x${c.toString(16)}`;

const VM1 = 'port:11111111-0000-4000-8000-000000000005';
const NET = 'network:22222222-0000-4000-8000-000000000001';
const ROUTER = 'router:33333333-0000-4000-8000-000000000001';
const cookies = {
  classify: makeCookie(0, 5, OWNER_KINDS.port),
  miss: makeCookie(0, ownerHash(PIPELINE_OWNER)),
  lookup: makeCookie(pipeline.app('l2').slot, 5, OWNER_KINDS.port),
  flood: makeCookie(pipeline.app('l2').slot, 1, OWNER_KINDS.network),
  routing: makeCookie(pipeline.app('l3-proactive').slot, 1, OWNER_KINDS.router),
};

/**
 * A real Open vSwitch bridge with flows put there by ovs-ofctl (as a controller
 * would, with Dragonflow cookies), read back over the bridge's management socket
 * with our codec and named from the pipeline of l2 + l3-proactive.
 */
describe('dfctl flows: a switch’s flows, decoded, with table names and owners', () => {
  let ovs: OvsInstance | undefined;
  const bridge = `dfflows${shortId(4)}`.slice(0, 15);

  beforeAll(async () => {
    ovs = await startOvs();
    await ovs.vsctl('add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13');
    const add = (table: number, cookie: bigint, rest: string) => ovs!.ofctl('-O', 'OpenFlow13', 'add-flow', bridge, `table=${table},cookie=${hex(cookie)},${rest}`);
    await add(t('core.classify'), cookies.classify, `priority=100,in_port=LOCAL,actions=set_field:5->reg6,write_metadata:0x1/0xffffffff,goto_table:${t('l2.arp-responder')}`);
    await add(t('core.classify'), cookies.miss, `priority=0,actions=goto_table:${t('l2.tunnel-ingress')}`);
    await add(t('l2.lookup'), cookies.lookup, `priority=100,metadata=0x1/0xffffffff,dl_dst=fa:16:3e:00:00:05,actions=set_field:5->reg7,goto_table:${t('l2.egress')}`);
    await add(t('l2.flood'), cookies.flood, 'priority=100,metadata=0x1/0xffffffff,actions=drop');
    await add(t('l3-proactive.routing'), cookies.routing, 'priority=132,ip,reg5=1,nw_dst=10.0.2.3,actions=dec_ttl,set_field:7->reg7');
  }, 60_000);

  afterAll(async () => {
    await ovs?.stop();
  }, 30_000);

  function index(): OwnerIndex {
    const i = OwnerIndex.empty();
    i.add(VM1, 'vm1', 5);
    i.add(NET, 'blue', 1);
    i.add(ROUTER, 'r1', 1);
    return i;
  }

  it('reads every flow over the management socket, the same set ovs-ofctl shows', async () => {
    const stats = await dumpFlows(`unix:${ovs!.mgmtSocket(bridge)}`);
    expect(stats).toHaveLength(5);
    const ofctl = await ovs!.ofctl('-O', 'OpenFlow13', 'dump-flows', bridge);
    const cookiesThere = [...ofctl.matchAll(/cookie=(0x[0-9a-f]+)/g)].map((m) => m[1]).sort();
    expect(stats.map((s) => hex(s.cookie)).sort()).toEqual(cookiesThere);
  });

  it('names each flow’s table and its owner (app and object, the cookie’s kind deciding between colliding keys)', async () => {
    const flows = nameFlows(await dumpFlows(`unix:${ovs!.mgmtSocket(bridge)}`), pipeline, index());
    expect(flows.map((f) => [f.table, f.tableName, f.priority, f.owner.app, f.owner.candidates.map((c) => c.owner)])).toEqual([
      [t('core.classify'), 'core.classify', 100, 'core', [VM1]],
      [t('core.classify'), 'core.classify', 0, 'core', [PIPELINE_OWNER]],
      [t('l2.lookup'), 'l2.lookup', 100, 'l2', [VM1]],
      [t('l2.flood'), 'l2.flood', 100, 'l2', [NET]],
      [t('l3-proactive.routing'), 'l3-proactive.routing', 132, 'l3-proactive', [ROUTER]],
    ]);
    const routing = flows.find((f) => f.tableName === 'l3-proactive.routing')!;
    expect(routing.match).toBe('ip,reg5=0x1,nw_dst=10.0.2.3');
    expect(routing.actions).toBe('dec_ttl,set_field:0x7->reg7');
    const text = formatFlows(flows, pipeline).join('\n');
    expect(text).toContain(`table ${t('l2.lookup')}  l2.lookup  (stage l2-lookup, miss: next)\n    100 metadata=0x1/0xffffffff,dl_dst=fa:16:3e:00:00:05 → set_field:0x5->reg7,goto_table:${t('l2.egress')}\n        l2 · port vm1 (11111111)   cookie ${hex(cookies.lookup)}, 0 packets`);
    expect(text).toContain('      0 (any) → goto_table:1\n        core · pipeline [table miss]');
  });

  it('filters by table (number or name), app and text', async () => {
    const flows = nameFlows(await dumpFlows(`unix:${ovs!.mgmtSocket(bridge)}`), pipeline, index());
    expect(filterFlows(flows, { table: 'routing' }).map((f) => f.tableName)).toEqual(['l3-proactive.routing']);
    expect(filterFlows(flows, { table: String(t('l2.flood')) }).map((f) => f.tableName)).toEqual(['l2.flood']);
    expect(filterFlows(flows, { app: 'core' })).toHaveLength(2);
    expect(filterFlows(flows, { grep: 'vm1' }).map((f) => f.tableName)).toEqual(['core.classify', 'l2.lookup']);
    expect(filterFlows(flows, { app: 'l2', grep: 'blue' }).map((f) => f.tableName)).toEqual(['l2.flood']);
  });

  it('without a pipeline map or an NB: table numbers, app slots and tags', async () => {
    const flows = nameFlows(await dumpFlows(`unix:${ovs!.mgmtSocket(bridge)}`), undefined, OwnerIndex.empty());
    const text = formatFlows(flows, undefined).join('\n');
    expect(text).toContain(`table ${t('l2.lookup')}\n`);
    expect(text).toContain(`app slot ${pipeline.app('l2').slot} · port with key 5 (not in the NB)`);
  });

  it('--bridge-socket: a missing socket, or both ways of naming a switch, are refused with a reason', () => {
    expect(() => resolveInspectTarget({ bridgeSocket: '/nonexistent/br-int.mgmt' }, 'dfctl flows')).toThrow(/\/nonexistent\/br-int\.mgmt does not exist/);
    expect(() => resolveInspectTarget({ bridgeSocket: ovs!.mgmtSocket(bridge), chassis: 1 }, 'dfctl flows')).toThrow(/either --sandbox\/--chassis or --bridge-socket, not both/);
    expect(() => resolveInspectTarget({}, 'dfctl flows')).toThrow(/say which switch: --chassis N .* or --bridge-socket PATH/);
    expect(resolveInspectTarget({ bridgeSocket: ovs!.mgmtSocket(bridge) }, 'dfctl flows')).toMatchObject({ bridge, bridgeSocket: `unix:${ovs!.mgmtSocket(bridge)}`, config: undefined });
  });

  it('a socket nobody answers on is reported as such', async () => {
    await expect(dumpFlows(`unix:${ovs!.dir}/nothing-here.mgmt`)).rejects.toThrow(/cannot open unix:.*nothing-here\.mgmt \(is ovs-vswitchd running/);
  });

  it('--help explains the output and both ways of naming a switch', () => {
    const help = helpOf('flows').replace(/\s+/g, ' ');
    for (const s of ['Usage: dfctl flows [options]', '--sandbox <dir>', '--chassis <n>', '--bridge-socket <path>', '--config <file>', '--table <table>', '--app <app>', '--grep <text>', '--json', '"app · owner" from its cookie', 'dfctl flows --bridge-socket /var/run/openvswitch/br-int.mgmt']) expect(help).toContain(s);
  });
});
