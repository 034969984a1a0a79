/**
 * A FakeSwitch and a real Open vSwitch bridge (userspace datapath) side by side, for
 * cross-checks that need state to build up (conntrack, meters, port liveness): the
 * same requests go to both, the same packets are sent to both as packet-outs to
 * OFPP_TABLE (the real datapath runs conntrack, NAT, recirculation and meters on
 * them), and what each sends the controller back is compared.
 */
import { errorCodeName, oxmField, oxmValueToBigInt, OfPort, act, flowMod, type FlowModInit, type PacketIn } from '@dragonflow/openflow';
import type { SwitchAsyncMessage, SwitchChannel, SwitchRequest } from '@dragonflow/core';
import { encodeEthernet, ethernet, type EthernetFrame } from '@dragonflow/packet';
import { FakeSwitch } from '@dragonflow/testing';
import { datapathPorts, startOvsBridge, vswitchd, type OvsBridge } from './ovs-bridge.js';

export interface SwitchPair {
  readonly b: OvsBridge;
  readonly fake: FakeSwitch;
  fakeChannel: SwitchChannel;
  /** OpenFlow port of each datapath port, for reading ofproto/trace. */
  dpPorts: Map<number, number>;
}

export async function startPair(prefix: string, dpid: bigint, ports = 4): Promise<SwitchPair> {
  const b = await startOvsBridge({ ports, dpid, prefix });
  const fake = new FakeSwitch({ ports: Array.from({ length: ports }, (_, i) => i + 1) });
  return { b, fake, fakeChannel: fake.connect(), dpPorts: await datapathPorts(b) };
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

const CT_FIELDS = ['ct_state', 'ct_zone', 'ct_mark', 'ct_label', 'ct_nw_proto', 'ct_nw_src', 'ct_nw_dst', 'ct_tp_src', 'ct_tp_dst'] as const;

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

async function puntsOf(channel: SwitchChannel, frame: EthernetFrame, inPort: number): Promise<Punt[]> {
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
  const outcome = await channel.sendBatch([packetOut(frame, inPort), packetOut(marker, inPort, [act.toController()])]);
  if (outcome.errors.length) throw new Error(`packet-out refused: ${JSON.stringify(outcome.errors.map((e) => e.error))}`);
  await done;
  return got.map(punt);
}

/** Sends `frame` into both switches on `inPort`; what each punted. */
export async function puntBoth(p: SwitchPair, frame: EthernetFrame, inPort: number): Promise<{ real: Punt[]; fake: Punt[] }> {
  return { real: await puntsOf(p.b.channel, frame, inPort), fake: await puntsOf(p.fakeChannel, frame, inPort) };
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
