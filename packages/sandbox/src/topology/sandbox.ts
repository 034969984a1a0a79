import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DfError, IpNetwork, describeError } from '@dragonflow/base';
import { run } from '../exec.js';
import { createNetns, deleteLink, listNetns } from '../netns.js';
import { isAlive, stopPid, waitFor } from '../process.js';
import { makeTempDir } from '../tmp.js';
import { Chassis, buildChassis, planChassis, restartChassisSwitch, type ChassisOptions } from './chassis.js';
import { FABRIC_DEVICES, checkChassisIndex, fabricNetns, newSandboxTag } from './names.js';
import { Outside, buildOutside, planOutside } from './outside.js';
import { removeNetns } from './netns-procs.js';
import { STATE_VERSION, readState, register, statePath, unregister, withStateLock, writeState, type SandboxState } from './state.js';
import { Vm, buildVm, planVm, unplugVm, type VmOptions } from './vm.js';

export interface SandboxOptions {
  /** Directory for the state file and every chassis' files (a new temp dir when absent). */
  dir?: string;
  /** Underlay subnet; chassis N gets its Nth address as tunnel IP (default 172.31.0.0/24, private to the sandbox). */
  underlayCidr?: string;
  /**
   * An external network: the fabric gets the public segment (flat provider network
   * `public`) and the outside namespace on it (upstream router 172.24.4.1, internet host
   * 198.51.100.10); chassis made with `external: true` join it. See docs/sandbox-dataplane.md.
   */
  external?: boolean;
}

export interface ChassisStatus {
  readonly index: number;
  readonly name: string;
  readonly netns: string;
  readonly netnsPresent: boolean;
  readonly ovsdbServerAlive: boolean;
  readonly vswitchdAlive: boolean;
  readonly tunnelIp: string;
  readonly ovsdbRemote: string;
  readonly controllerTarget: string;
  readonly status: string;
}

export interface VmStatus {
  readonly name: string;
  readonly chassis: number;
  readonly netnsPresent: boolean;
  readonly portId: string;
  readonly mac: string;
  readonly ip: string;
  /** The tap's OpenFlow port, when its chassis answers and the port is numbered. */
  readonly ofport: number | undefined;
  readonly status: string;
}

export interface SandboxStatus {
  readonly tag: string;
  readonly dir: string;
  readonly fabricPresent: boolean;
  /** The outside namespace (sandboxes with an external network). */
  readonly outside?: { readonly netns: string; readonly present: boolean; readonly routerIp: string; readonly internetIp: string };
  readonly chassis: readonly ChassisStatus[];
  readonly vms: readonly VmStatus[];
}

/**
 * A multi-chassis Open vSwitch sandbox on one machine, described entirely by a JSON
 * state file in its directory, so one process can create it and another (a later
 * `dfctl sandbox` invocation) can inspect or destroy it.
 *
 * Layout: a fabric namespace holds two Linux bridges (underlay, provider); each chassis
 * is a namespace with its own ovsdb-server and ovs-vswitchd; each VM is a namespace
 * with eth0 whose peer is plugged into its chassis' br-int. Nothing is added to the
 * root namespace. See docs/sandbox-dataplane.md.
 */
export class Sandbox {
  private constructor(private current: SandboxState) {}

