import { isDfError } from '@dragonflow/base';
import { APP_CONTEXT, PUNT_SUPPRESS_PRIORITY, REG_SRC_PORT, defineApp, flow, inject, injectable, type AppContext, type AppDescriptor, type AppPacketIn } from '@dragonflow/core';
import { validateApps } from '@dragonflow/core/host';
import { decodeEthernet, ethernet, ipv4, udp, type EthernetFrame } from '@dragonflow/packet';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

const UDP_ECHO = { eth_type: 0x0800, ip_proto: 17, udp_dst: 7 } as const;

/**
 * A toy responder: UDP echo (port 7) answered by the controller, built as any
 * third-party app would use the punt path: its `echo` table punts UDP/7 (and lets
 * everything else through), the core guards it, `ctx.reply` answers.
 */
@injectable()
class UdpEcho {
  answered = 0;
  /** The packet-ins handled, as the app got them. */
  readonly seen: AppPacketIn[] = [];
  constructor(@inject(APP_CONTEXT) readonly ctx: AppContext) {}

  resync(): void {
    this.ctx.flows.replace('echo', [flow(this.ctx.tables.ref('echo'), { priority: 100, match: UDP_ECHO, ...this.ctx.punt.toController() })]);
  }

  async packetIn(ev: AppPacketIn): Promise<void> {
    this.seen.push(ev);
    const f = ev.frame;
    const ip = f?.payload.kind === 'ipv4' ? f.payload : undefined;
    const u = ip?.payload.kind === 'udp' ? ip.payload : undefined;
    if (!f || !ip || !u) return;
    const answer = ethernet({ src: f.dst, dst: f.src, payload: ipv4({ src: ip.dst, dst: ip.src, payload: udp({ srcPort: 7, dstPort: u.srcPort, payload: u.payload }) }) });
    if (await this.ctx.reply(ev, answer)) this.answered++;
  }
}

const udpEcho = defineApp({
  name: 'udp-echo',
  coreApi: '^1.2.0',
  tables: { services: [{ name: 'echo', match: [REG_SRC_PORT, 'eth_type', 'ip_proto', 'udp_dst'] }] },
  punt: { tables: [{ name: 'echo', match: UDP_ECHO }], limits: { rate: 1, burst: 3, suppressSeconds: 4 } },
  app: UdpEcho,
  resync: (app) => app.resync(),
  handlers: { packetIn: (app, ev) => app.packetIn(ev) },
});

const MAC = (n: number) => `fa:16:3e:00:00:0${n}`;
const datagram = (n: number, dstPort = 7): EthernetFrame => ethernet({ src: MAC(n), dst: MAC(9), payload: ipv4({ src: `10.0.0.${n}`, dst: '10.0.0.9', payload: udp({ srcPort: 4000 + n, dstPort, payload: 'hello' }) }) });

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function twoPorts(): Promise<Harness> {
  const hh = await startHarness({ apps: [udpEcho] });
  const sub = await hh.subnet(await hh.network('net'), '10.0.0.0/24');
  await hh.plug(await hh.port(sub, '10.0.0.1', MAC(1)), 1);
  await hh.plug(await hh.port(sub, '10.0.0.2', MAC(2)), 2);
  await hh.settle();
  return hh;
}

const app = (hh: Harness) => hh.runtime.app('udp-echo').instance as UdpEcho;

