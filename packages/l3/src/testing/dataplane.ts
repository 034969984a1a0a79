import { join } from 'node:path';
import { systemClock, type Clock } from '@dragonflow/base';
import { type AppDescriptor, type LogicalPort, type LogicalRouter, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { CoreMetrics, OfListener, silentLogger, startChassisRuntime, switchChannel, validateApps, type ControllerRuntime, type LocalCacheTopology } from '@dragonflow/core/host';
import { ChassisRegistry, MemoryDriver, NbApi, chassisIdFromName, type ChassisRegistration } from '@dragonflow/nb';
import { CleanupStack, Sandbox, type Chassis, type Vm } from '@dragonflow/sandbox';
import { ROUTER_INTERFACE_OWNER } from '../model.js';

/** One chassis of the dataplane: its OVS (in its namespace), and an in-process controller runtime on its br-int. */
export interface DataplaneChassis {
  readonly chassis: Chassis;
  readonly chassisId: string;
  /** The controller runtime (a new one after `restartController`). */
  runtime: ControllerRuntime;
  metrics: CoreMetrics;
  topology: LocalCacheTopology;
}

export interface VmSpec {
  readonly name: string;
  readonly network: 'net1' | 'net2';
  /** Host part: the VM gets 10.0.<network>.<host>. */
  readonly host: number;
  /** 1-based chassis index. */
  readonly chassis: number;
}

export interface RoutedDataplane {
  readonly sandbox: Sandbox;
  readonly nb: NbApi;
  readonly driver: MemoryDriver;
  readonly chassis: readonly DataplaneChassis[];
  readonly net: Record<'net1' | 'net2', LogicalSwitch>;
  readonly sub: Record<'sub1' | 'sub2', Subnet>;
  readonly router: LogicalRouter;
  readonly vms: Readonly<Record<string, { readonly vm: Vm; readonly port: LogicalPort }>>;
  /** Router interface MACs on net1 and net2. */
  readonly routerMacs: Record<'net1' | 'net2', string>;
  /** Waits until every chassis has every NB change so far in its switch (barrier-confirmed). */
  settle(): Promise<void>;
  /**
   * Restarts the controller of chassis `index` (1-based) as a df-controller restart
   * does: the runtime stops (the flows stay in the switch, fail_mode=secure), the
   * switch loses its controller connection and reconnects to a new runtime, which
   * reads the flows back and reconciles.
   */
  restartController(index: number): Promise<void>;
  stop(): Promise<string[]>;
}

export interface DataplaneOptions {
  /** The app set of every controller, in config order (the L2 app, then an L3 app), with options. */
  readonly apps: readonly { readonly package: string; readonly descriptor: AppDescriptor; readonly options?: unknown }[];
  readonly chassis: number;
  readonly vms: readonly VmSpec[];
  readonly clock?: Clock;
}

export const DATAPLANE_ROUTER_MACS = { net1: 'fa:16:3e:01:00:01', net2: 'fa:16:3e:02:00:01' } as const;

/**
 * A real dataplane for the L3 apps: a sandbox (Open vSwitch userspace datapath per
 * chassis namespace, VXLAN underlay), an NB DB in this process with net1
 * 10.0.1.0/24 (VXLAN 1001) and net2 10.0.2.0/24 (VXLAN 1002) behind one router,
 * and per chassis a controller runtime on its br-int as df-controller builds it
 * (selective local cache, port bindings, tunnel ports). VMs are namespaces with
 * their gateway set to the router. Needs root and Open vSwitch.
 */
export async function startRoutedDataplane(options: DataplaneOptions): Promise<RoutedDataplane> {
  const cleanup = new CleanupStack();
  const clock = options.clock ?? systemClock;
  try {
    const sandbox = await Sandbox.create();
    cleanup.defer('destroy the sandbox', () => sandbox.destroy());
    const driver = MemoryDriver.create();
    const nb = await NbApi.open(driver);
    cleanup.defer('close the NB', async () => {
      await nb.close();
      await driver.close();
    });
    const apps = validateApps(options.apps.map((a) => ({ package: a.package, descriptor: a.descriptor, options: a.options })));

    const net = {
      net1: await nb.create('logical_switch', { name: 'net1', networkType: 'vxlan', segmentationId: 1001 }),
      net2: await nb.create('logical_switch', { name: 'net2', networkType: 'vxlan', segmentationId: 1002 }),
    };
    const sub = {
      sub1: await nb.create('subnet', { networkId: net.net1.id, cidr: '10.0.1.0/24', ipVersion: 4, gatewayIp: '10.0.1.1' }),
      sub2: await nb.create('subnet', { networkId: net.net2.id, cidr: '10.0.2.0/24', ipVersion: 4, gatewayIp: '10.0.2.1' }),
    };
    let router = await nb.create('logical_router', { name: 'router1' });
    for (const [n, s] of [
      ['net1', sub.sub1],
      ['net2', sub.sub2],
    ] as const) {
      const mac = DATAPLANE_ROUTER_MACS[n];
      const rif = await nb.create('logical_port', { networkId: s.networkId, macAddress: mac, fixedIps: [{ subnetId: s.id, ipAddress: s.gatewayIp! }], deviceOwner: ROUTER_INTERFACE_OWNER, deviceId: router.id });
      router = await nb.update('logical_router', { ...router, ports: [...router.ports, { portId: rif.id, networkId: s.networkId, subnetId: s.id, macAddress: mac, ipAddress: s.gatewayIp!, cidr: s.cidr }] });
    }

    const registry = new ChassisRegistry(nb, { ttlMs: 3_600_000 });
    const chassis: DataplaneChassis[] = [];
    /** Per chassis: its OpenFlow listener, tunnel port and the VM ports bound there (what a restarted controller needs again). */
    const wiring: { listener: OfListener; datapathId: bigint; vxlan: number; bindings: { portId: string; ofport: number; tap: string }[] }[] = [];
    /** A controller runtime for chassis `at` on the switch's next connection, as df-controller builds it. */
    const startController = async (c: Chassis, chassisId: string, w: (typeof wiring)[number]): Promise<Pick<DataplaneChassis, 'runtime' | 'metrics' | 'topology'>> => {
      const metrics = new CoreMetrics();
      const { runtime, topology } = await startChassisRuntime({
        driver,
        apps,
        chassisId,
        metrics,
        clock,
        beforeStart: (parts) => {
          cleanup.defer(`stop ${c.name}'s runtime`, () => parts.stop());
          parts.runtime.setInfraPorts({ tunnels: { vxlan: w.vxlan }, providers: {} });
          for (const b of w.bindings) parts.runtime.bindPort({ kind: 'bound', portId: b.portId, ofport: b.ofport, interfaceName: b.tap });
        },
      });
      const conn = await w.listener.waitForSwitch(w.datapathId, 20_000);
      await runtime.attachSwitch(switchChannel(conn));
      return { runtime, metrics, topology };
    };
    for (let i = 1; i <= options.chassis; i++) {
      const c = await sandbox.createChassis(i, { tunnelTypes: ['vxlan'], provider: false });
      const reg: ChassisRegistration = await registry.register({ name: c.name, tunnelIp: c.state.tunnelIp, tunnelTypes: ['vxlan'] });
      cleanup.defer(`stop ${c.name}'s registration`, () => reg.stop());
      const chassisId = chassisIdFromName(c.name);
      const listener = await OfListener.start({ logger: silentLogger(), clock, unixPath: c.state.controllerTarget.replace(/^unix:/, '') });
      cleanup.defer(`close ${c.name}'s OpenFlow listener`, () => listener.close());
      const w = { listener, datapathId: BigInt(`0x${c.state.datapathId}`), vxlan: await c.ofport(c.state.tunnelPorts.vxlan!), bindings: [] };
      wiring.push(w);
      chassis.push({ chassis: c, chassisId, ...(await startController(c, chassisId, w)) });
    }

    const vms: Record<string, { vm: Vm; port: LogicalPort }> = {};
    for (const spec of options.vms) {
      const s = spec.network === 'net1' ? sub.sub1 : sub.sub2;
      const at = chassis[spec.chassis - 1];
      if (!at) throw new Error(`VM ${spec.name}: no chassis ${spec.chassis}`);
      const ip = `10.0.${spec.network === 'net1' ? 1 : 2}.${spec.host}`;
      const mac = `fa:16:3e:0${spec.network === 'net1' ? 1 : 2}:00:${spec.host.toString(16).padStart(2, '0')}`;
      const port = await nb.create('logical_port', { name: spec.name, networkId: s.networkId, macAddress: mac, fixedIps: [{ subnetId: s.id, ipAddress: ip }], chassisId: at.chassisId, deviceOwner: 'compute:nova' });
      const vm = await sandbox.createVm(at.chassis, { name: spec.name, ip: `${ip}/24`, mac, gateway: s.gatewayIp!, portId: port.id });
      const binding = { portId: port.id, ofport: await vm.ofport(), tap: vm.state.tap };
      wiring[spec.chassis - 1]!.bindings.push(binding);
      at.runtime.bindPort({ kind: 'bound', portId: binding.portId, ofport: binding.ofport, interfaceName: binding.tap });
      vms[spec.name] = { vm, port };
    }

    const settle = async (): Promise<void> => {
      const rev = await driver.currentRevision();
      for (const c of chassis) {
        await c.runtime.waitForRevision(rev);
        await c.runtime.settle();
      }
    };
    await settle();
    const restartController = async (index: number): Promise<void> => {
      const at = chassis[index - 1];
      const w = wiring[index - 1];
      if (!at || !w) throw new Error(`no chassis ${index}`);
      await at.runtime.stop();
      await at.topology.stop();
      // The controller process is gone: so is its connection; vswitchd reconnects (its own backoff, ~1 s).
      w.listener.get(w.datapathId)?.close();
      Object.assign(at, await startController(at.chassis, at.chassisId, w));
      await settle();
    };
    return { sandbox, nb, driver, chassis, net, sub, router, vms, routerMacs: { ...DATAPLANE_ROUTER_MACS }, settle, restartController, stop: () => cleanup.run() };
  } catch (err) {
    const problems = await cleanup.run();
    throw new Error(`starting the routed dataplane failed: ${(err as Error).message}${problems.length ? `; cleanup: ${problems.join('; ')}` : ''}`, { cause: err });
  }
}

/** The sandbox directory's files of one chassis (for logs in failure messages). */
export function chassisDir(d: RoutedDataplane, index: number): string {
  return join(d.sandbox.dir, `chassis-${index}`);
}
