/**
 * A FakeSwitch and a real Open vSwitch bridge (userspace datapath) side by side, for
 * cross-checks that need state to build up (conntrack, meters, port liveness): the
 * same requests go to both, the same packets are sent to both as packet-outs to
 * OFPP_TABLE (the real datapath runs conntrack, NAT, recirculation and meters on
 * them), and what each sends the controller back is compared.
 */
import { errorCodeName, oxmField, oxmValueToBigInt, OfPort, act, flowMod, type FlowModInit, type PacketIn } from '@dragonflow/openflow';
import type { SwitchAsyncMessage, SwitchChannel, SwitchRequest } from '@dragonflow/core/host';
import { encodeEthernet, ethernet, type EthernetFrame } from '@dragonflow/packet';
import { run } from '@dragonflow/sandbox';
import { FakeSwitch } from '@dragonflow/testing';
import { datapathPorts, startOvsBridge, vswitchd, type OvsBridge } from './ovs-bridge.js';

export interface SwitchPair {
  readonly b: OvsBridge;
  readonly fake: FakeSwitch;
  fakeChannel: SwitchChannel;
  /** OpenFlow port of each datapath port, for reading ofproto/trace. */
  dpPorts: Map<number, number>;
}

/**
 * A real bridge with internal ports 1..n and a FakeSwitch with the same ports. An
 * internal port's device starts down on the real switch while the FakeSwitch's
 * ports start up, so the real links are brought up first: both start alike.
 */
export async function startPair(prefix: string, dpid: bigint, ports = 4): Promise<SwitchPair> {
  const b = await startOvsBridge({ ports, dpid, prefix });
  const fake = new FakeSwitch({ ports: Array.from({ length: ports }, (_, i) => i + 1) });
  const p: SwitchPair = { b, fake, fakeChannel: fake.connect(), dpPorts: await datapathPorts(b) };
  for (let port = 1; port <= ports; port++) {
    const name = await portName(p, port);
    // The kernel side of an internal port sends its own IPv6 packets once up (router
    // solicitations, MLD reports, for seconds): they would enter the real bridge beside a
    // test's packets, and a test matching IPv6 would see punts the FakeSwitch never got.
    await run('sysctl', ['-q', '-w', `net.ipv6.conf.${name}.disable_ipv6=1`], { netns: b.ovs.netns });
    const live = portStatuses(b.channel, port, (state) => (state & 4) !== 0);
    await b.ovs.ofctl('-O', 'OpenFlow13', 'mod-port', b.ovs.mgmtSocket(b.bridge), name, 'up');
    await live;
  }
  return p;
}

/** The port-status messages of one port ("reason config/state"), up to the one whose state `settled` accepts. */
function portStatuses(channel: SwitchChannel, port: number, settled: (state: number) => boolean): Promise<string[]> {
  const seen: string[] = [];
  return new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`port ${port} did not settle within 10 s (port-status seen: ${seen.join(', ') || 'none'})`));
    }, 10_000);
    const sub = channel.messages$.subscribe((m: SwitchAsyncMessage) => {
      if (m.type !== 'port_status' || m.port.portNo !== port) return;
      seen.push(`${m.reason} ${m.port.config}/${m.port.state}`);
      if (settled(m.port.state)) {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(seen);
      }
    });
  });
}

/** A flow-mod request (add unless `command` says otherwise). */
export function fm(init: FlowModInit): SwitchRequest {
  const { xid: _xid, ...rest } = flowMod(init);
  return rest;
}

/** Sends the requests to both switches; the OpenFlow errors each sent, by request index and name. */
export async function sendBoth(p: SwitchPair, requests: readonly SwitchRequest[]): Promise<{ real: string[]; fake: string[] }> {
  const names = (o: { errors: readonly { index: number; error: { errorType: number; code: number } }[] }) => o.errors.map((e) => `${e.index} ${errorCodeName(e.error.errorType, e.error.code)}`);
  const real = names(await p.b.channel.sendBatch(requests));
  const fake = names(await p.fakeChannel.sendBatch(requests));
  return { real, fake };
}

/** Empties both switches: flows, groups, meters, conntrack. */
export async function resetBoth(p: SwitchPair): Promise<void> {
  const requests: SwitchRequest[] = [
    fm({ tableId: 0xff, command: 'delete' }),
    { type: 'group_mod', command: 'delete', groupType: 'all', groupId: 0xfffffffc, buckets: [] },
    { type: 'meter_mod', command: 'delete', flags: 0, meterId: 0xffffffff, bands: [] },
  ];
  const errors = await sendBoth(p, requests);
  if (errors.real.length || errors.fake.length) throw new Error(`reset failed: ${JSON.stringify(errors)}`);
  await vswitchd(p.b, 'dpctl/flush-conntrack');
  p.fake.flushConntrack();
}

/** What the controller got for one packet: table, cookie, reason, the frame and the conntrack fields. */
export interface Punt {
  readonly table: number;
  readonly cookie: string;
  readonly frame: string;
  readonly ct: Record<string, string>;
}

const CT_FIELDS = ['ct_state', 'ct_zone', 'ct_mark', 'ct_label', 'ct_nw_proto', 'ct_nw_src', 'ct_nw_dst', 'ct_ipv6_src', 'ct_ipv6_dst', 'ct_tp_src', 'ct_tp_dst'] as const;

