import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DfError, IpNetwork, parseIp } from '@dragonflow/base';
import { OvsdbClient, VswitchDb, providerPatchPorts, type TunnelType } from '@dragonflow/ovsdb';
import { run } from '../exec.js';
import { addAddress, createNetns, createVethPair, linkExists } from '../netns.js';
import { OvsInstance, startOvs } from '../ovs.js';
import { waitFor } from '../process.js';
import { CHASSIS_DEVICES, EXTERNAL, FABRIC_DEVICES, chassisNetns } from './names.js';
import type { ChassisState, FabricState, ProviderState } from './state.js';

export interface ChassisOptions {
  /** Flow-based tunnel ports to create on br-int (default: vxlan, geneve and gre). */
  tunnelTypes?: readonly TunnelType[];
  /** Create the provider bridge and its patch pair to br-int (default true). */
  provider?: boolean;
  /** Physical network name of the provider bridge (default 'physnet1'). */
  physnet?: string;
  /** Provider bridge name (default 'br-ex'). */
  providerBridge?: string;
  /** MTU of the underlay and provider links (default 1500; VMs default to 1400 so tunnels fit). */
  underlayMtu?: number;
  /** Attach the chassis to the flat provider network `public` (bridge br-public; the sandbox must have been made with `external`). */
  external?: boolean;
}

/** A running chassis: its state plus handles to talk to its OVS. */
export class Chassis {
  constructor(readonly state: ChassisState) {}

  get index(): number {
    return this.state.index;
  }

  get name(): string {
    return this.state.name;
  }

  get netns(): string {
    return this.state.netns;
  }

  get tunnelIp(): string {
    return this.state.tunnelIp;
  }

  /** The kit's OVS handle (tool calls run inside the chassis namespace with this OVS's env). */
  get ovs(): OvsInstance {
    if (!this.state.pids) throw new DfError('SANDBOX_STATE', `chassis ${this.name} has no running OVS recorded`, { context: { chassis: this.name } });
    return new OvsInstance(this.state.dir, this.state.netns, this.state.pids, false);
  }

  /** `ovs-ofctl -O OpenFlow13 ARGS` against this chassis. */
  ofctl(...args: string[]): Promise<string> {
    return this.ovs.ofctl('-O', 'OpenFlow13', ...args);
  }

  /** Opens an OVSDB session to this chassis (close it when done). */
  connectOvsdb(): Promise<OvsdbClient> {
    return OvsdbClient.connect({ remote: this.state.ovsdbRemote, timeoutMs: 10_000 });
  }

  /** Runs `fn` with a VswitchDb for this chassis and closes the session afterwards. */
  async withVswitch<T>(fn: (vs: VswitchDb) => Promise<T>): Promise<T> {
    const client = await this.connectOvsdb();
    try {
      return await fn(new VswitchDb(client));
    } finally {
      await client.close();
    }
  }

  /** The MAC address of the chassis' underlay interface (the br-phy device holding the tunnel IP). */
  async underlayMac(): Promise<string> {
    const out = await run('ip', ['-j', 'link', 'show', 'dev', this.state.underlayBridge], { netns: this.netns });
    const mac = (JSON.parse(out.stdout) as { address?: string }[])[0]?.address;
    if (!mac) throw new DfError('SANDBOX_STATE', `${this.state.underlayBridge} on ${this.name} has no MAC address`, { context: { chassis: this.name } });
    return mac;
  }

  /**
   * Tells this chassis' vswitchd the underlay MAC of a peer's tunnel IP
   * (`tnl/neigh/set`). Userspace tunnelling drops a packet whose tunnel peer is not
   * in its neighbour table yet (it sends an ARP instead), so the first packet
   * between two chassis would be lost; the sandbox seeds the table when a chassis
   * comes up. The entry ages out as a learned one does (then ARP takes over).
   */
  async knowPeer(peer: Chassis): Promise<void> {
    await this.ovs.appctl('tnl/neigh/set', this.state.underlayBridge, peer.tunnelIp, await peer.underlayMac());
  }

  /** The OpenFlow port number of an interface, once vswitchd assigned one. */
  async ofport(iface: string, timeoutMs = 10_000): Promise<number> {
    return this.withVswitch((vs) =>
      waitFor(
        async () => {
          const s = await vs.getInterface(iface);
          if (s?.ofport === -1) throw new DfError('SANDBOX_PORT', `vswitchd could not open ${iface}: ${s.error ?? 'unknown error'}`, { context: { iface, chassis: this.name } });
          return s?.ofport !== undefined && s.ofport > 0 ? s.ofport : undefined;
        },
        { what: `an ofport for ${iface} on ${this.name}`, timeoutMs },
      ),
    );
  }
}

export interface ChassisPlan {
  tag: string;
  index: number;
  dir: string;
  fabric: FabricState;
  options: ChassisOptions;
}

