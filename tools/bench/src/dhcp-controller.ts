/**
 * The controller's own share of a DHCP exchange, without Open vSwitch: an emulated
 * switch (the OpenFlow codec over the controller's unix socket, in a process of its
 * own, as ovs-vswitchd would be) sends the PACKET_IN Open vSwitch sends for a client's
 * DISCOVER or REQUEST punted from the `dhcp` table (in_port, metadata, reg6 and the
 * whole frame), and times it to the PACKET_OUT of the answer. The controller is the
 * runtime df-controller runs (NB local cache over the memory driver,
 * `@dragonflow/app-l2` + `@dragonflow/app-dhcp`, punt budget lifted as in
 * `bench:dhcp`).
 *
 *   pnpm --filter @dragonflow/bench bench:dhcp-controller
 *
 * Latency: DF_BENCH_EXCHANGES (default 2,000) DISCOVER→OFFER, REQUEST→ACK exchanges
 * one after the other on one port (the controller idles between them, as in
 * `bench:dhcp`'s latency client). Messages/s: DF_BENCH_MESSAGES (default 100,000)
 * messages from DF_BENCH_PORTS (default 200) ports with DF_BENCH_WINDOW (default 64)
 * in flight. Also prints the controller's CPU per message. A profile of the controller:
 * `node --cpu-prof dist/dhcp-controller.js` (the emulated switch is not profiled).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { cpuUsage } from 'node:process';
import l2 from '@dragonflow/app-l2';
import dhcp from '@dragonflow/app-dhcp';
import { packet } from '@dragonflow/core';
import { CoreMetrics, OfListener, silentLogger, startChassisRuntime, switchChannel, validateApps, type ChassisRuntime } from '@dragonflow/core/host';
import { MemoryDriver, NbApi, chassisIdFromName } from '@dragonflow/nb';
import { match } from '@dragonflow/openflow';
import { makeTempDir, removeDir } from '@dragonflow/sandbox';
import { EmulatedSwitch } from './emulated-switch.js';
import { SwitchProcess } from './switch-process.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:dhcp-controller';
const PORTS = Number(process.env['DF_BENCH_PORTS'] ?? 200);
const EXCHANGES = Number(process.env['DF_BENCH_EXCHANGES'] ?? 2_000);
const MESSAGES = Number(process.env['DF_BENCH_MESSAGES'] ?? 100_000);
const WINDOW = Number(process.env['DF_BENCH_WINDOW'] ?? 64);
const DPID = 0xdf_d4c9n;

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
const hex = (n: number): string => n.toString(16).padStart(2, '0');

interface ClientPort {
  readonly ofport: number;
  readonly portKey: number;
  readonly mac: string;
  readonly ip: string;
}
interface SwitchJob {
  readonly mode: 'latency' | 'throughput';
  readonly count: number;
  readonly window: number;
  readonly tableId: number;
  readonly networkKey: number;
  readonly ports: readonly ClientPort[];
}
interface SwitchReport {
  readonly elapsedMs: number;
  /** Round trips, packet-in written → packet-out read, in ms. */
  readonly rtts: number[];
}

/** A client's DISCOVER (even i) or REQUEST for its address (odd i), as the port's VM sends it. */
function clientFrame(p: ClientPort, i: number): Uint8Array {
  const O = packet.DhcpOption;
  const request = i % 2 === 1;
  const options = new Map<number, Uint8Array>([
    [O.MESSAGE_TYPE, packet.dhcpEncode.u8(request ? packet.DhcpMessageType.REQUEST : packet.DhcpMessageType.DISCOVER)],
    [O.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 3, 6, 15, 26, 28, 51, 54)],
    ...(request ? ([[O.REQUESTED_IP, packet.dhcpEncode.ip(packet.ip4(p.ip))]] as [number, Uint8Array][]) : []),
  ]);
  const msg = packet.dhcpMessage({ op: 1, xid: 0x1000 + (i >> 1), flags: packet.DHCP_FLAG_BROADCAST, chaddr: packet.mac(p.mac), options });
  const udp = packet.udp({ srcPort: packet.DHCP_CLIENT_PORT, dstPort: packet.DHCP_SERVER_PORT, payload: packet.encodeDhcp(msg) });
  return packet.encodeEthernet(packet.ethernet({ src: p.mac, dst: 'ff:ff:ff:ff:ff:ff', payload: packet.ipv4({ src: '0.0.0.0', dst: '255.255.255.255', payload: udp }) }));
}