function punt(m: PacketIn): Punt {
  const ct: Record<string, string> = {};
  const rec = m.match as Record<string, { value: unknown } | undefined>;
  for (const f of CT_FIELDS) {
    const e = rec[f];
    if (e !== undefined) ct[f] = `0x${oxmValueToBigInt(oxmField(f)!, e.value).toString(16)}`;
  }
  return { table: m.tableId, cookie: `0x${m.cookie.toString(16)}`, frame: Buffer.from(m.data).toString('hex'), ct };
}

/** A frame no flow of the cross-checks matches, sent straight to the controller after a packet: once it is in, every packet-in of the packet is. */
const MARKER = ethernet({ src: '02:00:00:00:00:ee', dst: '02:00:00:00:00:ef', payload: { kind: 'raw', etherType: 0x88b5, data: new Uint8Array(46) } });

function packetOut(frame: EthernetFrame | Uint8Array, inPort: number, actions = [act.output(OfPort.TABLE)]): SwitchRequest {
  return { type: 'packet_out', bufferId: 0xffffffff, inPort, actions, data: frame instanceof Uint8Array ? frame : encodeEthernet(frame) };
}

/** Sends `frames` in one batch, then a marker; the packet-ins before the marker came back (packet-ins come in order). */
async function puntsOf(channel: SwitchChannel, frames: readonly EthernetFrame[], inPort: number): Promise<Punt[]> {
  const got: PacketIn[] = [];
  const marker = encodeEthernet(MARKER);
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error('the marker packet-in did not come back within 10 s'));
    }, 10_000);
    const sub = channel.messages$.subscribe((m: SwitchAsyncMessage) => {
      if (m.type !== 'packet_in') return;
      if (Buffer.from(m.data).equals(Buffer.from(marker))) {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve();
      } else got.push(m);
    });
  });
  const outcome = await channel.sendBatch([...frames.map((f) => packetOut(f, inPort)), packetOut(marker, inPort, [act.toController()])]);
  if (outcome.errors.length) throw new Error(`packet-out refused: ${JSON.stringify(outcome.errors.map((e) => e.error))}`);
  await done;
  return got.map(punt);
}

/** Sends `frame` into both switches on `inPort`; what each punted. */
export async function puntBoth(p: SwitchPair, frame: EthernetFrame, inPort: number): Promise<{ real: Punt[]; fake: Punt[] }> {
  return { real: await puntsOf(p.b.channel, [frame], inPort), fake: await puntsOf(p.fakeChannel, [frame], inPort) };
}

/** The OpenFlow ports `ofproto/trace` outputs the packet to, and the FakeSwitch's trace's, sorted. */
export async function tracePorts(p: SwitchPair, frame: EthernetFrame, inPort: number): Promise<{ real: number[]; fake: number[]; text: string }> {
  const text = await vswitchd(p.b, 'ofproto/trace', p.b.bridge, `in_port=${inPort}`, Buffer.from(encodeEthernet(frame)).toString('hex'));
  const dp = /^Datapath actions: (.*)$/m.exec(text)?.[1];
  if (dp === undefined) throw new Error(`no datapath actions in the trace:\n${text}`);
  const real = dp
    .split(/,(?![^()]*\))/)
    .map((a) => a.trim())
    .filter((a) => /^\d+$/.test(a))
    .map((a) => p.dpPorts.get(Number(a))!)
    .sort((x, y) => x - y);
  const fake = p.fake.trace(frame, inPort).ports.sort((x, y) => x - y);
  return { real, fake, text };
}

/** Sends all the frames in one batch (back to back, so a meter's bucket barely refills between them); the packet-ins of each switch, in order. */
export async function puntBurstBoth(p: SwitchPair, frames: readonly EthernetFrame[], inPort: number): Promise<{ real: Punt[]; fake: Punt[] }> {
  return { real: await puntsOf(p.b.channel, frames, inPort), fake: await puntsOf(p.fakeChannel, frames, inPort) };
}

/** The real bridge's interface with OpenFlow port number `port`. */
export async function portName(p: SwitchPair, port: number): Promise<string> {
  const name = (await p.b.ovs.vsctl('--bare', '--columns=name', 'find', 'interface', `ofport=${port}`)).trim();
  if (!name) throw new Error(`no interface with ofport ${port}`);
  return name;
}

/**
 * Takes a port's link down (or up) on both switches, as `ovs-ofctl mod-port BRIDGE
 * PORT down|up` does; resolves once the real switch has reported the link state
 * (port-status with LINK_DOWN, or LIVE), so liveness has settled. Returns the
 * port-status messages each switch sent, as "config/state".
 */
export async function setPortBoth(p: SwitchPair, port: number, up: boolean): Promise<{ real: string[]; fake: string[] }> {
  const settled = (state: number) => (up ? (state & 4) !== 0 : (state & 1) !== 0);
  const real = portStatuses(p.b.channel, port, settled);
  const fake = portStatuses(p.fakeChannel, port, settled);
  await p.b.ovs.ofctl('-O', 'OpenFlow13', 'mod-port', p.b.ovs.mgmtSocket(p.b.bridge), await portName(p, port), up ? 'up' : 'down');
  p.fake.setPortUp(port, up);
  return { real: await real, fake: await fake };
}
