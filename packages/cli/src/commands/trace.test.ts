import { readFileSync } from 'node:fs';
import l2 from '@dragonflow/app-l2';
import l3 from '@dragonflow/app-l3-proactive';
import dhcp from '@dragonflow/app-dhcp';
import sg from '@dragonflow/app-sg';
import type { SecurityGroup } from '@dragonflow/nb';
import { allocatePipeline } from '@dragonflow/core/host';
import { describe, expect, it } from 'vitest';
import { helpOf } from '../../test/help.js';
import { OwnerIndex } from '../inspect/owners.js';
import { annotateTrace } from './trace.js';

/**
 * `ovs-appctl ofproto/trace` output from chassis-1 of a `dfctl demo --keep` sandbox
 * (apps l2, l3-proactive): vm1 (port key 5, demo-net1 key 1) pings vm3 (port key 7,
 * demo-net2, on chassis-2) through demo-router (key 1; its demo-net1 interface port
 * has key 3), and vm1 sends to an unknown MAC (flooded).
 */
const routed = readFileSync(new URL('../../test/trace-routed.txt', import.meta.url), 'utf8');
const flooded = readFileSync(new URL('../../test/trace-flood.txt', import.meta.url), 'utf8');

const pipeline = allocatePipeline([l2, l3].map((a) => ({ app: a.name, tables: a.tables ?? {}, registers: a.registers ?? [] })));

function owners(): OwnerIndex {
  const index = OwnerIndex.empty();
  index.add('port:df31fdf8-0000-4000-8000-000000000001', 'vm1', 5);
  index.add('port:fe2b80be-0000-4000-8000-000000000003', undefined, 3, 'network:router_interface');
  index.add('port:9f49394a-0000-4000-8000-000000000007', 'vm3', 7);
  index.add('network:254b3be3-0000-4000-8000-000000000001', 'demo-net1', 1);
  index.add('router:c00febd0-0000-4000-8000-000000000001', 'demo-router', 1);
  return index;
}

describe('dfctl trace: ofproto/trace annotated with table names and flow owners', () => {
  it('a routed packet: each table of br-int named, each matched flow’s app and object named from its cookie', () => {
    const t = annotateTrace(routed, 'br-int', pipeline, owners());
    expect(t.hops.map((h) => [h.table, h.tableName, h.priority, h.owner])).toEqual([
      [0, 'core.classify', 100, 'core · port vm1 (df31fdf8)'],
      [3, 'l2.arp-responder', 0, 'core · pipeline [table miss]'],
      [4, 'l2.nd-responder', 0, 'core · pipeline [table miss]'],
      [5, 'l2.lookup', 100, 'l2 · port fe2b80be-0000-4000-8000-000000000003 [network:router_interface]'],
      [8, 'l3-proactive.ingress', 100, 'l3-proactive · router demo-router (c00febd0)'],
      [9, 'l3-proactive.routing', 132, 'l3-proactive · port vm3 (9f49394a)'],
      [11, 'l2.egress', 100, 'l2 · port vm3 (9f49394a)'],
    ]);
    expect(t.hops[0]!.match).toBe('in_port=3');
    expect(t.datapathActions).toMatch(/set\(ipv4\(ttl=63\)\),tnl_push\(.*vxlan\(flags=0x8000000,vni=0x2\)\),out_port\(1\)\)/);
    // every line of OVS's output is kept, in order, with one note after each table line
    const text = t.lines.join('\n');
    expect(t.lines.filter((l) => !l.includes('⤷'))).toEqual(routed.split('\n'));
    expect(text).toContain(' 9. ip,reg5=0x1,nw_dst=10.0.2.3, priority 132, cookie 0x201000000000007\n     ⤷ table l3-proactive.routing (l3) — flow of l3-proactive · port vm3 (9f49394a)\n    set_field:fa:16:3e:b6:69:73->eth_src');
  });

  it('tables of other bridges (the underlay’s br-phy) are not the controller’s and get no note', () => {
    const t = annotateTrace(routed, 'br-int', pipeline, owners());
    const phy = t.lines.slice(t.lines.indexOf('bridge("br-phy")'));
    expect(phy.some((l) => l.includes('⤷'))).toBe(false);
    expect(t.hops.every((h) => h.tableName !== undefined)).toBe(true);
  });

  it('nested resubmits (a flood) are annotated at their depth; a text owner stays a tag', () => {
    const t = annotateTrace(flooded, 'br-int', pipeline, owners());
    expect(t.hops.map((h) => [h.table, h.tableName])).toEqual([
      [0, 'core.classify'],
      [3, 'l2.arp-responder'],
      [4, 'l2.nd-responder'],
      [5, 'l2.lookup'],
      [6, 'l2.flood'],
      [7, 'l2.flood-ports'],
      [12, 'core.dispatch'],
    ]);
    expect(t.hops[4]!.owner).toBe('l2 · network demo-net1 (254b3be3)');
    expect(t.hops[5]!.owner).toBe('l2 · #0xf36385dc (an owner named by text)');
    const i = t.lines.findIndex((l) => l.startsWith('        12. reg7=0x5'));
    expect(t.lines[i + 1]).toBe('            ⤷ table core.dispatch (dispatch) — flow of core · port vm1 (df31fdf8)');
  });

  it('a table where nothing matched, and no pipeline map: numbers only', () => {
    const t = annotateTrace('bridge("br-int")\n----------------\n 0. No match.\n    drop\n', 'br-int', undefined, OwnerIndex.empty());
    expect(t.hops).toEqual([{ table: 0, tableName: undefined, match: undefined, priority: undefined, owner: undefined }]);
    expect(t.lines[3]).toBe('     ⤷ table 0 — no flow matched');
  });

  it('--help says what FLOW is and how to pick the switch', () => {
    const help = helpOf('trace').replace(/\s+/g, ' ');
    for (const s of ['Usage: dfctl trace [options] <flow>', '--sandbox <dir>', '--chassis <n>', '--config <file>', '--appctl-target <path>', '--json', 'ofproto/trace', "FLOW is ofproto/trace's packet description"]) expect(help).toContain(s);
  });
});