describe('the core punt path', () => {
  it('ctx.reply sends the answer back out of the port the punt came in on, and nowhere else', async () => {
    h = await twoPorts();
    const before = h.fakeSwitch.delivered.length;
    const t = await h.inject(datagram(2), 2);
    expect(t.packetIns).toHaveLength(1);
    const out = h.fakeSwitch.delivered.slice(before);
    expect(out.map((d) => d.port)).toEqual([2]);
    const ip = out[0]!.frame.payload;
    expect(ip.kind === 'ipv4' ? [ip.src.toString(), ip.dst.toString()] : []).toEqual(['10.0.0.9', '10.0.0.2']);
    // a packet that did not come from a local port (no source port key) gets no answer
    expect(await app(h).ctx.reply({ inPort: 2, sourcePortKey: 0 }, datagram(9))).toBe(false);
    // a frame that cannot be encoded is a rejection (never a throw), and nothing is sent
    const bad = datagram(9);
    const unencodable: EthernetFrame = { ...bad, payload: { ...(bad.payload as ReturnType<typeof ipv4>), options: new Uint8Array(3) } };
    const sent = h.fakeSwitch.delivered.length;
    const echo = app(h);
    let reply: Promise<boolean> | undefined;
    expect(() => (reply = echo.ctx.reply({ inPort: 2, sourcePortKey: 5 }, unencodable))).not.toThrow();
    await expect(reply).rejects.toThrow(/IPv4 options/);
    await h.settle();
    expect(h.fakeSwitch.delivered.length).toBe(sent);
  });

  it("a packet-in's frame is the decode of its bytes, made once when first read", async () => {
    h = await twoPorts();
    await h.inject(datagram(1), 1);
    const ev = app(h).seen[0]!;
    expect(ev.frame).toEqual(decodeEthernet(ev.data));
    expect(ev.frame).toBe(ev.frame);
    expect(ev.frame?.src.toString()).toBe(MAC(1));
  });

  it('a port over its budget is cut off in the switch for its punts only, another port is still answered, and it recovers', async () => {
    h = await twoPorts();
    const vm1 = (await h.nb.reader.list('logical_port')).find((p) => p.macAddress === MAC(1))!;
    for (let i = 0; i < 10; i++) h.fakeSwitch.inject(datagram(1), 1);
    await h.settle();
    expect(app(h).answered).toBe(3);
    expect(h.runtime.puntStats()).toEqual({ 'udp-echo': { punts: 3, rateLimited: 7, suppressions: 1 } });
    // the suppression flow: the core's, in the app's punt table, for vm1's key and what the table punts
    const cut = h.trace(datagram(1), 1);
    expect(cut.packetIns).toEqual([]);
    expect(cut.hops.at(-1)?.flow).toMatchObject({ priority: PUNT_SUPPRESS_PRIORITY, app: 'udp-echo' });
    expect(cut.hops.at(-1)?.flow?.match[REG_SRC_PORT]?.value).toBe(vm1.key);
    // vm1's other traffic goes on past the punt table
    expect(h.trace(datagram(1, 9), 1).hops.map((x) => x.tableName)).toContain('core.dispatch');
    // vm2 is answered
    await h.inject(datagram(2), 2);
    expect(app(h).answered).toBe(4);
    // an app resync does not sweep the core's suppression
    h.runtime.app('udp-echo').requestResync('test');
    await h.settle();
    expect(h.trace(datagram(1), 1).packetIns).toEqual([]);
    // the hard timeout runs out: vm1 is answered again
    h.clock.advance(4_000);
    await h.settle();
    await h.inject(datagram(1), 1);
    expect(app(h).answered).toBe(5);
  });

  it('a suppression in force survives a controller restart untouched (zero flow-mods) and still expires', async () => {
    h = await twoPorts();
    for (let i = 0; i < 10; i++) h.fakeSwitch.inject(datagram(1), 1);
    await h.settle();
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(h.fakeSwitch.stats.flowMods).toBe(0);
    expect(h.trace(datagram(1), 1).packetIns).toEqual([]);
    h.clock.advance(4_000);
    await h.settle();
    expect(h.trace(datagram(1), 1).packetIns).toHaveLength(1);
  });

  it('keeps its owners to itself: an app may not name an owner like the guard’s', async () => {
    h = await twoPorts();
    let err: unknown;
    try {
      app(h).ctx.flows.replace('punt-guard:suppress:1', []);
    } catch (e) {
      err = e;
    }
    expect(isDfError(err) && err.code).toBe('OWNER_INVALID');
  });

  it('refuses at load a punt table that cannot match the source port, or a bad budget, naming the app and key', () => {
    const noReg6 = { ...udpEcho, tables: { services: [{ name: 'echo', match: ['eth_type', 'ip_proto', 'udp_dst'] }] } } as unknown as AppDescriptor;
    expect(() => validateApps([{ package: 'x', descriptor: noReg6 }])).toThrow(/app 'udp-echo' \(x\): punt table 'echo' must declare match field reg6/);
    const unknown = { ...udpEcho, punt: { tables: ['nope'] } } as unknown as AppDescriptor;
    expect(() => validateApps([{ package: 'x', descriptor: unknown }])).toThrow(/punt\.tables names 'nope'/);
    const bad = { ...udpEcho, punt: { tables: ['echo'], limits: { rate: 0 } } } as unknown as AppDescriptor;
    expect(() => validateApps([{ package: 'x', descriptor: bad }])).toThrow(/punt\.rate is 0; expected a number > 0/);
  });
});

describe('the punt meter (punt.meter, the second line of defence)', () => {
  const metered = defineApp({ ...udpEcho, punt: { ...udpEcho.punt!, limits: { rate: 1000, burst: 1000, suppressSeconds: 4 }, meter: { rate: 2, burst: 4 } } });

  it('is installed as the app’s desired state before the punt flow that uses it, and drops a flood spread over ports in the switch', async () => {
    h = await startHarness({ apps: [metered] });
    const sub = await h.subnet(await h.network('net'), '10.0.0.0/24');
    for (const n of [1, 2, 3]) await h.plug(await h.port(sub, `10.0.0.${n}`, MAC(n)), n);
    await h.settle();
    const meters = h.fakeSwitch.meterConfigs();
    expect(meters).toHaveLength(1);
    expect(meters[0]!.bands).toEqual([{ type: 'drop', rate: 2, burstSize: 4 }]);
    const punt = h.fakeSwitch.flowsIn(h.runtime.pipeline.app('udp-echo').tables[0]!.id).find((f) => f.priority === 100)!;
    expect(JSON.stringify(punt.instructions)).toContain(`"meterId":${meters[0]!.meterId}`);
    // 12 punts from three ports at one instant: each port is within its budget, the meter lets the burst through
    let reached = 0;
    for (let i = 0; i < 12; i++) reached += (await h.inject(datagram((i % 3) + 1), (i % 3) + 1)).packetIns.length;
    expect(reached).toBeLessThanOrEqual(5);
    expect(reached).toBeGreaterThanOrEqual(4);
    // a restart re-declares the same meter: nothing is sent for it
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(h.fakeSwitch.stats.meterMods).toBe(0);
    expect(h.fakeSwitch.stats.flowMods).toBe(0);
  });

  it('an app may not take the punt guard’s meter id', async () => {
    h = await twoPorts();
    expect(() => app(h!).ctx.flows.meterId(0xffffff)).toThrow(/is the punt guard's/);
  });
});
