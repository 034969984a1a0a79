import { DfError, IpNetwork, MacAddress, parseIp } from '@dragonflow/base';
import { requireBinary, run, type RunResult } from '../exec.js';
import { addAddress, createNetns, createVethPair, ping } from '../netns.js';
import type { Chassis } from './chassis.js';
import { checkVmName, tapName, vmNetns } from './names.js';
import type { VmState } from './state.js';

export interface VmOptions {
  name: string;
  /** Address with prefix length, e.g. '10.0.0.5/24'. */
  ip: string;
  mac: string;
  /** Default route via this address (the subnet's gateway), when given. */
  gateway?: string;
  /** external_ids:iface-id, the logical port id (default: the VM name). */
  portId?: string;
  /** Default 1400: leaves room for VXLAN/Geneve/GRE or a VLAN tag on a 1500-byte underlay. */
  mtu?: number;
}

/** A "VM": a namespace with eth0, whose peer is plugged into its chassis' br-int. */
export class Vm {
  constructor(
    readonly state: VmState,
    readonly chassis: Chassis,
  ) {}

  get name(): string {
    return this.state.name;
  }

  get netns(): string {
    return this.state.netns;
  }

  /** The IP address without prefix. */
  get address(): string {
    return this.state.ip.split('/')[0]!;
  }

  get mac(): string {
    return this.state.mac;
  }

  /** The VM's port number on br-int. */
  ofport(): Promise<number> {
    return this.chassis.ofport(this.state.tap);
  }

  exec(cmd: string, args: readonly string[], options: { timeoutMs?: number; allowFailure?: boolean } = {}): Promise<RunResult> {
    return run(cmd, args, { netns: this.state.netns, ...options });
  }

  ping(target: string, options: { count?: number; timeoutSec?: number; intervalSec?: number } = {}): Promise<boolean> {
    return ping(this.state.netns, target, options);
  }
}

export function planVm(tag: string, chassis: Chassis, options: VmOptions): VmState {
  checkVmName(options.name);
  const mac = MacAddress.parse(options.mac, 'mac');
  if (mac.isMulticast) throw new DfError('SANDBOX_BAD_VM', `VM MAC ${options.mac} is a multicast address`, { context: { vm: options.name } });
  const slash = options.ip.indexOf('/');
  if (slash < 0) throw new DfError('SANDBOX_BAD_VM', `VM address '${options.ip}' needs a prefix length (e.g. 10.0.0.5/24)`, { context: { vm: options.name, key: 'ip' } });
  const address = parseIp(options.ip.slice(0, slash), 'ip');
  const network = IpNetwork.parse(options.ip, 'ip', false);
  if (options.gateway !== undefined) {
    const gw = parseIp(options.gateway, 'gateway');
    if (!network.contains(gw)) {
      throw new DfError('SANDBOX_BAD_VM', `gateway ${options.gateway} is not in ${network.toString()}`, { context: { vm: options.name, key: 'gateway' } });
    }
  }
  const mtu = options.mtu ?? 1400;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw new DfError('SANDBOX_BAD_VM', `MTU ${mtu} is out of range 576..9000`, { context: { vm: options.name, key: 'mtu' } });
  const portId = options.portId ?? options.name;
  return {
    name: options.name,
    chassis: chassis.index,
    netns: vmNetns(tag, options.name),
    device: 'eth0',
    tap: tapName(portId),
    portId,
    mac: mac.toString(),
    ip: `${address.toString()}/${network.prefixLength}`,
    gateway: options.gateway,
    mtu,
    status: 'creating',
  };
}

/** Creates the namespace and veth, configures eth0 and plugs the tap into br-int with the iface-id. */
export async function buildVm(state: VmState, chassis: Chassis): Promise<Vm> {
  requireBinary('ethtool');
  await createNetns(state.netns);
  await createVethPair({ name: state.device, netns: state.netns, mac: state.mac, mtu: state.mtu }, { name: state.tap, netns: chassis.netns });
  // Without this, TCP/UDP leave the veth with partial checksums the userspace datapath never completes.
  await run('ethtool', ['-K', state.device, 'tx', 'off'], { netns: state.netns });
  await addAddress(state.device, state.ip, state.netns);
  if (state.gateway) await run('ip', ['route', 'add', 'default', 'via', state.gateway, 'dev', state.device], { netns: state.netns });
  await chassis.withVswitch((vs) =>
    vs.addPort(chassis.state.integrationBridge, state.tap, {
      externalIds: { 'iface-id': state.portId, 'attached-mac': state.mac, 'iface-status': 'active', 'df-vm': state.name },
    }),
  );
  const vm = new Vm(state, chassis);
  await vm.ofport();
  return vm;
}

/** Unplugs the VM from br-int (so a controller sees the unbind) before its namespace goes. */
export async function unplugVm(state: VmState, chassis: Chassis): Promise<void> {
  await chassis.withVswitch((vs) => vs.deletePort(chassis.state.integrationBridge, state.tap));
}
