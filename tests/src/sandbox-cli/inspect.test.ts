/**
 * The operator commands on a real sandbox, as a user runs them: `dfctl status`, `df
 * flows` and `dfctl trace` against `pnpm dfctl sandbox up` (default apps: l2 and
 * l3-proactive) with two networks behind a router made by the openstack CLI; i1 on
 * net1 (chassis-1), i2 on net2 (chassis-2 only).
 *
 * - status: every part ok (exit 0), per controller and for the whole sandbox; a
 *   stopped controller makes it say so (exit 1).
 * - flows: the same flows ovs-ofctl sees, each in a named table with a known app,
 *   every keyed owner resolved to its NB object; the routed-to egress and routes.
 * - trace: a routed packet through chassis-1's tables, each named, each flow's
 *   owner named, ending in a tunnel push on net2's VNI with TTL 63.
 *
 * Needs root, Open vSwitch and the openstack CLI (./scripts/setup). Never skips.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { pingStats } from '../sandbox/traffic.js';
import { df, dfOk, readServicesFile, useDfSandbox } from './df-cli.js';

interface JsonFlow {
  table: number;
  tableName?: string;
  priority: number;
  match: string;
  actions: string;
  cookie: string;
  owner: { app?: string; kind?: string; tag: number; candidates: { owner: string; name?: string }[] };
}
interface JsonTrace {
  hops: { table: number; tableName?: string; priority?: number; owner?: string }[];
  datapathActions?: string;
}

const s = useDfSandbox([], { prepare: requireOpenstackCli });
const { auth, env } = s;
const ids: Record<string, string> = {};
let net2Segment = 0;
let routerMacNet1 = '';

beforeAll(async () => {
  const a = auth();
  for (const n of ['1', '2']) {
    const net = await ok<{ id: string; 'provider:segmentation_id': number }>(a, ['network', 'create', `inet${n}`]);
    ids[`inet${n}`] = net.id;
    if (n === '2') net2Segment = net['provider:segmentation_id'];
    await ok(a, ['subnet', 'create', '--network', `inet${n}`, '--subnet-range', `10.41.${n}.0/24`, `isub${n}`]);
  }
  ids['ir'] = (await ok<{ id: string }>(a, ['router', 'create', 'ir'])).id;
  await quiet(a, ['router', 'add', 'subnet', 'ir', 'isub1']);
  await quiet(a, ['router', 'add', 'subnet', 'ir', 'isub2']);
  routerMacNet1 = (await ok<{ 'MAC Address': string }[]>(a, ['port', 'list', '--device-owner', 'network:router_interface', '--network', 'inet1']))[0]!['MAC Address'];
  for (const [name, net, chassis, ip] of [
    ['i1', 'inet1', 1, '10.41.1.11'],
    ['i2', 'inet2', 2, '10.41.2.22'],
  ] as const) {
    await s.vmCreate(name, net, chassis, ip);
    ids[name] = (await ok<{ id: string }>(a, ['port', 'show', name])).id;
  }
  // routed across the chassis (the first packet may be spent on the underlay's ARP)
  await pingStats(s.vm('i1'), '10.41.2.22', 1);
  expect((await pingStats(s.vm('i1'), '10.41.2.22', 3)).received).toBe(3);
}, 600_000);

describe('dfctl status, dfctl flows, dfctl trace on a sandbox (l2 + l3-proactive, openstack CLI)', () => {
  test('dfctl status: the sandbox and each controller ok (exit 0), also read from one management socket', async () => {
    const r = await df(['status', '--sandbox', s.place().dir]);
    expect(r.code).toBe(0);
    const tag = s.sandbox().tag;
    expect(r.stdout).toContain(`sandbox ${tag} (${s.place().dir}): ok`);
    for (const c of [1, 2]) expect(r.stdout).toMatch(new RegExp(`chassis-${c}: ok \\(netns ${tag}-c${c}, df-controller pid \\d+\\)`));
    expect(r.stdout.match(/ {2}apps {6}@dragonflow\/app-l2, @dragonflow\/app-portsec, @dragonflow\/app-sg, @dragonflow\/app-dhcp, @dragonflow\/app-l3-proactive/g)).toHaveLength(2);
    expect(r.stdout.match(/ {2}ports {5}1 ACTIVE of 1 plugged/g)).toHaveLength(2);
    expect(r.stdout.match(/ {2}OpenFlow {2}connected, datapath/g)).toHaveLength(2);
    const json = JSON.parse(await dfOk(['status', '--json'], { env: env() })) as { healthy: boolean; chassis: unknown[] };
    expect([json.healthy, json.chassis.length]).toEqual([true, 2]);
    const mgmt = readServicesFile(s.place().dir).controllers[0]!.management;
    const one = await df(['status', '--management', mgmt]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`df-controller chassis-1 (${mgmt}): ok`);
  }, 60_000);

  test('dfctl flows: every flow ovs-ofctl sees, in a named table, with its app; every keyed owner resolved to its NB object', async () => {
    const flows = JSON.parse(await dfOk(['flows', '--sandbox', s.place().dir, '--chassis', '1', '--json'])) as JsonFlow[];
    const sb = s.sandbox();
    const ofctl = await sb.chassis(1).ofctl('dump-flows', sb.chassis(1).state.integrationBridge);
    const theirs = [...ofctl.matchAll(/cookie=(0x[0-9a-f]+)/g)].map((m) => m[1]!).sort();
    expect(flows.map((f) => f.cookie).sort()).toEqual(theirs);
    expect(flows.filter((f) => f.tableName === undefined || f.owner.app === undefined)).toEqual([]);
    expect(flows.filter((f) => f.owner.kind !== 'hash' && f.owner.candidates.length !== 1)).toEqual([]);
    const owned = (table: string, owner: string) => flows.filter((f) => f.tableName === table && f.owner.candidates.some((c) => c.owner === owner));
    expect(owned('core.classify', `port:${ids['i1']}`)).toHaveLength(1);
    // net2 has no port on chassis-1: i2 gets only its egress there (routed to), and its route
    expect(owned('l2.egress', `port:${ids['i2']}`)).toHaveLength(1);
    expect(flows.filter((f) => f.owner.candidates.some((c) => c.owner === `port:${ids['i2']}`) && f.tableName?.startsWith('l2.')).map((f) => f.tableName)).toEqual(['l2.egress']);
    expect(owned('l3-proactive.routing', `port:${ids['i2']}`)).toHaveLength(1);
    expect(owned('l3-proactive.ingress', `router:${ids['ir']}`).length).toBeGreaterThan(0);
    expect(owned('l2.flood', `network:${ids['inet1']}`).length).toBeGreaterThan(0);
    // the text form, with a filter, from the sandbox that DF_SANDBOX_DIR names
    const text = await dfOk(['flows', '--chassis', '1', '--table', 'l2.egress'], { env: env() });
    expect(text).toMatch(/^chassis-1 of sandbox \w+ \(.*\): \d+ of \d+ flows$/m);
    expect(text).toMatch(/^table \d+ {2}l2\.egress {2}\(stage egress, miss: next\)$/m);
    expect(text).toContain(`l2 · port i2 (${ids['i2']!.slice(0, 8)})`);
  }, 60_000);

  test('dfctl trace: a routed packet through chassis-1, each table and each flow’s owner named, out on net2’s VNI with TTL 63', async () => {
    const sb = s.sandbox();
    const i1 = sb.vm('i1');
    const flow = `in_port=${await i1.ofport()},icmp,dl_src=${i1.mac},dl_dst=${routerMacNet1},nw_src=10.41.1.11,nw_dst=10.41.2.22,nw_ttl=64`;
    const t = JSON.parse(await dfOk(['trace', '--sandbox', s.place().dir, '--chassis', '1', '--json', flow])) as JsonTrace;
    const hop = (name: string) => t.hops.find((h) => h.tableName === name);
    expect(t.hops.map((h) => h.tableName)).toEqual(expect.arrayContaining(['core.classify', 'l2.lookup', 'l3-proactive.ingress', 'l3-proactive.routing', 'l2.egress']));
    expect(t.hops.indexOf(hop('l3-proactive.routing')!)).toBeLessThan(t.hops.indexOf(hop('l2.egress')!));
    expect(hop('core.classify')!.owner).toBe(`core · port i1 (${ids['i1']!.slice(0, 8)})`);
    expect(hop('l3-proactive.ingress')!.owner).toBe(`l3-proactive · router ir (${ids['ir']!.slice(0, 8)})`);
    expect(hop('l3-proactive.routing')!.owner).toBe(`l3-proactive · port i2 (${ids['i2']!.slice(0, 8)})`);
    expect(hop('l2.egress')!.owner).toBe(`l2 · port i2 (${ids['i2']!.slice(0, 8)})`);
    expect(t.datapathActions).toContain('set(ipv4(ttl=63))');
    expect(t.datapathActions).toContain(`vni=0x${net2Segment.toString(16)})`);
    const text = await dfOk(['trace', '--chassis', '1', flow], { env: env() });
    expect(text).toContain(`⤷ table l2.egress (egress) — flow of l2 · port i2 (${ids['i2']!.slice(0, 8)})`);
    expect(text).toContain('bridge("br-int")');
  }, 60_000);

  test('dfctl status: a stopped controller makes it say so, exit status 1', async () => {
    await dfOk(['sandbox', 'controller', 'stop', '2'], { env: env() });
    const r = await df(['status'], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^sandbox \w+ \(.*\): NOT OK$/m);
    expect(r.stdout).toMatch(/^chassis-2: df-controller NOT RUNNING/m);
    expect(r.stdout).toMatch(/^chassis-1: ok/m);
    const two = await df(['status', '--management', readServicesFile(s.place().dir).controllers[1]!.management]);
    expect(two.code).toBe(1);
    expect(two.stderr).toContain('no answer from the controller at unix:');
  }, 60_000);
});
