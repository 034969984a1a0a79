/**
 * The L2 app's flows on a real Open vSwitch (userspace datapath), driven by the
 * runtime exactly as df-controller drives it (NB local cache, bindings, infra
 * ports): every flow is accepted (ARP rewrites with move, tunnel set-fields,
 * VLAN push/pop, flood resubmit chains), the switch holds exactly the desired
 * flows, and packets traced with `ofproto/trace` do what the FakeSwitch tests say:
 * local unicast, ARP answered back out of the asking port, tunnel and VLAN egress
 * and ingress, broadcast to every local port plus one tunnel copy per chassis.
 * Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import { ManualClock } from '@dragonflow/base';
import { CoreMetrics, startChassisRuntime, type ChassisRuntime, type ControllerRuntime } from '@dragonflow/core/host';
import { ChassisRegistry, MemoryDriver, NbApi, chassisIdFromName, type ChassisRegistration } from '@dragonflow/nb';
import { arpRequest, encodeEthernet, ethernet, icmpEchoRequest, ipv4, neighborSolicitation, type EthernetFrame } from '@dragonflow/packet';
import { requireBinary, run } from '@dragonflow/sandbox';
import { capture } from '../sandbox/traffic.js';
import l2 from '@dragonflow/app-l2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startOvsBridge, traceOutputs, type OvsBridge } from '../fakeswitch/ovs-bridge.js';

const DPID = 0xdf0012a2n;
const CHASSIS = 'l2-ovs';
const VXLAN_OFPORT = 10;
/** An internal port standing in for the provider patch port of physnet1. */
const PATCH = 3;
const mac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
const BCAST = 'ff:ff:ff:ff:ff:ff';

let b: OvsBridge;
let driver: MemoryDriver;
let nb: NbApi;
let runtime: ControllerRuntime;
let chassis: ChassisRuntime | undefined;
let metrics: CoreMetrics;
let peer: ChassisRegistration;