/** The child: the emulated switch, sending the punts of `job` and timing their answers. */
async function switchProcess(path: string): Promise<void> {
  const sw = await EmulatedSwitch.connect(path, DPID);
  process.on('message', (job: SwitchJob) => {
    // The frames and matches are built before timing (a switch has them at hand).
    const perPort = job.ports.map((p) => ({ frames: [clientFrame(p, 0), clientFrame(p, 1)], match: match({ in_port: p.ofport, metadata: BigInt(job.networkKey), reg6: p.portKey }) }));
    const startOuts = sw.packetOuts;
    const sentAt = new Float64Array(job.count);
    const rtts: number[] = [];
    let sent = 0;
    const start = performance.now();
    const sendOne = (): void => {
      const i = sent++;
      // Latency: one port, DISCOVER then REQUEST; throughput: the ports in turn.
      const p = perPort[job.mode === 'latency' ? 0 : (i >> 1) % perPort.length]!;
      const frame = p.frames[i % 2]!;
      sentAt[i] = performance.now();
      sw.send({ type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: frame.length, reason: 1, tableId: job.tableId, cookie: 0n, match: p.match, data: frame });
    };
    // Answers come back in punt order (the app handles a port's punts one after another).
    sw.packetOutHandler = (n) => {
      const i = n - startOuts - 1;
      if (i < 0) return;
      rtts.push(performance.now() - sentAt[i]!);
      if (rtts.length === job.count) process.send!({ elapsedMs: performance.now() - start, rtts } satisfies SwitchReport);
      else if (sent < job.count) sendOne();
    };
    while (sent < Math.min(job.window, job.count)) sendOne();
  });
  process.send!('ready');
}

/**
 * Garbage collections in this process while `run` runs: the young-generation ones
 * count the bytes allocated (one per semi-space filled), which the machine's load
 * does not change, unlike the CPU time.
 */
