import { DfError, IpNetwork, MacAddress, parseIp } from '@dragonflow/base';
import { requireBinary, run, type RunResult } from '../exec.js';
import { addAddress, createNetns, createVethPair, ping } from '../netns.js';
import type { Chassis } from './chassis.js';
import { checkVmName, tapName, vmNetns } from './names.js';
import type { VmState } from './state.js';
import { VM_ADDRESSING, dhcpClientPid, readLease, startDhcpClient, stopDhcpClient, type DhcpLease, type VmAddressing } from './dhcp-client.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../process.js';

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
  /**
   * static (default): eth0 gets `ip`, `gateway` and `mtu` from the sandbox. dhclient or
   * udhcpc: eth0 starts bare (MTU 1500) and the VM's DHCP client configures it once
   * `startDhcp` runs (after the port is ACTIVE); `ip` is then the address expected.
   */
  addressing?: VmAddressing;
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

  private get dhcpDir(): string {
    const client = this.state.addressing ?? 'static';
    if (client === 'static' || !this.state.dir) throw new DfError('SANDBOX_BAD_VM', `VM ${this.name} is configured statically (create it with a DHCP client to use DHCP)`, { context: { vm: this.name } });
    return this.state.dir;
  }

  /** Runs the VM's DHCP client until it has a lease (the client then stays for renewals). */
  startDhcp(): Promise<DhcpLease> {
    const client = this.state.addressing;
    if (client !== 'dhclient' && client !== 'udhcpc') throw new DfError('SANDBOX_BAD_VM', `VM ${this.name} has no DHCP client`, { context: { vm: this.name } });
    return startDhcpClient(this.netns, this.state.device, this.dhcpDir, client, this.name);
  }

  /** The lease the client applied last (undefined before the first). */
  dhcpLease(): DhcpLease | undefined {
    return readLease(this.dhcpDir);
  }

  /** The client's lease events so far (`<time> <client> <event> <address>` lines). */
  dhcpEvents(): string[] {
    const file = join(this.dhcpDir, 'dhcp-events.log');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
  }

  /**
   * Asks the client for its lease again now: udhcpc renews (SIGUSR1: a unicast
   * REQUEST from its address), dhclient is restarted on its lease file (INIT-REBOOT:
   * a REQUEST for the address it holds). Resolves when the client recorded an answer.
   */
  async renewDhcp(timeoutMs = 15_000): Promise<DhcpLease> {
    const before = this.dhcpEvents().length;
    if (this.state.addressing === 'udhcpc') {
      const pid = dhcpClientPid(this.dhcpDir);
      if (!pid) throw new DfError('SANDBOX_DHCP_FAILED', `VM ${this.name}: udhcpc is not running`, { context: { vm: this.name } });
      process.kill(pid, 'SIGUSR1');
    } else {
      await this.startDhcp();
    }
    await waitFor(() => this.dhcpEvents().slice(before).find((l) => /\s(renew|bound|RENEW|REBOOT|BOUND)\s/.test(l)), { what: `VM ${this.name}'s DHCP renewal`, timeoutMs, intervalMs: 50 });
    return this.dhcpLease()!;
  }

  /** Stops the VM's DHCP client (its address stays). */
  stopDhcp(): Promise<void> {
    return stopDhcpClient(this.dhcpDir);
  }
}

export function planVm(tag: string, chassis: Chassis, options: VmOptions, dir?: string): VmState {
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
  const addressing = options.addressing ?? 'static';
  if (!VM_ADDRESSING.includes(addressing)) throw new DfError('SANDBOX_BAD_VM', `addressing '${String(addressing)}' is not one of ${VM_ADDRESSING.join(', ')}`, { context: { vm: options.name, key: 'addressing' } });
  const mtu = options.mtu ?? (addressing === 'static' ? 1400 : 1500);
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
    addressing,
    ...(dir !== undefined ? { dir } : {}),
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
  if ((state.addressing ?? 'static') === 'static') {
    await addAddress(state.device, state.ip, state.netns);
    if (state.gateway) await run('ip', ['route', 'add', 'default', 'via', state.gateway, 'dev', state.device], { netns: state.netns });
  }
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
