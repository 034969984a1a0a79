/**
 * The OpenFlow connection against a real Open vSwitch (userspace datapath) in a
 * temporary directory, with two network namespaces as hosts on veths:
 * handshake and datapath id, port-desc, flow-mods visible in ovs-ofctl, a refused
 * flow-mod matched to its request, packet-in from a namespace, packet-out into a
 * namespace, barriers. Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import { join } from 'node:path';
import { CleanupStack, createNetns, createVethPair, deleteLink, deleteNetns, netnsExec, ping, shortId, startOvs, type OvsInstance } from '@dragonflow/sandbox';
import { OfListener, OfSwitchError, silentLogger, switchChannel, type OfConnection } from '@dragonflow/core/host';
import { ErrorType, OfPort, act, describeOfError, flowMod, formatFlow, type FlowMod, type NxPacketIn2, type PacketIn } from '@dragonflow/openflow';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { icmpEchoRequest, parseFrame } from './frames.js';

const DPID = 0xd0f0e2e0n;
const VM1 = { mac: '02:00:00:00:e2:01', ip: '10.99.0.1' };
const VM2 = { mac: '02:00:00:00:e2:02', ip: '10.99.0.2' };

const cleanup = new CleanupStack();
let ovs: OvsInstance;
let listener: OfListener;
let conn: OfConnection;
let ns1: string;
let ns2: string;
/** Unique per run, so a leftover of a killed run can neither fail nor pass it. */
let BRIDGE: string;

/** The first packet-in matching `pred`, within `ms`. */
function nextPacketIn(pred: (p: PacketIn | NxPacketIn2) => boolean, ms = 10_000): Promise<PacketIn | NxPacketIn2> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`no matching packet-in within ${ms} ms`));
    }, ms);
    const sub = conn.packetIn$.subscribe((p) => {
      if (!pred(p)) return;
      clearTimeout(t);
      sub.unsubscribe();
      resolve(p);
    });
  });
}

const withoutXid = ({ xid: _x, ...rest }: ReturnType<typeof flowMod>): Omit<FlowMod, 'xid'> => rest;

beforeAll(async () => {
  try {
    const tag = shortId();
    BRIDGE = `ofe2e${tag}`.slice(0, 15);
    ovs = await startOvs();
    cleanup.defer('stop ovs', () => ovs.stop());
    // Deleting the bridge first removes its tap devices; stopping vswitchd alone leaves them behind.
    cleanup.defer('delete the bridge', () => ovs.vsctl('--if-exists', 'del-br', BRIDGE));
    listener = await OfListener.start({ logger: silentLogger(), unixPath: join(ovs.dir, 'controller.sock') });
    cleanup.defer('close listener', () => listener.close());
    await ovs.vsctl(
      'add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13',
      `other-config:datapath-id=${DPID.toString(16).padStart(16, '0')}`,
    );
    ns1 = `ofe2e1-${tag}`.slice(0, 15);
    ns2 = `ofe2e2-${tag}`.slice(0, 15);
    for (const [i, ns, vm] of [[1, ns1, VM1], [2, ns2, VM2]] as const) {
      await createNetns(ns);
      cleanup.defer(`delete netns ${ns}`, () => deleteNetns(ns));
      const host = `ofe2e${i}${tag}`.slice(0, 15);
      await createVethPair({ name: 'eth0', netns: ns, mac: vm.mac }, { name: host, netns: ovs.netns });
      // deleting the veth ourselves is synchronous; a deleted namespace frees it only later
      cleanup.defer(`delete veth ${host}`, () => deleteLink('eth0', ns));
      await netnsExec(ns, 'ip', ['addr', 'add', `${vm.ip}/24`, 'dev', 'eth0']);
      await netnsExec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
      await ovs.vsctl('add-port', BRIDGE, host, '--', 'set', 'interface', host, `ofport_request=${i}`);
    }
    // the neighbour entry lets vm2 answer vm1's echo without an ARP round trip
    await netnsExec(ns2, 'ip', ['neigh', 'replace', VM1.ip, 'lladdr', VM1.mac, 'dev', 'eth0']);
    await ovs.vsctl('set-controller', BRIDGE, `unix:${join(ovs.dir, 'controller.sock')}`);
    conn = await listener.waitForSwitch(DPID, 20_000);
  } catch (err) {
    const problems = await cleanup.run();
    throw new Error(`setting up OVS + namespaces failed: ${(err as Error).message}${problems.length ? `; cleanup: ${problems.join('; ')}` : ''}`, { cause: err });
  }
}, 120_000);

afterAll(async () => {
  const problems = await cleanup.run();
  expect(problems).toEqual([]);
});

