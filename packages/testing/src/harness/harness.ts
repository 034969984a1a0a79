import { ManualClock } from '@dragonflow/base';
import { type AppDescriptor, type InfraPorts, type Logger } from '@dragonflow/core';
import { CoreMetrics, cookieSlot, startChassisRuntime, validateApps, type ChassisRuntime, type ControllerRuntime, type LocalCacheTopology } from '@dragonflow/core/host';
import { ChassisRegistry, DeviceOwner, MemoryDriver, NbApi, chassisIdFromName, type Chassis, type ChassisInfo, type ChassisRegistration, type LogicalPort, type LogicalRouter, type LogicalSwitch, type NbDriver, type Subnet } from '@dragonflow/nb';
import type { EthernetFrame } from '@dragonflow/packet';
import { FakeSwitch } from '../fakeswitch/fake-switch.js';
import type { TunnelInfo } from '../fakeswitch/packet-state.js';
import type { TraceResult } from '../fakeswitch/trace.js';

/** An app for the harness: a descriptor, or a descriptor with its options. */
export type HarnessApp = AppDescriptor | { readonly descriptor: AppDescriptor; readonly options?: unknown; readonly package?: string };

export interface HarnessOptions {
  /** The apps, in config order. */
  readonly apps: readonly HarnessApp[];
  /** This chassis' name (default 'chassis-1'). */
  readonly chassis?: string;
  readonly clock?: ManualClock;
  readonly logger?: Logger;
  /** Reuse a switch (and its flows), e.g. to restart the controller. */
  readonly fakeSwitch?: FakeSwitch;
  /** Reuse an NB DB. */
  readonly driver?: NbDriver;
  /** br-int's tunnel and provider patch ports, as the controller would report them (see `setInfraPorts`). */
  readonly infraPorts?: InfraPorts;
  /** This chassis' tunnel IP (default 192.0.2.1). */
  readonly tunnelIp?: string;
  /**
   * The NB local cache holds only what this chassis' ports need (default true, as
   * in the controller); false holds the whole topology.
   */
  readonly selective?: boolean;
}

const isDescriptor = (a: HarnessApp): a is AppDescriptor => 'app' in a && 'resync' in a;

/**
 * A controller runtime with the chosen apps, an in-memory NB DB and a FakeSwitch,
 * in one line: `const h = await startHarness({ apps: [myApp] })`. Create topology
 * with `h.nb` (or the helpers), plug ports with `h.plug`, `await h.settle()`, then
 * assert what packets do with `h.trace(frame, inPort)`.
 */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const clock = options.clock ?? new ManualClock();
  const driver = options.driver ?? MemoryDriver.create();
  const nb = await NbApi.open(driver);
  const chassisName = options.chassis ?? 'chassis-1';
  const chassisId = chassisIdFromName(chassisName);
  if (!(await nb.reader.get('chassis', chassisId))) {
    await nb.create('chassis', { id: chassisId, name: chassisName, tunnelIp: options.tunnelIp ?? '192.0.2.1', tunnelTypes: ['vxlan'] });
  }
  const fakeSwitch = options.fakeSwitch ?? new FakeSwitch({ clock });
  const h = new Harness(options, clock, driver, nb, chassisId, fakeSwitch, options.driver === undefined);
  // This chassis is alive, as its controller's registry makes it (its liveness record; h.stopChassis(h.chassisId) ends it).
  const own = await nb.reader.get('chassis', chassisId);
  await h.registerChassis({ name: chassisName, tunnelIp: own?.tunnelIp ?? options.tunnelIp ?? '192.0.2.1', tunnelTypes: [...(own?.tunnelTypes ?? ['vxlan'])] });
  await h.boot();
  return h;
}

export class Harness {
  runtime!: ControllerRuntime;
  topology!: LocalCacheTopology;
  metrics!: CoreMetrics;
  private chassisRuntime!: ChassisRuntime;
  private readonly ofports = new Map<string, number>();
  private infra: InfraPorts | undefined;
  private readonly registrations = new Map<string, ChassisRegistration>();

  constructor(
    private readonly options: HarnessOptions,
    readonly clock: ManualClock,
    readonly driver: NbDriver,
    readonly nb: NbApi,
    readonly chassisId: string,
    readonly fakeSwitch: FakeSwitch,
    private readonly ownsDriver: boolean,
  ) {}