/**
 * `dfctl trace` on chassis-1 of a one-chassis sandbox with the apps l2, sg, dhcp and
 * l3-proactive (the ⤷ notes taken out: what ovs-appctl printed): t1 (port key 2,
 * the default group) sends TCP to t2 (key 3, group web: ingress tcp 8000, made with
 * the openstack CLI) on port 8000 (let through) and 8001 (dropped).
 */
describe('dfctl trace: security group verdicts named by group and rule', () => {
  const sgAllowed = readFileSync(new URL('../../test/trace-sg-allowed.txt', import.meta.url), 'utf8');
  const sgDropped = readFileSync(new URL('../../test/trace-sg-dropped.txt', import.meta.url), 'utf8');
  // The traces were captured when the dhcp app had one table (`dhcp`, before its IPv6
  // `ra` and `dhcpv6`): its pipeline then numbers them.
  const dhcpAsCaptured = { ...dhcp, tables: { services: (dhcp.tables?.services ?? []).filter((t) => t.name === 'dhcp') } };
  const sgPipeline = allocatePipeline([l2, sg, dhcpAsCaptured, l3].map((a) => ({ app: a.name, tables: a.tables ?? {}, registers: a.registers ?? [] })));
  const DEFAULT = 'cf34f435-01b3-55a6-9492-ab516aeff84b';
  const WEB = '2841afcf-d86a-41dd-b9b6-ba29eaf59c9c';
  const rule = (id: string, r: Partial<SecurityGroup['rules'][number]>) => ({ id, direction: 'ingress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null, remoteGroupId: null, description: '', ...r }) as SecurityGroup['rules'][number];
  function sgOwners(): OwnerIndex {
    const index = OwnerIndex.empty();
    index.add('port:5dd8eaee-8e54-4ec0-bff4-11d08388f9f6', 't1', 2);
    index.add('port:cf6708ff-57a7-44ff-a77e-befb11801a95', 't2', 3);
    index.addRules(DEFAULT, {
      name: 'default',
      rules: [rule('e4b0f319-8cdc-5bde-8a60-05db7012d524', { direction: 'egress' }), rule('33e86f5d-6c5e-553e-bc21-7b52ba4db545', { remoteGroupId: DEFAULT })],
    });
    index.addRules(WEB, { name: 'web', rules: [rule('a7b16724-5c55-4063-bad2-0f1850bc5610', { protocol: 'tcp', portRangeMin: 8000, portRangeMax: 8000, remoteIpPrefix: '0.0.0.0/0' })] });
    return index;
  }

  it('a packet let through: the egress rule of its sender and the ingress rule of its receiver are named, conntrack in both zones', () => {
    const t = annotateTrace(sgAllowed, 'br-int', sgPipeline, sgOwners());
    const sgHops = t.hops.filter((h) => h.tableName?.startsWith('sg.')).map((h) => [h.tableName, h.priority, h.owner]);
    expect(sgHops).toEqual([
      ['sg.from-port', 100, 'sg · port t1 (5dd8eaee)'],
      ['sg.from-port-rules', 200, `sg · sg group default, rule egress IPv4 (${DEFAULT.slice(0, 8)})`],
      ['sg.from-port-commit', 100, expect.stringMatching(/^sg · #0x[0-9a-f]{8} \(an owner named by text\)$/)],
      ['sg.to-port', 100, 'sg · port t2 (cf6708ff)'],
      ['sg.to-port-rules', 200, `sg · sg group web, rule ingress IPv4 tcp 8000 from 0.0.0.0/0 (${WEB.slice(0, 8)})`],
      ['sg.to-port-commit', 100, expect.stringMatching(/^sg · #0x/)],
    ]);
    expect(t.datapathActions).toBe('ct(commit,zone=3),8');
  });

  it('a packet no rule allows: the trace ends in the receiver’s rules table on the deny flow', () => {
    const t = annotateTrace(sgDropped, 'br-int', sgPipeline, sgOwners());
    expect(t.hops.at(-1)).toMatchObject({ tableName: 'sg.to-port-rules', priority: 50, match: 'reg2=0x10000/0x10000' });
    expect(t.hops.map((h) => h.owner).filter((o) => o?.includes(', rule '))).toEqual([`sg · sg group default, rule egress IPv4 (${DEFAULT.slice(0, 8)})`]);
    expect(t.datapathActions).toBe('drop');
  });
});