describe('OpenFlow connection with a real Open vSwitch', () => {
  test('handshake completes and the datapath id equals the bridge’s', async () => {
    expect(conn.currentState).toBe('ready');
    const fromOvs = (await ovs.vsctl('get', 'bridge', BRIDGE, 'datapath_id')).trim().replace(/"/g, '');
    expect(BigInt('0x' + fromOvs)).toBe(conn.datapathId);
    expect(conn.datapathId).toBe(DPID);
  });

  test('port-desc lists the bridge’s ports', async () => {
    const ports = await conn.portDescs();
    expect(ports.map((p) => p.portNo).sort((a, b) => a - b)).toEqual([1, 2, OfPort.LOCAL]);
    expect(ports.find((p) => p.portNo === OfPort.LOCAL)!.name).toBe(BRIDGE);
  });

  test('flow-mods confirmed by a barrier show in ovs-ofctl dump-flows', async () => {
    const channel = switchChannel(conn);
    const flows = Array.from({ length: 50 }, (_, i) => flowMod({ tableId: 5, priority: 100 + i, cookie: 0xe2e0000n + BigInt(i), match: { eth_type: 0x0800, ipv4_dst: `10.98.${i}.0/24` }, actions: [act.decNwTtl(), act.output(2)] }));
    const outcome = await channel.sendBatch(flows.map(withoutXid));
    expect(outcome.errors).toEqual([]);
    // the barrier reply came back, so every flow must already be in the switch
    const text = await ovs.ofctl('-O', 'OpenFlow13', '--no-stats', '--no-names', 'dump-flows', BRIDGE, 'table=5');
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('cookie='));
    expect(lines).toHaveLength(50);
    for (const f of flows) expect(lines).toContain(formatFlow({ ...f }, { stats: false }));
    const readBack = await conn.flowStats({ tableId: 5 });
    expect(readBack.map((f) => f.cookie).sort()).toEqual(flows.map((f) => f.cookie).sort());
  });

  test('a flow-mod with a field OVS refuses yields an error matched to its request', async () => {
    const bad = flowMod({ tableId: 6, priority: 1, cookie: 0xbadn, match: { eth_type: 0x88e7, pbb_isid: 7 } });
    const good = flowMod({ tableId: 6, priority: 2, cookie: 0x600dn, actions: [act.output(1)] });
    const events: unknown[] = [];
    const sub = conn.errors$.subscribe((e) => events.push(e));
    const outcome = await switchChannel(conn).sendBatch([good, bad, good].map(withoutXid));
    sub.unsubscribe();
    expect(outcome.errors).toHaveLength(1);
    expect(outcome.errors[0]!.index).toBe(1);
    expect(describeOfError(outcome.errors[0]!.error)).toBe('OFPET_BAD_MATCH/OFPBMC_BAD_FIELD');
    expect(outcome.errors[0]!.request).toMatchObject({ cookie: 0xbadn });
    expect(events).toMatchObject([{ error: { errorType: ErrorType.BAD_MATCH }, request: { type: 'flow_mod', cookie: 0xbadn } }]);
    // as a request/reply the same refusal rejects with both messages
    const err = await conn.request({ ...withoutXid(bad) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfSwitchError);
    expect((err as OfSwitchError).request).toMatchObject({ type: 'flow_mod', cookie: 0xbadn });
  });

  test('a packet sent from a namespace arrives as a packet-in', async () => {
    const punt = flowMod({ tableId: 0, priority: 10, cookie: 0x1a1n, match: { in_port: 1, eth_type: 0x0806 }, actions: [act.toController()] });
    expect((await switchChannel(conn).sendBatch([withoutXid(punt)])).errors).toEqual([]);
    const arrived = nextPacketIn((p) => p.type === 'packet_in' && p.cookie === 0x1a1n);
    // vm1 resolves vm2's address: its ARP request is punted to us
    const pinging = ping(ns1, VM2.ip, { count: 1, timeoutSec: 1 });
    const p = (await arrived) as PacketIn;
    await pinging; // no process may outlive the test inside the namespace
    expect(p.match.in_port?.value).toBe(1);
    expect(p.tableId).toBe(0);
    const f = parseFrame(p.data);
    expect(f.ethType).toBe(0x0806);
    expect(f.srcMac).toBe(VM1.mac);
  });

  test('a packet-out reaches another namespace (which answers)', async () => {
    const punt = flowMod({ tableId: 0, priority: 10, cookie: 0x2a2n, match: { in_port: 2, eth_type: 0x0800, ip_proto: 1 }, actions: [act.toController()] });
    expect((await switchChannel(conn).sendBatch([withoutXid(punt)])).errors).toEqual([]);
    const payload = new TextEncoder().encode('dragonflow packet-out e2e');
    const reply = nextPacketIn((p) => p.type === 'packet_in' && p.cookie === 0x2a2n && parseFrame(p.data).icmp?.type === 0);
    const echo = icmpEchoRequest({ srcMac: VM1.mac, dstMac: VM2.mac, srcIp: VM1.ip, dstIp: VM2.ip, id: 0x4446, seq: 7, payload });
    await conn.send({ type: 'packet_out', bufferId: 0xffffffff, inPort: OfPort.CONTROLLER, actions: [act.output(2)], data: echo });
    await conn.barrier();
    const got = parseFrame((await reply).data);
    expect(got.icmp).toMatchObject({ type: 0, id: 0x4446, seq: 7 });
    expect(new TextDecoder().decode(got.icmp!.payload)).toBe('dragonflow packet-out e2e');
    expect(got.srcMac).toBe(VM2.mac);
  });

  test('a role request is answered', async () => {
    expect(await conn.requestRole('equal')).toMatchObject({ role: 'equal' });
  });
});