async function collecting<T>(run: () => Promise<T>): Promise<{ result: T; gc: string }> {
  let minor = 0;
  let major = 0;
  let ms = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
      else major++;
      ms += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const result = await run();
  // Entries are delivered asynchronously: let the last ones in.
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return { result, gc: `${minor} young-generation and ${major} full GCs, ${ms.toFixed(0)} ms` };
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const driver = MemoryDriver.create();
  const nb = await NbApi.open(driver);
  const chassisName = 'bench-dhcp';
  const chassisId = chassisIdFromName(chassisName);
  await nb.create('chassis', { id: chassisId, name: chassisName, tunnelIp: '192.0.2.1', tunnelTypes: ['vxlan'] });
  const net = await nb.create('logical_switch', { name: 'net', networkType: 'vxlan', segmentationId: 1001, mtu: 1450 });
  const sub = await nb.create('subnet', { networkId: net.id, cidr: '10.1.0.0/16', ipVersion: 4, gatewayIp: '10.1.0.1', enableDhcp: true });
  await nb.create('logical_port', { networkId: net.id, macAddress: 'fa:16:3e:00:00:02', fixedIps: [{ subnetId: sub.id, ipAddress: '10.1.0.2' }], deviceOwner: 'network:dhcp', deviceId: `dhcp-${net.id}` });
  const ports: { id: string; key: number; mac: string; ip: string }[] = [];
  await nb.transaction(async (tx) => {
    for (let i = 0; i < PORTS; i++) {
      const h = i + 10;
      const mac = `fa:16:3e:10:${hex((h >> 8) & 255)}:${hex(h & 255)}`;
      const ip = `10.1.${h >> 8}.${h & 255}`;
      const p = await tx.create('logical_port', { networkId: net.id, macAddress: mac, fixedIps: [{ subnetId: sub.id, ipAddress: ip }], chassisId, deviceOwner: 'compute:nova' });
      ports.push({ id: p.id, key: p.key, mac, ip });
    }
  });

  const dir = makeTempDir('df-bench-dhcpc-');
  const path = join(dir, 'controller.sock');
  const listener = await OfListener.start({ logger: silentLogger(), unixPath: path });
  let sw: SwitchProcess<SwitchJob, SwitchReport> | undefined;
  let chassis: ChassisRuntime | undefined;
  try {
    const apps = validateApps([
      { package: '@dragonflow/app-l2', descriptor: l2 },
      { package: '@dragonflow/app-dhcp', descriptor: dhcp, options: { punt: { rate: 1e6, burst: 1e6 } } },
    ]);
    chassis = await startChassisRuntime({
      driver,
      apps,
      chassisId,
      metrics: new CoreMetrics(),
      beforeStart: ({ runtime }) => {
        runtime.setInfraPorts({ tunnels: { vxlan: 9000 }, providers: {} });
        for (const [i, p] of ports.entries()) runtime.bindPort({ kind: 'bound', portId: p.id, ofport: i + 1, interfaceName: `dp${i}` });
      },
    });
    const { runtime } = chassis;
    sw = await SwitchProcess.start<SwitchJob, SwitchReport>(import.meta.url, { DF_DHCP_SWITCH: path });
    const conn = await listener.waitForSwitch(DPID, 10_000);
    await runtime.attachSwitch(switchChannel(conn));
    await runtime.waitForRevision(await driver.currentRevision());
    await runtime.settle();
    const tableId = runtime.pipeline.app('dhcp').tables.find((t) => t.name === 'dhcp')!.id;
    const clientPorts: ClientPort[] = ports.map((p, i) => ({ ofport: i + 1, portKey: p.key, mac: p.mac, ip: p.ip }));
    const job = (mode: SwitchJob['mode'], count: number, window: number): SwitchJob => ({ mode, count, window, tableId, networkKey: net.key, ports: clientPorts });

    // Warm-up (not reported): the JIT, the lease cache, the answer templates.
    await sw.run(job('throughput', 20_000, WINDOW));
    await sw.run(job('latency', 200, 1));

    let cpu0 = cpuUsage();
    const { result: lat, gc: latGc } = await collecting(() => sw!.run(job('latency', EXCHANGES * 2, 1)));
    let cpu = cpuUsage(cpu0);
    const offer = lat.rtts.filter((_, i) => i % 2 === 0);
    const ack = lat.rtts.filter((_, i) => i % 2 === 1);
    console.log(`DHCPv4, the controller alone: an emulated switch over a unix socket, ${PORTS} ports (load average before: ${load0.map((x) => x.toFixed(2)).join(' ')})`);
    console.log(
      `latency (one exchange at a time, ${EXCHANGES} exchanges): packet-in written → packet-out read DISCOVER→OFFER p50 ${quantile(offer, 0.5).toFixed(3)} ms p99 ${quantile(offer, 0.99).toFixed(3)} ms, REQUEST→ACK p50 ${quantile(ack, 0.5).toFixed(3)} ms p99 ${quantile(ack, 0.99).toFixed(3)} ms; controller CPU ${((cpu.user + cpu.system) / lat.rtts.length).toFixed(1)} µs per message; ${latGc}`,
    );
    cpu0 = cpuUsage();
    const { result: thr, gc: thrGc } = await collecting(() => sw!.run(job('throughput', MESSAGES, WINDOW)));
    cpu = cpuUsage(cpu0);
    const rate = MESSAGES / (thr.elapsedMs / 1000);
    console.log(
      `throughput (${WINDOW} in flight, ${MESSAGES.toLocaleString('en')} messages): ${Math.round(rate).toLocaleString('en')} messages/s = ${Math.round(rate / 2).toLocaleString('en')} leases/s; round trip p50 ${quantile(thr.rtts, 0.5).toFixed(3)} ms p99 ${quantile(thr.rtts, 0.99).toFixed(3)} ms; controller CPU ${((cpu.user + cpu.system) / MESSAGES).toFixed(1)} µs per message; ${thrGc}`,
    );
    console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (2 cores shared)`);
    console.log(`reproduce: ${COMMAND}`);
  } finally {
    sw?.close();
    chassis?.runtime.detachSwitch();
    await chassis?.stop();
    await listener.close();
    removeDir(dir);
    await nb.close();
    await driver.close();
  }
}

const asSwitch = process.env['DF_DHCP_SWITCH'];
(asSwitch ? switchProcess(asSwitch) : main()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