  /** Creates the sandbox directory, its state file and the fabric. */
  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    const dirCreated = options.dir === undefined;
    const dir = options.dir ?? makeTempDir('df-sandbox-');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (existsSync(statePath(dir))) {
      throw new DfError('SANDBOX_EXISTS', `${dir} already holds a sandbox (${statePath(dir)}); destroy it first`, { context: { dir } });
    }
    const underlayCidr = IpNetwork.parse(options.underlayCidr ?? '172.31.0.0/24', 'underlayCidr').toString();
    const tag = newSandboxTag();
    const state: SandboxState = {
      version: STATE_VERSION,
      tag,
      dir,
      dirCreated,
      createdAt: new Date().toISOString(),
      fabric: {
        netns: fabricNetns(tag),
        underlaySwitch: FABRIC_DEVICES.underlaySwitch,
        providerSwitch: FABRIC_DEVICES.providerSwitch,
        underlayCidr,
        ...(options.external ? { publicSwitch: FABRIC_DEVICES.publicSwitch, outside: planOutside(tag) } : {}),
      },
      chassis: [],
      vms: [],
    };
    writeState(state);
    register(tag, dir);
    const sandbox = new Sandbox(state);
    try {
      await sandbox.buildFabric();
    } catch (err) {
      await sandbox.destroy().catch(() => undefined);
      throw err;
    }
    return sandbox;
  }

  /** Opens an existing sandbox from its directory. */
  static load(dir: string): Sandbox {
    return new Sandbox(readState(dir));
  }

  get state(): Readonly<SandboxState> {
    return this.current;
  }

  get dir(): string {
    return this.current.dir;
  }

  get tag(): string {
    return this.current.tag;
  }

  chassis(index: number): Chassis {
    const c = this.current.chassis.find((x) => x.index === index);
    if (!c) throw new DfError('SANDBOX_NO_CHASSIS', `sandbox ${this.tag} has no chassis ${index}`, { context: { chassis: index, dir: this.dir } });
    return new Chassis(c);
  }

  listChassis(): Chassis[] {
    return this.current.chassis.map((c) => new Chassis(c));
  }

  vm(name: string): Vm {
    const v = this.current.vms.find((x) => x.name === name);
    if (!v) throw new DfError('SANDBOX_NO_VM', `sandbox ${this.tag} has no VM ${name}`, { context: { vm: name, dir: this.dir } });
    return new Vm(v, this.chassis(v.chassis));
  }

  /** The outside namespace (sandboxes made with `external`). */
  outside(): Outside {
    const o = this.current.fabric.outside;
    if (!o) throw new DfError('SANDBOX_NO_EXTERNAL', `sandbox ${this.tag} has no external network (bring it up with --external)`, { context: { dir: this.dir } });
    return new Outside(o);
  }

  listVms(): Vm[] {
    return this.current.vms.map((v) => new Vm(v, this.chassis(v.chassis)));
  }

  /** Creates chassis `index` (1-based; its tunnel IP is the index-th address of the underlay). */
  async createChassis(index: number, options: ChassisOptions = {}): Promise<Chassis> {
    checkChassisIndex(index);
    const planned = planChassis({ tag: this.tag, index, dir: this.dir, fabric: this.current.fabric, options });
    await this.mutate((s) => {
      if (s.chassis.some((c) => c.index === index)) {
        throw new DfError('SANDBOX_EXISTS', `chassis ${index} already exists in sandbox ${s.tag}`, { context: { chassis: index } });
      }
      s.chassis.push(planned);
    });
    try {
      await buildChassis(planned, this.current.fabric, options, (pids) =>
        this.mutate((s) => {
          const c = s.chassis.find((x) => x.index === index)!;
          c.pids = { ...pids };
        }),
      );
      await this.mutate((s) => {
        s.chassis.find((x) => x.index === index)!.status = 'ready';
      });
      const chassis = this.chassis(index);
      // Each pair of chassis knows the other's underlay MAC before the first tunnelled packet.
      for (const peer of this.current.chassis.filter((c) => c.index !== index && c.status === 'ready').map((c) => new Chassis(c))) {
        await chassis.knowPeer(peer);
        await peer.knowPeer(chassis);
      }
      return chassis;
    } catch (err) {
      await this.removeChassis(index).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Kills the switch of a chassis — ovs-vswitchd and ovsdb-server — with SIGKILL (a
   * crash of the machine's switch; its controller is the caller's). The namespace,
   * its devices and the database file stay, for startSwitch.
   */
  async killSwitch(index: number): Promise<void> {
    const c = this.current.chassis.find((x) => x.index === index);
    if (!c) throw new DfError('SANDBOX_NO_CHASSIS', `sandbox ${this.tag} has no chassis ${index}`, { context: { chassis: index } });
    if (!c.pids) return;
    const pids = [c.pids.vswitchd, c.pids.ovsdbServer];
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await waitFor(() => pids.every((p) => !isAlive(p)), { what: `the switch of ${c.name} to exit`, timeoutMs: 5_000 });
  }

  /** Starts the switch of a chassis killed by killSwitch again (see restartChassisSwitch). */
  async startSwitch(index: number): Promise<Chassis> {
    const c = this.current.chassis.find((x) => x.index === index);
    if (!c) throw new DfError('SANDBOX_NO_CHASSIS', `sandbox ${this.tag} has no chassis ${index}`, { context: { chassis: index } });
    if (c.pids && (isAlive(c.pids.vswitchd) || isAlive(c.pids.ovsdbServer))) throw new DfError('SANDBOX_EXISTS', `the switch of ${c.name} is running (pids ${c.pids.ovsdbServer}, ${c.pids.vswitchd}): kill it first`, { context: { chassis: index } });
    const peers = this.current.chassis.filter((x) => x.index !== index && x.status === 'ready' && x.pids && isAlive(x.pids.vswitchd)).map((x) => new Chassis(x));
    return restartChassisSwitch(c, this.current.fabric, peers, (pids) =>
      this.mutate((s) => {
        s.chassis.find((x) => x.index === index)!.pids = { ...pids };
      }),
    );
  }

  /** Creates a VM on a chassis and plugs it into br-int with its iface-id. */
  async createVm(on: Chassis | number, options: VmOptions): Promise<Vm> {
    const chassis = typeof on === 'number' ? this.chassis(on) : this.chassis(on.index);
    const planned = planVm(this.tag, chassis, options, join(this.dir, 'vms', options.name));
    await this.mutate((s) => {
      if (s.vms.some((v) => v.name === planned.name)) throw new DfError('SANDBOX_EXISTS', `VM ${planned.name} already exists`, { context: { vm: planned.name } });
      const clash = s.vms.find((v) => v.chassis === planned.chassis && v.tap === planned.tap);
      if (clash) {
        throw new DfError('SANDBOX_EXISTS', `VM ${clash.name} already uses device ${planned.tap} on ${chassis.name}: choose another port id`, { context: { vm: planned.name } });
      }
      s.vms.push(planned);
    });
    try {
      await buildVm(planned, chassis);
      await this.mutate((s) => {
        s.vms.find((v) => v.name === planned.name)!.status = 'ready';
      });
      return this.vm(planned.name);
    } catch (err) {
      await this.deleteVm(planned.name).catch(() => undefined);
      throw err;
    }
  }

  /** Unplugs the VM and removes its namespace (which takes both veth ends with it). */
  async deleteVm(name: string): Promise<void> {
    const v = this.current.vms.find((x) => x.name === name);
    if (!v) throw new DfError('SANDBOX_NO_VM', `sandbox ${this.tag} has no VM ${name}`, { context: { vm: name } });
    const errors: string[] = [];
    const chassis = this.current.chassis.find((c) => c.index === v.chassis);
    if (chassis?.pids && isAlive(chassis.pids.ovsdbServer)) {
      await unplugVm(v, new Chassis(chassis)).catch((err) => errors.push(`unplug ${v.tap}: ${describeError(err)}`));
    }
    // Delete the veth from the VM's side (its namespace is ours, so eth0 there is ours): that
    // removes the tap at once, whereas `ip netns delete` destroys devices asynchronously.
    // Never delete the tap by name: after a failed create it may be someone else's device.
    await deleteLink(v.device, v.netns).catch((err) => errors.push(`link ${v.device} in ${v.netns}: ${describeError(err)}`));
    await removeNetns(v.netns).catch((err) => errors.push(`netns ${v.netns}: ${describeError(err)}`));
    await this.mutate((s) => {
      s.vms = s.vms.filter((x) => x.name !== name);
    });
    if (errors.length > 0) throw new DfError('SANDBOX_TEARDOWN', `VM ${name} removed with errors: ${errors.join('; ')}`, { context: { vm: name, errors } });
  }

  /**
   * Removes everything the sandbox created — VMs, daemons (by pid, and any process left
   * in its namespaces), namespaces (and with them every veth and Linux bridge), files —
   * continuing past failures, then reports them all in one error.
   */
  async destroy(): Promise<void> {
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${describeError(err)}`);
      }
    };
    for (const v of [...this.current.vms]) await attempt(`VM ${v.name}`, () => removeNetns(v.netns));
    for (const c of [...this.current.chassis]) {
      if (c.pids) {
        await attempt(`ovs-vswitchd of ${c.name}`, () => stopPid(c.pids!.vswitchd));
        await attempt(`ovsdb-server of ${c.name}`, () => stopPid(c.pids!.ovsdbServer));
      }
      await attempt(`netns ${c.netns}`, () => removeNetns(c.netns));
    }
    const outside = this.current.fabric.outside;
    if (outside) await attempt(`netns ${outside.netns}`, () => removeNetns(outside.netns));
    await attempt(`netns ${this.current.fabric.netns}`, () => removeNetns(this.current.fabric.netns));
    // Anything with our tag that the state file missed (e.g. a crash between steps).
    await attempt('stray namespaces', async () => {
      for (const ns of await listNetns()) if (ns.startsWith(`${this.tag}-`)) await removeNetns(ns);
    });
    await attempt('files', async () => {
      if (this.current.dirCreated) rmSync(this.dir, { recursive: true, force: true });
      else {
        for (const c of this.current.chassis) rmSync(c.dir, { recursive: true, force: true });
        rmSync(statePath(this.dir), { force: true });
      }
    });
    unregister(this.tag);
    this.current = { ...this.current, chassis: [], vms: [] };
    if (errors.length > 0) {
      throw new DfError('SANDBOX_TEARDOWN', `sandbox ${this.tag} torn down with errors:\n  ${errors.join('\n  ')}`, { context: { dir: this.dir, errors } });
    }
  }

  /** What is running: namespaces present, daemons alive, VM ports numbered. */
  async status(): Promise<SandboxStatus> {
    const present = new Set(await listNetns());
    const chassis: ChassisStatus[] = this.current.chassis.map((c) => ({
      index: c.index,
      name: c.name,
      netns: c.netns,
      netnsPresent: present.has(c.netns),
      ovsdbServerAlive: c.pids ? isAlive(c.pids.ovsdbServer) : false,
      vswitchdAlive: c.pids ? isAlive(c.pids.vswitchd) : false,
      tunnelIp: c.tunnelIp,
      ovsdbRemote: c.ovsdbRemote,
      controllerTarget: c.controllerTarget,
      status: c.status,
    }));
    const vms: VmStatus[] = [];
    for (const v of this.current.vms) {
      const c = chassis.find((x) => x.index === v.chassis);
      let ofport: number | undefined;
      if (c?.ovsdbServerAlive) {
        try {
          const state = await this.chassis(v.chassis).withVswitch((vs) => vs.getInterface(v.tap));
          ofport = state?.ofport !== undefined && state.ofport > 0 ? state.ofport : undefined;
        } catch {
          ofport = undefined;
        }
      }
      vms.push({ name: v.name, chassis: v.chassis, netnsPresent: present.has(v.netns), portId: v.portId, mac: v.mac, ip: v.ip, ofport, status: v.status });
    }
    const o = this.current.fabric.outside;
    const outside = o ? { outside: { netns: o.netns, present: present.has(o.netns), routerIp: o.routerIp, internetIp: o.internetIp } } : {};
    return { tag: this.tag, dir: this.dir, fabricPresent: present.has(this.current.fabric.netns), ...outside, chassis, vms };
  }

  private async buildFabric(): Promise<void> {
    const f = this.current.fabric;
    await createNetns(f.netns);
    // The fabric is plumbing: keep it quiet (no IPv6 router/MLD chatter on the segments).
    await run('sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns: f.netns });
    for (const sw of [f.underlaySwitch, f.providerSwitch, ...(f.publicSwitch ? [f.publicSwitch] : [])]) {
      await run('ip', ['link', 'add', sw, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'], { netns: f.netns });
      await run('ip', ['link', 'set', sw, 'up'], { netns: f.netns });
    }
    if (f.outside) await buildOutside(f.outside, f);
  }

  private async removeChassis(index: number): Promise<void> {
    const c = this.current.chassis.find((x) => x.index === index);
    if (!c) return;
    if (c.pids) {
      await stopPid(c.pids.vswitchd);
      await stopPid(c.pids.ovsdbServer);
    }
    // Delete the veths first (see deleteVm) so the fabric ends are gone when this returns.
    for (const dev of [c.underlayDevice, ...[c.provider, c.external].flatMap((p) => (p ? [p.device] : []))]) await deleteLink(dev, c.netns).catch(() => undefined);
    await removeNetns(c.netns);
    rmSync(c.dir, { recursive: true, force: true });
    await this.mutate((s) => {
      s.chassis = s.chassis.filter((x) => x.index !== index);
    });
  }

  private async mutate(fn: (s: SandboxState) => void): Promise<void> {
    await withStateLock(this.dir, () => {
      const fresh = readState(this.dir);
      fn(fresh);
      writeState(fresh);
      this.current = fresh;
    });
  }
}