/** The state a chassis will have, computed before anything is created (so teardown can find it). */
export function planChassis(plan: ChassisPlan): ChassisState {
  const { tag, index, dir, fabric, options } = plan;
  const underlay = IpNetwork.parse(fabric.underlayCidr, 'underlayCidr');
  if (BigInt(index) >= underlay.size - 1n) {
    throw new DfError('SANDBOX_UNDERLAY', `underlay ${fabric.underlayCidr} has no address for chassis ${index}`, { context: { chassis: index, underlayCidr: fabric.underlayCidr } });
  }
  const chassisDir = join(dir, `chassis-${index}`);
  const tunnelTypes = options.tunnelTypes ?? ['vxlan', 'geneve', 'gre'];
  const providerBridge = options.providerBridge ?? 'br-ex';
  const provider: ProviderState | undefined = options.provider === false ? undefined : plannedProvider(options.physnet ?? 'physnet1', providerBridge, CHASSIS_DEVICES.providerDevice);
  if (options.external && !fabric.publicSwitch) {
    throw new DfError('SANDBOX_NO_EXTERNAL', `chassis ${index} cannot join the external network: the sandbox was made without it (Sandbox.create({ external: true }))`, { context: { chassis: index } });
  }
  const external = options.external ? plannedProvider(EXTERNAL.physnet, EXTERNAL.bridge, CHASSIS_DEVICES.externalDevice) : undefined;
  return {
    index,
    name: `chassis-${index}`,
    netns: chassisNetns(tag, index),
    dir: chassisDir,
    status: 'creating',
    ovsdbRemote: `unix:${join(chassisDir, 'db.sock')}`,
    integrationBridge: CHASSIS_DEVICES.integrationBridge,
    controllerTarget: `unix:${join(chassisDir, 'controller.sock')}`,
    integrationMgmtSocket: join(chassisDir, `${CHASSIS_DEVICES.integrationBridge}.mgmt`),
    datapathId: (0xdf00n + BigInt(index)).toString(16).padStart(16, '0'),
    tunnelIp: underlay.at(BigInt(index)).toString(),
    underlayBridge: CHASSIS_DEVICES.underlayBridge,
    underlayDevice: CHASSIS_DEVICES.underlayDevice,
    tunnelPorts: Object.fromEntries(tunnelTypes.map((t) => [t, `tun-${t}`])),
    provider,
    ...(external ? { external } : {}),
  };
}

function plannedProvider(physnet: string, bridge: string, device: string): ProviderState {
  const patches = providerPatchPorts(CHASSIS_DEVICES.integrationBridge, bridge);
  return { physnet, bridge, device, patchOnIntegration: patches.onIntegration, patchOnProvider: patches.onProvider };
}

/**
 * Builds a planned chassis: namespace, OVS, br-int (netdev, secure, OpenFlow13,
 * controller target), br-phy owning the underlay veth with the tunnel IP on its
 * LOCAL port, flow-based tunnel ports, and the provider bridge with its patch pair.
 * `onPids` is awaited as soon as the daemons run, so a crash later still leaves
 * enough in the state file to tear them down; when it fails, the daemons are
 * stopped and the chassis is not built further.
 */