  /** @internal */
  async boot(bindings: ReadonlyMap<string, number> = new Map()): Promise<void> {
    const apps = validateApps(
      this.options.apps.map((a) => (isDescriptor(a) ? { package: `(${a.name})`, descriptor: a } : { package: a.package ?? `(${a.descriptor.name})`, descriptor: a.descriptor, options: a.options })),
    );
    this.metrics = new CoreMetrics();
    this.chassisRuntime = await startChassisRuntime({
      driver: this.driver,
      selective: this.options.selective ?? true,
      apps,
      chassisId: this.chassisId,
      clock: this.clock,
      metrics: this.metrics,
      ...(this.options.logger ? { logger: this.options.logger } : {}),
      beforeStart: ({ runtime, topology }) => {
        this.runtime = runtime;
        this.topology = topology;
        for (const [portId, ofport] of bindings) runtime.bindPort({ kind: 'bound', portId, ofport, interfaceName: `tap${ofport}` });
        this.infra ??= this.options.infraPorts;
        if (this.infra) this.applyInfraPorts(this.infra);
        this.fakeSwitch.describeCookie = (cookie, table) => {
          const t = runtime.pipeline.tableById(table);
          const who = runtime.reconciler.ownerOfCookie(cookie);
          const app = who?.app ?? runtime.pipeline.appBySlot(cookieSlot(cookie))?.name;
          return { ...(t ? { tableName: t.qualifiedName } : {}), ...(app ? { app } : {}), ...(who ? { owner: who.owner } : {}) };
        };
      },
    });
    await this.runtime.attachSwitch(this.fakeSwitch.connect());
    await this.settle();
  }

  /** Waits until every NB change so far is in the apps' desired state and confirmed on the switch. */
  async settle(): Promise<void> {
    const rev = await this.driver.currentRevision();
    await this.topology.waitFor(rev);
    await this.runtime.settle();
    await this.runtime.waitForRevision(Math.max(rev, this.topology.revision));
    await this.runtime.settle();
  }

  /**
   * Plugs a VM port into br-int on `ofport`: the NB port is bound to this chassis (as
   * the controller does) and the OVSDB monitor's binding is fed to the runtime.
   */
  async plug(port: LogicalPort | string, ofport: number): Promise<void> {
    const id = typeof port === 'string' ? port : port.id;
    // (a read-modify-write in one transaction: the NbApi's read view may lag its own writes)
    await this.nb.modify('logical_port', id, (p) => (p.chassisId === this.chassisId ? p : { ...p, chassisId: this.chassisId }));
    this.fakeSwitch.addPort(ofport);
    this.ofports.set(id, ofport);
    this.runtime.bindPort({ kind: 'bound', portId: id, ofport, interfaceName: `tap${ofport}` });
    await this.settle();
  }

  async unplug(port: LogicalPort | string): Promise<void> {
    const id = typeof port === 'string' ? port : port.id;
    this.runtime.bindPort({ kind: 'unbound', portId: id });
    this.ofports.delete(id);
    await this.settle();
  }

  /**
   * br-int's tunnel and provider patch ports changed (what the controller reports
   * from OVSDB): the ports exist on the FakeSwitch from now on, and the runtime and
   * its apps see the new set.
   */
  async setInfraPorts(ports: InfraPorts): Promise<void> {
    this.infra = ports;
    this.applyInfraPorts(ports);
    await this.settle();
  }

  private applyInfraPorts(ports: InfraPorts): void {
    for (const p of [...Object.values(ports.tunnels), ...Object.values(ports.providers)]) if (p !== undefined) this.fakeSwitch.addPort(p);
    this.runtime.setInfraPorts(ports);
  }

  /**
   * Another chassis joins (its NB record and its liveness, as its controller's
   * chassis registry writes them). Ports bound to it are remote ports here.
   */
  async addChassis(name: string, info: Partial<ChassisInfo> & { tunnelIp: string }): Promise<Chassis> {
    const reg = await this.registerChassis({ tunnelTypes: ['vxlan', 'geneve', 'gre'], ...info, name });
    await this.settle();
    return reg.chassis;
  }

  /** Registers a chassis with a liveness record (as its controller would), without settling. */
  async registerChassis(info: ChassisInfo): Promise<ChassisRegistration> {
    const registry = new ChassisRegistry(this.nb, { ttlMs: 3_600_000, clock: this.clock });
    const reg = await registry.register(info);
    this.registrations.get(reg.chassis.id)?.stop().catch(() => undefined);
    this.registrations.set(reg.chassis.id, reg);
    return reg;
  }

