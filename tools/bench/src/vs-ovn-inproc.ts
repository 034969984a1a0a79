/**
 * bench:vs-ovn's controller work without the switch and without processes: the
 * vs-ovn scenario's NB (10 networks with DHCP, one router, N ports with port
 * security in Neutron's default group) in an in-process memory DB, the runtime with
 * the same apps as df-controller there (l2, portsec, sg, dhcp, l3-proactive) and a
 * FakeSwitch. Prints the bulk's time and CPU, and the L2-only figure beside it for the
 * same N: for profiling the apps' and the reconciler's cost per port
 * (`node --cpu-prof dist/vs-ovn-inproc.js`). Not a comparison with OVN — that is bench:vs-ovn.
 *
 *   pnpm --filter @dragonflow/bench bench:vs-ovn-inproc     (DF_BENCH_PORTS=1000 by default)
 */
import { startCpuProfile } from './cpu-profile.js';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import l2 from '@dragonflow/app-l2';
import proactive from '@dragonflow/app-l3-proactive';
import portsec from '@dragonflow/app-portsec';
import sg from '@dragonflow/app-sg';
import dhcp from '@dragonflow/app-dhcp';
import { CoreMetrics, startChassisRuntime, validateApps } from '@dragonflow/core/host';
import { MemoryDriver, chassisIdFromName, decodeObject, encodeObject, uuidV5, type TxnOp } from '@dragonflow/nb';
import { FakeSwitch } from '@dragonflow/testing';
import { NETWORKS, VXLAN_OFPORT, baseTopology, id, neutronDefaultGroup, vmPort } from './convergence-topology.js';
import { put } from './nb-process.js';
import { dhcpServerIp, dhcpServerMac } from './vs-ovn-scenario.js';

const CHASSIS = 'bench-vs-ovn';
const PROJECT = 'bench';
const GROUP = uuidV5('7b3c1f0e-55aa-4c1d-8e0f-2a6b9d4c3e21', 'default');
const ALL = [
  { package: '@dragonflow/app-l2', descriptor: l2 },
  { package: '@dragonflow/app-portsec', descriptor: portsec },
  { package: '@dragonflow/app-sg', descriptor: sg },
  { package: '@dragonflow/app-dhcp', descriptor: dhcp },
  { package: '@dragonflow/app-l3-proactive', descriptor: proactive },
];

interface Bulk {
  readonly ms: number;
  readonly cpu: number;
  readonly desired: number;
  /** The ports' status writes after the bulk (equal features only): N one-port commits → confirmed. */
  readonly status?: { readonly ms: number; readonly cpu: number };
}

/** Port i's record as the binder writes it once its flows are confirmed: the same, status ACTIVE. */
function activeOf(op: TxnOp): TxnOp {
  if (op.type !== 'put') return op;
  const port = decodeObject('logical_port', op.value, 1);
  return { type: 'put', table: op.table, id: op.id, value: encodeObject('logical_port', { ...port, status: 'ACTIVE' }) };
}

async function bulk(n: number, equalFeatures: boolean): Promise<Bulk> {
  const driver = MemoryDriver.create();
  const chassisId = chassisIdFromName(CHASSIS);
  const base: TxnOp[] = baseTopology(chassisId, CHASSIS);
  if (equalFeatures) {
    for (let k = 0; k < NETWORKS; k++) {
      base.push(put('logical_port', { id: id('dhcp', k), key: 50 + k, networkId: id('net', k), macAddress: dhcpServerMac(k), fixedIps: [{ subnetId: id('subnet', k), ipAddress: dhcpServerIp(k) }], deviceOwner: 'network:dhcp', deviceId: `dhcp-${k}` }));
    }
    base.push(neutronDefaultGroup(GROUP, PROJECT, 0));
  }
  await driver.commit(base);
  const fakeSwitch = new FakeSwitch();
  fakeSwitch.addPort(VXLAN_OFPORT);
  for (let i = 0; i < n; i++) fakeSwitch.addPort(1 + i);
  const chassis = await startChassisRuntime({
    driver,
    apps: validateApps(equalFeatures ? ALL : ALL.slice(0, 1)),
    chassisId,
    metrics: new CoreMetrics(),
    beforeStart: ({ runtime }) => {
      runtime.setInfraPorts({ tunnels: { vxlan: VXLAN_OFPORT }, providers: {} });
      for (let i = 0; i < n; i++) runtime.bindPort({ kind: 'bound', portId: id('port', i), ofport: 1 + i, interfaceName: `vm${i}` });
    },
  });
  await chassis.runtime.attachSwitch(fakeSwitch.connect());
  await chassis.runtime.waitForRevision(chassis.topology.revision);
  const ports = Array.from({ length: n }, (_, i) => vmPort(i, chassisId, equalFeatures ? { projectId: PROJECT, securityGroupIds: [GROUP] } : {}));
  // DF_BENCH_CPU_PROFILE=DIR: a V8 CPU profile of the bulk alone (commit → confirmed) there.
  const profileDir = process.env['DF_BENCH_CPU_PROFILE'];
  const profile = await startCpuProfile(profileDir && join(profileDir, `bulk-${n}-${equalFeatures ? 'equal' : 'l2'}.cpuprofile`));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { revision } = await driver.commit(ports);
  await chassis.runtime.waitForRevision(revision);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await profile.stop();
  const desired = chassis.runtime.reconciler.desiredCount;
  // The status echoes: each port's status written in its own commit (as a binder that
  // writes port by port does), all in flight at once, until the last is confirmed.
  let status: Bulk['status'];
  if (equalFeatures) {
    const s0 = process.cpuUsage();
    const t1 = performance.now();
    const revs = await Promise.all(ports.map((op) => driver.commit([activeOf(op)])));
    const last = Math.max(...revs.map((r) => r.revision));
    await chassis.runtime.waitForRevision(last);
    const sc = process.cpuUsage(s0);
    status = { ms: performance.now() - t1, cpu: (sc.user + sc.system) / 1e6 };
  }
  await chassis.stop();
  await driver.close();
  return { ms, cpu: (cpu.user + cpu.system) / 1e6, desired, ...(status ? { status } : {}) };
}

async function main(): Promise<void> {
  const sizes = (process.env['DF_BENCH_PORTS'] ?? '1000').split(',').map(Number);
  const only = process.env['DF_BENCH_SIDES'];
  for (const n of sizes) {
    for (const equal of only === 'equal' ? [true] : only === 'l2' ? [false] : [false, true]) {
      const b = await bulk(n, equal);
      console.log(`N=${n} ${equal ? 'equal features' : 'l2 only      '}: bulk ${(b.ms / 1000).toFixed(3)} s, CPU ${b.cpu.toFixed(2)} s (${((b.cpu / n) * 1000).toFixed(2)} ms/port), ${b.desired} desired flows`);
      if (b.status) console.log(`N=${n} status echoes : ${n} one-port commits → confirmed ${(b.status.ms / 1000).toFixed(3)} s, CPU ${b.status.cpu.toFixed(2)} s (${((b.status.cpu / n) * 1000).toFixed(2)} ms/port)`);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