export async function buildChassis(
  state: ChassisState,
  fabric: FabricState,
  options: ChassisOptions,
  onPids: (pids: { ovsdbServer: number; vswitchd: number }) => Promise<void> | void,
): Promise<Chassis> {
  const ns = state.netns;
  const mtu = options.underlayMtu ?? 1500;
  await createNetns(ns);
  const ovs = await startOvs({ dir: state.dir, netns: ns, removeDirOnStop: false });
  try {
    await onPids(ovs.pids);
  } catch (err) {
    await ovs.stop();
    throw err;
  }
  const chassis = new Chassis({ ...state, pids: ovs.pids });
  const prefix = IpNetwork.parse(fabric.underlayCidr).prefixLength;

  await chassis.withVswitch(async (vs) => {
    await vs.ensureBridge(state.underlayBridge, { datapathType: 'netdev', failMode: 'secure' });
    await vs.ensureBridge(state.integrationBridge, {
      datapathType: 'netdev',
      failMode: 'secure',
      protocols: ['OpenFlow13'],
      controllerTargets: [state.controllerTarget],
      datapathId: BigInt(`0x${state.datapathId}`),
      disableInBand: true,
    });

    // Underlay: ul0 (chassis) ↔ cN-ul (fabric, enslaved to the underlay switch).
    await createVethPair({ name: state.underlayDevice, netns: ns, mtu }, { name: FABRIC_DEVICES.underlayPort(state.index), netns: fabric.netns, mtu });
    await run('ip', ['link', 'set', FABRIC_DEVICES.underlayPort(state.index), 'master', fabric.underlaySwitch], { netns: fabric.netns });
    await vs.addPort(state.underlayBridge, state.underlayDevice);
    await waitFor(() => linkExists(state.underlayBridge, ns), { what: `the ${state.underlayBridge} device in ${ns}`, timeoutMs: 10_000 });
    await run('ip', ['link', 'set', state.underlayBridge, 'mtu', String(mtu), 'up'], { netns: ns });
    await addAddress(state.underlayBridge, `${parseIp(state.tunnelIp).toString()}/${prefix}`, ns);

    for (const [type, port] of Object.entries(state.tunnelPorts)) {
      await vs.ensureTunnelPort(state.integrationBridge, type as TunnelType, { name: port });
    }

    // Provider bridges: each owns a veth to its Linux bridge in the fabric, and a patch pair to br-int.
    const attach = async (p: ProviderState, fabricSwitch: string, fabricPort: string): Promise<void> => {
      await vs.ensureBridge(p.bridge, { datapathType: 'netdev', failMode: 'secure', externalIds: { 'df-physnet': p.physnet } });
      await createVethPair({ name: p.device, netns: ns, mtu }, { name: fabricPort, netns: fabric.netns, mtu });
      await run('ip', ['link', 'set', fabricPort, 'master', fabricSwitch], { netns: fabric.netns });
      await vs.addPort(p.bridge, p.device);
      await vs.ensurePatchPair(state.integrationBridge, p.bridge, { portA: p.patchOnIntegration, portB: p.patchOnProvider });
    };
    if (state.provider) await attach(state.provider, fabric.providerSwitch, FABRIC_DEVICES.providerPort(state.index));
    if (state.external) await attach(state.external, fabric.publicSwitch!, FABRIC_DEVICES.publicPort(state.index));
  });

  // The physical bridges switch like a plain L2 switch; br-int stays empty (secure) for the controller.
  await chassis.ovs.ofctl('-O', 'OpenFlow13', 'add-flow', state.underlayBridge, 'priority=0,actions=NORMAL');
  const providers = [state.provider, state.external].filter((p): p is ProviderState => p !== undefined);
  for (const p of providers) await chassis.ovs.ofctl('-O', 'OpenFlow13', 'add-flow', p.bridge, 'priority=0,actions=NORMAL');

  // Everything numbered means vswitchd opened every device.
  for (const port of [state.underlayDevice, ...Object.values(state.tunnelPorts), ...providers.flatMap((p) => [p.device, p.patchOnIntegration])]) {
    await chassis.ofport(port);
  }
  return chassis;
}

/**
 * Starts the switch of a chassis again after it was killed (ovsdb-server and
 * ovs-vswitchd, SIGKILL): its database survived on disk (bridges, ports), but what
 * lived in ovs-vswitchd is gone and is set up again — the underlay bridge's address
 * (its internal device is recreated), the NORMAL flows of the underlay and provider
 * bridges, the tunnel neighbours. br-int stays empty for the controller.
 */
export async function restartChassisSwitch(state: ChassisState, fabric: FabricState, peers: readonly Chassis[], onPids: (pids: { ovsdbServer: number; vswitchd: number }) => Promise<void> | void): Promise<Chassis> {
  const ns = state.netns;
  // A killed ovsdb-server leaves its socket file: the new one must not be taken as up before it listens.
  for (const f of ['db.sock', 'ovsdb-server.ctl', 'ovs-vswitchd.ctl']) rmSync(join(state.dir, f), { force: true });
  const ovs = await startOvs({ dir: state.dir, netns: ns, removeDirOnStop: false });
  await onPids(ovs.pids);
  const chassis = new Chassis({ ...state, pids: ovs.pids });
  const prefix = IpNetwork.parse(fabric.underlayCidr).prefixLength;
  await waitFor(() => linkExists(state.underlayBridge, ns), { what: `the ${state.underlayBridge} device in ${ns}`, timeoutMs: 10_000 });
  const cidr = `${parseIp(state.tunnelIp).toString()}/${prefix}`;
  const shown = await run('ip', ['-o', 'addr', 'show', 'dev', state.underlayBridge], { netns: ns });
  if (!shown.stdout.includes(` ${cidr} `)) await addAddress(state.underlayBridge, cidr, ns);
  await run('ip', ['link', 'set', state.underlayBridge, 'up'], { netns: ns });
  const providers = [state.provider, state.external].filter((p): p is ProviderState => p !== undefined);
  // ovs-vswitchd answers before it has opened every bridge (their management sockets come a moment later)
  const normal = (bridge: string): Promise<boolean> =>
    waitFor(
      async () => {
        try {
          await chassis.ovs.ofctl('-O', 'OpenFlow13', 'add-flow', bridge, 'priority=0,actions=NORMAL');
          return true;
        } catch {
          return undefined;
        }
      },
      { what: `${bridge} of ${state.name} to take its NORMAL flow`, timeoutMs: 10_000 },
    );
  await normal(state.underlayBridge);
  for (const p of providers) await normal(p.bridge);
  for (const port of [state.underlayDevice, ...Object.values(state.tunnelPorts), ...providers.flatMap((p) => [p.device, p.patchOnIntegration])]) await chassis.ofport(port);
  for (const peer of peers) {
    await chassis.knowPeer(peer);
    await peer.knowPeer(chassis);
  }
  return chassis;
}
