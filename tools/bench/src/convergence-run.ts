/**
 * One convergence run on one chassis, against a real Open vSwitch (userspace datapath,
 * in its own network namespace), with the controller's own pieces in process: the NB
 * local cache (selective topology) over a memory DB served by another process, the
 * runtime with the given apps, the reconciler and the OpenFlow connection.
 *
 * `startConvergence` brings it up with the base topology committed; `bulk` binds N
 * ports (their OVS interfaces reported first, as the OVSDB monitor would), commits
 * what the DB process prepared in one commit and measures commit → every flow
 * confirmed by a barrier, CPU and memory; `commitConfirmed` times one more commit.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '@dragonflow/base';
import { type AppDescriptor } from '@dragonflow/core';
import { CoreMetrics, startChassisRuntime, switchChannel, type ControllerRuntime } from '@dragonflow/core/host';
import { MemoryClientDriver, chassisIdFromName } from '@dragonflow/nb';
import { type CleanupStack, type OvsInstance } from '@dragonflow/sandbox';
import { VXLAN_OFPORT, id } from './convergence-topology.js';
import { cpuSeconds, startDbProcess, type DbProcess } from './nb-process.js';
import { startBenchSwitch, type BenchSwitch } from './ovs-switch.js';

export const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;
export const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 0)} ms`;

export interface ConvergenceOptions {
  readonly script: string;
  readonly token: string;
  readonly chassisName: string;
  readonly nsPrefix: string;
  readonly apps: readonly { readonly package: string; readonly descriptor: AppDescriptor; readonly options?: unknown }[];
}

export interface BulkResult {
  readonly ms: number;
  /** Controller CPU seconds (user, system) over the bulk. */
  readonly cpu: { readonly user: number; readonly system: number };
  readonly ovsCpu: number;
  readonly rssPeak: number;
  readonly rssAfter: number;
  readonly heapAfter: number;
  /** Flows read back from the switch afterwards (checked equal to the desired count). */
  readonly installed: number;
}

export interface Convergence extends BenchSwitch {
  readonly db: DbProcess;
  readonly runtime: ControllerRuntime;
  readonly chassisId: string;
  readonly metrics: CoreMetrics;
  /** Flows desired before any VM port (pipeline, router, networks). */
  readonly flowsBefore: number;
  /** Reports VM ports `from`..`to − 1` bound on ofports `from + 1`…, as the OVSDB monitor would. */
  bindPorts(from: number, to: number): void;
  /** `prepare` was sent: commits it, waits for every flow confirmed, measures. */
  bulk(): Promise<BulkResult>;
  /** Sends one DB command and waits until its commit is confirmed in the switch: milliseconds. */
  commitConfirmed(command: string): Promise<number>;
  /** Throws when the switch refused something or a handler threw. */
  checkErrors(): Promise<void>;
  /** One line: N, load, OVS and Node versions. */
  header(ports: number, what: string): Promise<string>;
}

export async function startConvergence(cleanup: CleanupStack, o: ConvergenceOptions): Promise<Convergence> {
  const sw = await startBenchSwitch(cleanup, {
    bridge: 'br-int',
    nsPrefix: o.nsPrefix,
    beforeConnect: (ovs: OvsInstance) =>
      ovs.vsctl('add-port', 'br-int', 'tun-vxlan', '--', 'set', 'interface', 'tun-vxlan', 'type=vxlan', 'options:remote_ip=flow', 'options:key=flow', `ofport_request=${VXLAN_OFPORT}`).then(() => undefined),
  });
  // The NB DB is served by another process (as df-api serves the sandbox's memory DB); the
  // controller's cache and the writer (standing in for df-api) are both its clients.
  const db = await startDbProcess(cleanup, o.script);
  const driver = await MemoryClientDriver.connect({ endpoint: db.endpoint, token: o.token });
  cleanup.defer('close controller driver', () => driver.close());
  const chassisId = chassisIdFromName(o.chassisName);
  await db.request(`base ${chassisId}`);

  const metrics = new CoreMetrics();
  const { runtime } = await startChassisRuntime({
    driver,
    apps: o.apps.map((a) => ({ package: a.package, descriptor: a.descriptor, options: a.options })),
    chassisId,
    metrics,
    clock: new ManualClock(),
    beforeStart: (chassis) => {
      cleanup.defer('stop the runtime and the local cache', () => chassis.stop());
      chassis.runtime.setInfraPorts({ tunnels: { vxlan: VXLAN_OFPORT }, providers: {} });
    },
  });
  await runtime.attachSwitch(switchChannel(sw.conn));
  await runtime.waitForRevision(await driver.currentRevision());
  await runtime.settle();
  const flowsBefore = runtime.reconciler.desiredCount;
  const { ovs, conn } = sw;

  return {
    ...sw,
    db,
    runtime,
    chassisId,
    metrics,
    flowsBefore,
    bindPorts(from, to) {
      for (let i = from; i < to; i++) runtime.bindPort({ kind: 'bound', portId: id('port', i), ofport: i + 1, interfaceName: `tap${i}` });
    },
    async bulk() {
      global.gc?.();
      const cpu0 = process.cpuUsage();
      const ovsCpu0 = cpuSeconds(ovs.pids.vswitchd);
      const t0 = performance.now();
      await runtime.waitForRevision(await db.request('bulk'));
      const elapsed = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const ovsCpu = cpuSeconds(ovs.pids.vswitchd) - ovsCpu0;
      await runtime.settle();
      const rssPeak = process.memoryUsage().rss;
      // what the process keeps once the burst is over (V8 hands unused pages back after a GC and a moment)
      global.gc?.();
      await new Promise((r) => setTimeout(r, 1000));
      global.gc?.();
      const mem = process.memoryUsage();
      const installed = (await conn.flowStats()).length;
      if (installed !== runtime.reconciler.desiredCount) throw new Error(`${installed} flows on the switch, ${runtime.reconciler.desiredCount} desired`);
      return { ms: elapsed, cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 }, ovsCpu, rssPeak, rssAfter: mem.rss, heapAfter: mem.heapUsed, installed };
    },
    async commitConfirmed(command) {
      const t = performance.now();
      await runtime.waitForRevision(await db.request(command));
      return performance.now() - t;
    },
    async checkErrors() {
      const errors = (await metrics.switchErrors.get()).values.reduce((n, v) => n + v.value, 0) + (await metrics.handlerErrors.get()).values.reduce((n, v) => n + v.value, 0);
      if (errors) throw new Error(`${errors} switch or handler errors`);
    },
    async header(ports, what) {
      const version = (await ovs.tool('ovs-vswitchd', ['--version'])).split('\n')[0]!.split(' ').pop();
      return `N=${ports.toLocaleString('en')} ${what}, load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores, ovs-vswitchd ${version} userspace, Node ${process.versions.node}`;
    },
  };
}
