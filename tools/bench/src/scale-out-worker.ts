/**
 * A worker process of bench:scale-out: runs the controllers of a slice of the
 * chassis, each as df-controller wires its runtime — its own NB driver (one
 * connection, one watch), its chassis liveness (ChassisRegistry), the NB local cache
 * with selective topology, the runtime with the apps, and its own switch — a
 * FakeSwitch (OpenFlow table semantics, barriers), not Open vSwitch: 200 vswitchd
 * would not fit this machine. Its VM ports are reported plugged, as the OVSDB
 * monitor would.
 *
 * It reports, for every probe port, when each of its chassis holding the port had
 * the port's revision confirmed by a barrier on its switch (CLOCK_MONOTONIC, the
 * same clock in every process of the machine).
 */
import { performance } from 'node:perf_hooks';
import l2 from '@dragonflow/app-l2';
import proactive from '@dragonflow/app-l3-proactive';
import portsec from '@dragonflow/app-portsec';
import sg from '@dragonflow/app-sg';
import dhcp from '@dragonflow/app-dhcp';
import { CoreMetrics, startChassisRuntime, validateApps, type ChassisRuntime } from '@dragonflow/core/host';
import { EtcdDriver } from '@dragonflow/db-etcd';
import { RedisDriver } from '@dragonflow/db-redis';
import { ChassisRegistry, NbApi, type ChassisRegistration, type NbDriver } from '@dragonflow/nb';
import { FakeSwitch } from '@dragonflow/testing';
import { VXLAN_OFPORT, chassisId, chassisRecord, portsOnChassis, type CloudShape } from './scale-out-topology.js';

export type NbTarget = { readonly kind: 'etcd'; readonly endpoints: readonly string[] } | { readonly kind: 'redis'; readonly url: string };

export const NB_PREFIX = { etcd: '/scale/', redis: 'scale:' } as const;

export function connectNb(target: NbTarget): Promise<NbDriver> {
  return target.kind === 'etcd' ? EtcdDriver.connect({ endpoints: target.endpoints, prefix: NB_PREFIX.etcd }) : RedisDriver.connect({ url: target.url, prefix: NB_PREFIX.redis });
}

/** Orchestrator → worker. */
export type WorkerRequest =
  | { readonly type: 'start'; readonly target: NbTarget; readonly shape: CloudShape; readonly chassis: readonly number[]; readonly wave: number }
  | { readonly type: 'arm'; readonly portId: string; readonly host: number; readonly ofport: number }
  | { readonly type: 'stats' }
  | { readonly type: 'stop' };

export interface ChassisStats {
  readonly chassis: number;
  readonly localPorts: number;
  readonly cachedPorts: number;
  readonly cachedObjects: number;
  readonly networks: number;
  readonly desiredFlows: number;
  readonly installedFlows: number;
  readonly errors: number;
}

/** Worker → orchestrator. */
export type WorkerReply =
  | { readonly type: 'started'; readonly ms: number; readonly baselineHeap: number }
  | { readonly type: 'armed' }
  | { readonly type: 'confirmed'; readonly portId: string; readonly chassis: number; readonly revision: number; readonly at: number }
  | { readonly type: 'stats'; readonly heapUsed: number; readonly rss: number; readonly baselineHeap: number; readonly cpu: number; readonly chassis: readonly ChassisStats[] }
  | { readonly type: 'stopped' }
  | { readonly type: 'failed'; readonly error: string };

const APPS = validateApps([
  { package: '@dragonflow/app-l2', descriptor: l2 },
  { package: '@dragonflow/app-portsec', descriptor: portsec },
  { package: '@dragonflow/app-sg', descriptor: sg },
  { package: '@dragonflow/app-dhcp', descriptor: dhcp },
  { package: '@dragonflow/app-l3-proactive', descriptor: proactive },
]);

/** Milliseconds on CLOCK_MONOTONIC (comparable between processes, unlike performance.now()). */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Controller {
  readonly index: number;
  readonly driver: NbDriver;
  readonly registration: ChassisRegistration;
  readonly chassis: ChassisRuntime;
  readonly fakeSwitch: FakeSwitch;
  readonly metrics: CoreMetrics;
  readonly localPorts: number;
}

function gcHeap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

const send = (m: WorkerReply): void => void process.send!(m);
const controllers = new Map<number, Controller>();
const armed = new Set<string>();
let baselineHeap = 0;

/** Connects as df-controller does: retrying while the NB does not answer in time (many controllers starting at once load it). */
async function connectRetrying(target: NbTarget): Promise<NbDriver> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectNb(target);
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

