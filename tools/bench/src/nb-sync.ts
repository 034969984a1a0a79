/**
 * Initial sync of a controller's cache, and what selective topology keeps.
 *   pnpm --filter @dragonflow/bench bench:nb-sync      (DF_BENCH_DRIVERS=memory,etcd to choose)
 *
 * Topology: 100 networks × 100 ports (99 VM ports + 1 router interface) = 10,000
 * ports (+100 floating IP ports), routers: router 0 joins networks 0–2, the others 10
 * networks each (3–12, 13–22, …); one security group per 10 networks; 30 chassis;
 * 100 floating IPs on an external network. Chassis "focus" hosts 2 VM ports in each of
 * networks 0, 1 and 2; VM ports elsewhere are bound round-robin to the other chassis.
 * Selective topology also holds the other networks of a held network's routers (one
 * hop, for routing on the source chassis): the widening step shows that cost.
 *
 * Measured: full LocalCache sync (selective off), selective sync for "focus" (and
 * what it holds), NbApi mirror load. Heap is measured with --expose-gc.
 * Objects are written straight through the driver in 100-op commits (not through
 * NbApi) so that loading is not what is measured.
 */
import { performance } from 'node:perf_hooks';
import { LocalCache, NbApi, type NbDriver, type TableName, type TxnOp, chassisIdFromName, encodeObject, parseObject, uuidV5 } from '@dragonflow/nb';
import { selectedTargets, startTarget } from './nb-targets.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:nb-sync';
const NS = '0e6a1c22-93c4-4b7e-8d55-2f4f0b5d1a77';
const NETWORKS = 100;
const PORTS_PER_NETWORK = 100;
const CHASSIS = 30;
const id = (kind: string, n: number | string): string => uuidV5(NS, `${kind}-${n}`);
const mac = (n: number): string => `fa:16:3e:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;

function topology(): { table: TableName; obj: Record<string, unknown> }[] {
  const out: { table: TableName; obj: Record<string, unknown> }[] = [];
  const add = (table: TableName, obj: Record<string, unknown>): void => void out.push({ table, obj: parseObject(table, obj) as Record<string, unknown> });
  const names = ['focus', ...Array.from({ length: CHASSIS - 1 }, (_, i) => `compute-${i + 1}`)];
  names.forEach((name, i) => add('chassis', { id: chassisIdFromName(name), name, tunnelIp: `192.0.2.${i + 1}` }));
  for (let g = 0; g < NETWORKS / 10; g++) add('security_group', { id: id('sg', g), key: g + 1, name: `sg${g}`, rules: [{ id: id('rule', g), direction: 'ingress', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 }] });
  add('logical_switch', { id: id('net', 'ext'), key: NETWORKS + 1, name: 'ext', external: true });
  add('subnet', { id: id('subnet', 'ext'), networkId: id('net', 'ext'), ipVersion: 4, cidr: '172.24.0.0/16' });
  let portKey = 0;
  let vm = 0;
  const routerPorts: Record<number, Record<string, unknown>[]> = {};
  for (let n = 0; n < NETWORKS; n++) {
    const net = id('net', n);
    const sub = id('subnet', n);
    add('logical_switch', { id: net, key: n + 1, name: `net${n}` });
    add('subnet', { id: sub, networkId: net, ipVersion: 4, cidr: `10.${n}.0.0/24`, gatewayIp: `10.${n}.0.1` });
    const r = n < 3 ? 0 : Math.floor((n - 3) / 10) + 1;
    const rif = id('rif', n);
    add('logical_port', { id: rif, key: ++portKey, networkId: net, macAddress: mac(portKey), fixedIps: [{ subnetId: sub, ipAddress: `10.${n}.0.1` }], deviceOwner: 'network:router_interface', deviceId: id('router', r) });
    (routerPorts[r] ??= []).push({ portId: rif, networkId: net, subnetId: sub, macAddress: mac(portKey), ipAddress: `10.${n}.0.1`, cidr: `10.${n}.0.0/24` });
    for (let p = 0; p < PORTS_PER_NETWORK - 1; p++) {
      vm++;
      const host = n < 3 && p < 2 ? 'focus' : `compute-${(vm % (CHASSIS - 1)) + 1}`;
      add('logical_port', {
        id: id('port', `${n}-${p}`),
        key: ++portKey,
        networkId: net,
        macAddress: mac(portKey),
        fixedIps: [{ subnetId: sub, ipAddress: `10.${n}.0.${p + 2}` }],
        chassisId: chassisIdFromName(host),
        deviceOwner: 'compute:nova',
        securityGroupIds: [id('sg', Math.floor(n / 10))],
        status: 'ACTIVE',
      });
    }
  }
  for (const [r, ports] of Object.entries(routerPorts)) add('logical_router', { id: id('router', r), key: Number(r) + 1, name: `router${r}`, ports });
  for (let f = 0; f < 100; f++) {
    const n = f; // one floating IP on the first VM port of each network
    const fport = id('fport', f);
    add('logical_port', { id: fport, key: ++portKey, networkId: id('net', 'ext'), macAddress: mac(portKey), fixedIps: [{ subnetId: id('subnet', 'ext'), ipAddress: `172.24.1.${f + 1}` }], deviceOwner: 'network:floatingip' });
    add('floating_ip', { id: id('fip', f), floatingNetworkId: id('net', 'ext'), floatingIpAddress: `172.24.1.${f + 1}`, floatingPortId: fport, portId: id('port', `${n}-0`), fixedIpAddress: `10.${n}.0.2` });
  }
  return out;
}

async function load(driver: NbDriver, objects: { table: TableName; obj: Record<string, unknown> }[]): Promise<void> {
  for (let i = 0; i < objects.length; i += 100) {
    const ops: TxnOp[] = objects.slice(i, i + 100).map(({ table, obj }) => ({ type: 'put', table, id: String(obj['id']), value: encodeObject(table, obj as never) }));
    await driver.commit(ops);
  }
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function measure<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; heap: number }> {
  const before = heapMb();
  const start = performance.now();
  const value = await fn();
  const ms = performance.now() - start;
  return { value, ms, heap: heapMb() - before };
}

async function main(): Promise<void> {
  if (!(globalThis as { gc?: unknown }).gc) console.log('(run with node --expose-gc for heap figures)');
  const objects = topology();
  const ports = objects.filter((o) => o.table === 'logical_port').length;
  console.log(`# Cache sync — ${COMMAND}\n\n${objects.length} objects, ${ports} ports in ${NETWORKS} networks (+1 external)\n`);
  const rows: string[] = [];
  let counts = '';
  for (const name of selectedTargets()) {
    const target = await startTarget(name);
    const writer = await target.connect();
    try {
      await load(writer, objects);
      const clients = [await target.connect(), await target.connect(), await target.connect()] as const;
      const full = await measure(async () => {
        const c = new LocalCache(clients[0], { chassisId: chassisIdFromName('focus'), selective: false });
        await c.start();
        return c;
      });
      const sel = await measure(async () => {
        const c = new LocalCache(clients[1], { chassisId: chassisIdFromName('focus') });
        await c.start();
        return c;
      });
      const mirror = await measure(async () => NbApi.open(clients[2]));
      rows.push(
        `| ${target.name} | ${full.ms.toFixed(0)} ms, ${full.value.size()} objects, +${full.heap.toFixed(1)} MB | ${sel.ms.toFixed(0)} ms, ${sel.value.size()} objects, +${sel.heap.toFixed(1)} MB | ${mirror.ms.toFixed(0)} ms |`,
      );
      if (!counts) {
        const s = sel.value.state.counts;
        counts = `Selective cache of chassis "focus" (6 ports in networks 0–2): ${sel.value.state.networks} networks, ${s.logical_switch} logical_switch, ${s.subnet} subnet, ${s.logical_port} logical_port, ${s.logical_router} logical_router, ${s.security_group} security_group, ${s.floating_ip} floating_ip, ${s.chassis} chassis — of ${NETWORKS + 1} networks and ${ports} ports in the DB.`;
        // Widening: bind one more port (network 50) to focus and time until its network is in the cache.
        const nb = await NbApi.open(writer, { mirror: false });
        const t0 = performance.now();
        await nb.modify('logical_port', id('port', '50-5'), (p) => ({ ...p, chassisId: chassisIdFromName('focus') }));
        // Network 50 is on router 5 with networks 43–52: all ten come in (one router hop).
        while (sel.value.state.networks < 13 || sel.value.size('logical_port') < 13 * PORTS_PER_NETWORK) await new Promise((r) => setTimeout(r, 1));
        const w = sel.value.state.counts;
        counts += `\n\nWidening: binding one port of network 50 to "focus" brought network 50 and the 9 other networks of its router into the cache ${(performance.now() - t0).toFixed(0)} ms after the commit started: now ${sel.value.state.networks} networks, ${w.logical_port} logical_port, ${w.logical_router} logical_router, ${w.security_group} security_group, ${w.floating_ip} floating_ip.`;
        await nb.close();
      }
      await full.value.stop();
      await sel.value.stop();
      await mirror.value.close();
      for (const c of clients) await c.close();
    } finally {
      await writer.close();
      await target.stop();
    }
  }
  console.log('| driver | full cache sync (selective off) | selective sync (chassis "focus") | NbApi mirror load |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log(`\n${counts}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