  /** The liveness registration of a chassis registered here (this one, or one of addChassis). */
  registration(chassis: Chassis | string): ChassisRegistration | undefined {
    return this.registrations.get(typeof chassis === 'string' ? chassis : chassis.id);
  }

  /** A chassis added with `addChassis` stops (its liveness record goes away, as when its lease expires). */
  async stopChassis(chassis: Chassis | string): Promise<void> {
    const id = typeof chassis === 'string' ? chassis : chassis.id;
    const reg = this.registrations.get(id);
    this.registrations.delete(id);
    await reg?.stop();
    await this.settle();
  }

  /** A port bound to another chassis (as that chassis' controller marks it). */
  async bindRemote(port: LogicalPort | string, chassis: Chassis | string | null): Promise<LogicalPort> {
    const id = typeof port === 'string' ? port : port.id;
    const chassisId = chassis === null ? null : typeof chassis === 'string' ? chassis : chassis.id;
    const p = await this.nb.modify('logical_port', id, (cur) => ({ ...cur, chassisId }));
    await this.settle();
    return p;
  }

  /** What a packet arriving on `inPort` would do (no side effects). */
  trace(frame: EthernetFrame, inPort: number, tunnel?: TunnelInfo): TraceResult {
    return this.fakeSwitch.trace(frame, inPort, tunnel);
  }

  /** A packet arrives on `inPort` (counters, packet-ins to the apps); waits for the apps to react. */
  async inject(frame: EthernetFrame, inPort: number, tunnel?: TunnelInfo): Promise<TraceResult> {
    const r = this.fakeSwitch.inject(frame, inPort, tunnel);
    await this.runtime.settle();
    return r;
  }

  /**
   * Stops the runtime and starts a new one on the same DB and switch (a controller
   * restart). `whileDown` runs in between: changes made while no controller runs.
   */
  async restart(whileDown?: () => Promise<void>): Promise<void> {
    await this.chassisRuntime.stop();
    this.fakeSwitch.disconnect();
    await whileDown?.();
    await this.boot(this.ofports);
  }

  // ---- topology helpers ----

  async network(name: string, extra: Partial<LogicalSwitch> = {}): Promise<LogicalSwitch> {
    return this.nb.create('logical_switch', { name, ...extra } as never);
  }

  async subnet(network: LogicalSwitch, cidr: string, extra: Partial<Subnet> = {}): Promise<Subnet> {
    return this.nb.create('subnet', { networkId: network.id, cidr, ipVersion: cidr.includes(':') ? 6 : 4, ...extra } as never);
  }

  /** A port on `subnet` with one fixed IP; bound to `chassisId` when given (a remote port). */
  async port(subnet: Subnet, ip: string, mac: string, extra: Partial<LogicalPort> = {}): Promise<LogicalPort> {
    return this.nb.create('logical_port', { networkId: subnet.networkId, macAddress: mac, fixedIps: [{ subnetId: subnet.id, ipAddress: ip }], ...extra } as never);
  }

  /**
   * Adds a router interface as df-api does: a `network:router_interface` port on
   * `subnet` holding `ip` (the subnet's gateway by default) with `mac`, and the
   * router's entry for it; then settles.
   */
  async routerInterface(router: LogicalRouter | string, subnet: Subnet, mac: string, ip = subnet.gatewayIp ?? undefined): Promise<{ port: LogicalPort; router: LogicalRouter }> {
    const id = typeof router === 'string' ? router : router.id;
    if (!ip) throw new Error(`subnet ${subnet.cidr} has no gateway IP: name the interface's address`);
    const port = await this.port(subnet, ip, mac, { deviceOwner: DeviceOwner.ROUTER_INTERFACE, deviceId: id });
    const entry = { portId: port.id, networkId: subnet.networkId, subnetId: subnet.id, macAddress: mac, ipAddress: ip, cidr: subnet.cidr };
    const updated = await this.nb.modify('logical_router', id, (r) => ({ ...r, ports: [...r.ports, entry] }));
    await this.settle();
    return { port, router: updated };
  }

  async stop(): Promise<void> {
    for (const reg of this.registrations.values()) await reg.stop().catch(() => undefined);
    this.registrations.clear();
    await this.chassisRuntime.stop();
    this.fakeSwitch.disconnect();
    await this.nb.close();
    if (this.ownsDriver) await this.driver.close();
  }
}