async function startController(target: NbTarget, shape: CloudShape, c: number): Promise<Controller> {
  return startControllerOn(await connectRetrying(target), shape, c);
}

/** One chassis controller on `driver` (which it then owns). */
export async function startControllerOn(driver: NbDriver, shape: CloudShape, c: number): Promise<Controller> {
  const { id, ...info } = chassisRecord(c);
  // register() retries (jittered backoff) while the NB misses its deadlines under the fleet's start.
  const registration = await new ChassisRegistry(new NbApi(driver, { mirror: false })).register(info);
  const fakeSwitch = new FakeSwitch();
  const metrics = new CoreMetrics();
  const ports = portsOnChassis(shape, c);
  for (const p of ports) fakeSwitch.addPort(p.ofport);
  fakeSwitch.addPort(VXLAN_OFPORT);
  const chassis = await startChassisRuntime({
    driver,
    apps: APPS,
    chassisId: id,
    metrics,
    beforeStart: ({ runtime, cache }) => {
      runtime.setInfraPorts({ tunnels: { vxlan: VXLAN_OFPORT }, providers: {} });
      for (const p of ports) runtime.bindPort({ kind: 'bound', portId: p.portId, ofport: p.ofport, interfaceName: `tap${p.ofport}` });
      cache.updates$.subscribe((u) => {
        for (const ch of u.changes) {
          if (ch.table !== 'logical_port' || ch.kind !== 'created' || !armed.has(ch.id)) continue;
          const revision = u.revision;
          void runtime.waitForRevision(revision).then(() => send({ type: 'confirmed', portId: ch.id, chassis: c, revision, at: monotonicMs() }));
        }
      });
    },
  });
  await chassis.runtime.attachSwitch(fakeSwitch.connect());
  await chassis.runtime.waitForRevision(chassis.topology.revision);
  return { index: c, driver, registration, chassis, fakeSwitch, metrics, localPorts: ports.length };
}

async function stats(): Promise<WorkerReply> {
  const out: ChassisStats[] = [];
  for (const c of controllers.values()) {
    const errors = (await c.metrics.switchErrors.get()).values.reduce((n, v) => n + v.value, 0) + (await c.metrics.handlerErrors.get()).values.reduce((n, v) => n + v.value, 0);
    const cache = c.chassis.cache;
    out.push({
      chassis: c.index,
      localPorts: c.localPorts,
      cachedPorts: cache.size('logical_port'),
      cachedObjects: cache.size(),
      networks: cache.state.networks,
      desiredFlows: c.chassis.runtime.reconciler.desiredCount,
      installedFlows: c.fakeSwitch.flowCount(),
      errors,
    });
  }
  const cpu = process.cpuUsage();
  return { type: 'stats', heapUsed: gcHeap(), rss: process.memoryUsage().rss, baselineHeap, cpu: (cpu.user + cpu.system) / 1e6, chassis: out };
}

async function handle(m: WorkerRequest): Promise<void> {
  switch (m.type) {
    case 'start': {
      baselineHeap = gcHeap();
      const t0 = performance.now();
      // A few at a time (a wave per worker), as a fleet boots: the first snapshot of each is a full DB read.
      const queue = [...m.chassis];
      await Promise.all(
        Array.from({ length: m.wave }, async () => {
          for (let c = queue.shift(); c !== undefined; c = queue.shift()) controllers.set(c, await startController(m.target, m.shape, c));
        }),
      );
      send({ type: 'started', ms: performance.now() - t0, baselineHeap });
      return;
    }
    case 'arm': {
      armed.add(m.portId);
      const host = controllers.get(m.host);
      if (host) {
        // The VM's interface appears first, as when Nova plugs it before the port is bound.
        host.fakeSwitch.addPort(m.ofport);
        host.chassis.runtime.bindPort({ kind: 'bound', portId: m.portId, ofport: m.ofport, interfaceName: `tap${m.ofport}` });
      }
      send({ type: 'armed' });
      return;
    }
    case 'stats':
      send(await stats());
      return;
    case 'stop':
      for (const c of controllers.values()) {
        await c.registration.stop();
        await c.chassis.stop();
        await c.driver.close();
      }
      send({ type: 'stopped' });
      // Whatever a library left scheduled, this worker is done.
      setTimeout(() => process.exit(0), 100);
      return;
  }
}

if (process.send) {
  process.on('message', (m: WorkerRequest) => {
    handle(m).catch((err: unknown) => send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  });
}
export { chassisId };