const icmp = (s: number, d: string, sip: string, dip: string): EthernetFrame => ethernet({ src: mac(s), dst: d, payload: ipv4({ src: sip, dst: dip, payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });

const trace = (flowSpec: string, frame: EthernetFrame): ReturnType<typeof traceOutputs> => traceOutputs(b, flowSpec, encodeEthernet(frame));

beforeAll(async () => {
  requireBinary('ovs-ofctl');
  b = await startOvsBridge({ ports: 5, dpid: DPID, prefix: 'l2' });
  await b.ovs.vsctl('add-port', b.bridge, `vx${b.bridge}`.slice(0, 15), '--', 'set', 'interface', `vx${b.bridge}`.slice(0, 15), 'type=vxlan', 'options:remote_ip=flow', 'options:key=flow', `ofport_request=${VXLAN_OFPORT}`);
  driver = MemoryDriver.create();
  nb = await NbApi.open(driver);
  const registry = new ChassisRegistry(nb, { ttlMs: 600_000 });
  const chassisId = chassisIdFromName(CHASSIS);
  await nb.create('chassis', { id: chassisId, name: CHASSIS, tunnelIp: '192.0.2.1', tunnelTypes: ['vxlan'] });
  peer = await registry.register({ name: 'peer', tunnelIp: '192.0.2.2', tunnelTypes: ['vxlan'], bridgeMappings: { physnet1: 'br-ex' } });
  // net1: VXLAN 5001 — vm1 (port 1), vm2 (port 2) here, vm3 on the peer
  const net1 = await nb.create('logical_switch', { name: 'net1', networkType: 'vxlan', segmentationId: 5001 });
  const sub1 = await nb.create('subnet', { networkId: net1.id, cidr: '10.0.0.0/24', ipVersion: 4 });
  // net2: VLAN 100 on physnet1 — vm4 (port 4) here, vm5 on the peer
  const net2 = await nb.create('logical_switch', { name: 'net2', networkType: 'vlan', segmentationId: 100, physicalNetwork: 'physnet1' });
  const sub2 = await nb.create('subnet', { networkId: net2.id, cidr: '10.0.0.0/24', ipVersion: 4 });
  const port = (sub: { id: string; networkId: string }, n: number, ip: string, chassis: string) =>
    nb.create('logical_port', { networkId: sub.networkId, macAddress: mac(n), fixedIps: [{ subnetId: sub.id, ipAddress: ip }], chassisId: chassis });
  const sub6 = await nb.create('subnet', { networkId: net1.id, cidr: 'fd00::/64', ipVersion: 6 });
  const vm1 = await nb.create('logical_port', {
    networkId: net1.id,
    macAddress: mac(1),
    fixedIps: [
      { subnetId: sub1.id, ipAddress: '10.0.0.1' },
      { subnetId: sub6.id, ipAddress: 'fd00::1' },
    ],
    chassisId,
  });
  const vm2 = await port(sub1, 2, '10.0.0.2', chassisId);
  await port(sub1, 3, '10.0.0.3', peer.chassis.id);
  const vm4 = await port(sub2, 4, '10.0.0.4', chassisId);
  await port(sub2, 5, '10.0.0.5', peer.chassis.id);

  metrics = new CoreMetrics();
  chassis = await startChassisRuntime({
    driver,
    apps: [{ package: '@dragonflow/app-l2', descriptor: l2, options: undefined }],
    chassisId,
    metrics,
    clock: new ManualClock(),
    beforeStart: ({ runtime: r }) => {
      for (const [p, ofport] of [
        [vm1, 1],
        [vm2, 2],
        [vm4, 4],
      ] as const)
        r.bindPort({ kind: 'bound', portId: p.id, ofport, interfaceName: `p${ofport}` });
      r.setInfraPorts({ tunnels: { vxlan: VXLAN_OFPORT }, providers: { physnet1: PATCH } });
    },
  });
  runtime = chassis.runtime;
  await runtime.attachSwitch(b.channel);
  await runtime.waitForRevision(await driver.currentRevision());
  await runtime.settle();
}, 120_000);

afterAll(async () => {
  await chassis?.stop();
  await peer?.stop();
  await nb?.close();
  await driver?.close();
  const problems = await b?.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

describe('the L2 app on a real Open vSwitch', () => {
  test('every flow is accepted and the switch holds exactly the desired set', async () => {
    expect((await metrics.switchErrors.get()).values.reduce((n, v) => n + v.value, 0)).toBe(0);
    const flows = await b.channel.dumpFlows();
    expect(flows.length).toBe(runtime.reconciler.desiredCount);
    expect(runtime.reconciler.ownersOf('l2').length).toBeGreaterThan(5);
  });

  test('local unicast: vm1 → vm2 leaves on port 2 only', async () => {
    expect((await trace('in_port=1', icmp(1, mac(2), '10.0.0.1', '10.0.0.2'))).outputs).toEqual([2]);
  });

  test('ARP for vm2 is answered by the switch back out of vm1’s port, headers rewritten', async () => {
    const t = await trace('in_port=1', arpRequest({ srcMac: mac(1), srcIp: '10.0.0.1', targetIp: '10.0.0.2' }));
    expect(t.datapath).toContain(`set(eth(src=${mac(2)},dst=${mac(1)}))`);
    expect(t.datapath).toMatch(new RegExp(`set\\(arp\\(sip=10\\.0\\.0\\.2,tip=10\\.0\\.0\\.1,op=2,sha=${mac(2)},tha=${mac(1)}\\)\\)`));
    expect(t.outputs).toEqual([1]);
  });

  test('an IPv6 neighbour solicitation for vm1 goes to the controller (for the NA), not to any port', async () => {
    const t = await trace('in_port=2', neighborSolicitation({ srcMac: mac(2), srcIp: 'fd00::2', targetIp: 'fd00::1' }));
    expect(t.text).toMatch(/CONTROLLER|controller\(/);
    expect(t.outputs).toEqual([]);
  });

  test('… and the app answers it: a real NS punted by OVS comes back out of the asking port as the NA', async () => {
    const dev = `${b.bridge}p2`.slice(0, 15);
    await run('ip', ['link', 'set', 'dev', dev, 'up'], { netns: b.ovs.netns });
    const ns = neighborSolicitation({ srcMac: mac(2), srcIp: 'fd00::2', targetIp: 'fd00::1' });
    // the NS enters the pipeline as if it came from port 2 (a packet-out to OFPP_TABLE)
    const seen = await capture(b.ovs.netns, dev, 'icmp6 and ip6[40] == 136', 1, () => runtime.app('l2').flows.packetOut({ data: encodeEthernet(ns), inPort: 2 }), 8000);
    expect(seen).toContain(`${mac(1)} > ${mac(2)}`);
    expect(seen).toMatch(/fd00::1 > fd00::2: \[icmp6 sum ok\] ICMP6, neighbor advertisement, length \d+, tgt is fd00::1/);
    expect(seen).toMatch(/Flags \[solicited, override\]/);
  });

  test('to a port on the peer: tunnel key 5001 and the peer’s tunnel IP, out of the VXLAN port', async () => {
    const t = await trace('in_port=1', icmp(1, mac(3), '10.0.0.1', '10.0.0.3'));
    expect(t.text).toContain('set_field:0x1389->tun_id');
    expect(t.text).toContain('set_field:192.0.2.2->tun_dst');
    expect(t.text).toMatch(new RegExp(`output:${VXLAN_OFPORT}\\b`));
  });

  test('from the VXLAN port with key 5001: delivered to the local port only', async () => {
    expect((await trace(`in_port=${VXLAN_OFPORT},tun_id=5001,tun_src=192.0.2.2,tun_dst=192.0.2.1`, icmp(3, mac(1), '10.0.0.3', '10.0.0.1'))).outputs).toEqual([1]);
    expect((await trace(`in_port=${VXLAN_OFPORT},tun_id=5002,tun_src=192.0.2.2,tun_dst=192.0.2.1`, icmp(3, mac(1), '10.0.0.3', '10.0.0.1'))).outputs).toEqual([]);
  });

  test('broadcast from vm1: vm2, and one tunnel copy to the peer; from the tunnel: local ports only', async () => {
    const t = await trace('in_port=1', icmp(1, BCAST, '10.0.0.1', '10.0.0.255'));
    expect(t.outputs).toEqual([2]);
    expect(t.text.match(/set_field:192\.0\.2\.2->tun_dst/g)).toHaveLength(1);
    const back = await trace(`in_port=${VXLAN_OFPORT},tun_id=5001,tun_src=192.0.2.2,tun_dst=192.0.2.1`, icmp(3, BCAST, '10.0.0.3', '10.0.0.255'));
    expect(back.outputs).toEqual([1, 2]);
    expect(back.text).not.toContain('->tun_dst');
  });

  test('VLAN provider network: tagged out of the patch port, popped on the way in; never across to the VXLAN network', async () => {
    const out = await trace('in_port=4', icmp(4, mac(5), '10.0.0.4', '10.0.0.5'));
    expect(out.datapath).toMatch(/push_vlan\(vid=100,pcp=0\)/);
    expect(out.outputs).toEqual([PATCH]);
    const inbound = await trace(`in_port=${PATCH}`, ethernet({ src: mac(5), dst: mac(4), vlan: 100, payload: ipv4({ src: '10.0.0.5', dst: '10.0.0.4', payload: icmpEchoRequest({}) }) }));
    expect(inbound.datapath).toContain('pop_vlan');
    expect(inbound.outputs).toEqual([4]);
    // same CIDR on both networks: vm4's broadcast reaches neither vm1 nor vm2
    const bcast = await trace('in_port=4', icmp(4, BCAST, '10.0.0.4', '10.0.0.255'));
    expect(bcast.outputs).toEqual([PATCH]);
    expect(bcast.text).not.toContain('->tun_dst');
  });

  test('unplugging vm2 removes its flows from the switch; its MAC then floods like any unknown one', async () => {
    const before = (await b.channel.dumpFlows()).length;
    const vm2 = (await nb.reader.list('logical_port')).find((p) => p.macAddress === mac(2))!;
    runtime.bindPort({ kind: 'unbound', portId: vm2.id });
    await runtime.settle();
    const after = await b.channel.dumpFlows();
    expect(after.length).toBe(runtime.reconciler.desiredCount);
    // core classify + dispatch, l2 lookup + ARP + ARP self-skip
    expect(before - after.length).toBe(5);
    expect((await trace('in_port=1', icmp(1, mac(2), '10.0.0.1', '10.0.0.2'))).outputs).toEqual([]);
  });
});
