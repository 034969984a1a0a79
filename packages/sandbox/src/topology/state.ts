import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfError } from '@dragonflow/base';
import type { VmAddressing } from './dhcp-client.js';
import type { TunnelType } from '@dragonflow/ovsdb';
import { isAlive, sleep } from '../process.js';

export const STATE_FILE = 'sandbox.json';
export const STATE_VERSION = 1;

/** The shared L2 segments, in a namespace of their own (nothing is added to the root namespace). */
export interface FabricState {
  readonly netns: string;
  /** Linux bridge joining every chassis' br-phy: the tunnel underlay. */
  readonly underlaySwitch: string;
  /** Linux bridge joining every chassis' provider bridge: the "physical" network for VLAN/flat. */
  readonly providerSwitch: string;
  readonly underlayCidr: string;
  /** With --external: the Linux bridge of the flat provider network `public`, and the outside world on it. */
  readonly publicSwitch?: string;
  readonly outside?: OutsideState;
}

/**
 * The outside world of a sandbox with an external network: a namespace playing the
 * upstream router of the provider network `public` and a host on the internet beyond it.
 */
export interface OutsideState {
  readonly netns: string;
  /** On the public segment (its fabric end is enslaved to the public switch). */
  readonly device: string;
  readonly fabricPort: string;
  /** The upstream router's address on the public segment, with prefix (172.24.4.1/24). */
  readonly routerIp: string;
  /** A second interface standing for a host on the internet, and its address with prefix (198.51.100.10/24). */
  readonly internetDevice: string;
  readonly internetIp: string;
}

export interface ProviderState {
  /** The physical network name Neutron uses (provider:physical_network). */
  readonly physnet: string;
  /** The chassis bridge for it (a bridge mapping `physnet:bridge`). */
  readonly bridge: string;
  /** The device on that bridge that leads to the fabric's provider switch. */
  readonly device: string;
  /** Patch port on br-int, and its peer on the provider bridge. */
  readonly patchOnIntegration: string;
  readonly patchOnProvider: string;
}

export interface ChassisState {
  readonly index: number;
  /** Chassis name, as the controller will register it. */
  readonly name: string;
  readonly netns: string;
  /** Directory with the database, sockets, pid and log files. */
  readonly dir: string;
  status: 'creating' | 'ready';
  pids?: { ovsdbServer: number; vswitchd: number };
  /** OVSDB remote reachable from the root namespace. */
  readonly ovsdbRemote: string;
  readonly integrationBridge: string;
  /** OpenFlow target vswitchd connects to: the controller listens on this unix socket. */
  readonly controllerTarget: string;
  /** br-int's management socket: `ovs-ofctl ... unix:PATH` works from the root namespace. */
  readonly integrationMgmtSocket: string;
  readonly datapathId: string;
  readonly tunnelIp: string;
  readonly underlayBridge: string;
  readonly underlayDevice: string;
  readonly tunnelPorts: Readonly<Partial<Record<TunnelType, string>>>;
  readonly provider: ProviderState | undefined;
  /** The flat provider network `public` (sandboxes made with --external), on a bridge of its own. */
  readonly external?: ProviderState;
}

export interface VmState {
  readonly name: string;
  readonly chassis: number;
  readonly netns: string;
  /** Inside the VM namespace. */
  readonly device: string;
  /** The switch side, in the chassis namespace, plugged into br-int. */
  readonly tap: string;
  /** external_ids:iface-id: the logical port this VM plugs into. */
  readonly portId: string;
  readonly mac: string;
  /** Address with prefix, e.g. 10.0.0.5/24. */
  readonly ip: string;
  readonly gateway: string | undefined;
  readonly mtu: number;
  /** static: the sandbox configured eth0; dhclient/udhcpc: a DHCP client in the VM did (absent in older states: static). */
  readonly addressing?: VmAddressing;
  /** The VM's own files (DHCP client script, lease, resolv.conf), under the sandbox directory. */
  readonly dir?: string;
  status: 'creating' | 'ready';
}

export interface SandboxState {
  readonly version: number;
  readonly tag: string;
  readonly dir: string;
  /** The sandbox removes `dir` on destroy only when it made it. */
  readonly dirCreated: boolean;
  readonly createdAt: string;
  readonly fabric: FabricState;
  chassis: ChassisState[];
  vms: VmState[];
}

export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

export function readState(dir: string): SandboxState {
  const path = statePath(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new DfError('SANDBOX_NOT_FOUND', `no sandbox in ${dir} (${path} cannot be read)`, { cause, context: { dir, file: path } });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new DfError('SANDBOX_STATE', `${path} is not valid JSON`, { cause, context: { file: path } });
  }
  const s = parsed as Partial<SandboxState>;
  if (typeof s !== 'object' || s === null || s.version !== STATE_VERSION || typeof s.tag !== 'string' || !Array.isArray(s.chassis) || !Array.isArray(s.vms) || !s.fabric) {
    throw new DfError('SANDBOX_STATE', `${path} is not a version ${STATE_VERSION} sandbox state file`, { context: { file: path, key: 'version' } });
  }
  return s as SandboxState;
}

/** Writes the state atomically (temp file + rename), so a reader never sees half a file. */
export function writeState(state: SandboxState): void {
  const path = statePath(state.dir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Serialises state changes between processes (a test and a CLI invocation may touch
 * the same sandbox): an exclusive lock file holding the owner's pid; a lock whose
 * owner is dead is taken over.
 */
export async function withStateLock<T>(dir: string, fn: () => Promise<T> | T, timeoutMs = 30_000): Promise<T> {
  const lock = join(dir, 'sandbox.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        // vanished in between: retry
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !isAlive(owner)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new DfError('SANDBOX_LOCKED', `sandbox ${dir} is locked by pid ${owner}`, { context: { dir, lock, owner } });
      }
      await sleep(25);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Where sandboxes register themselves, so leftovers can be attributed to a state file. */
export function registryDir(): string {
  return join(tmpdir(), 'df-sandbox-registry');
}

export function register(tag: string, dir: string): void {
  mkdirSync(registryDir(), { recursive: true, mode: 0o700 });
  writeFileSync(join(registryDir(), `${tag}.json`), JSON.stringify({ tag, dir }) + '\n');
}

export function unregister(tag: string): void {
  rmSync(join(registryDir(), `${tag}.json`), { force: true });
}

export interface RegistryEntry {
  readonly tag: string;
  readonly dir: string;
  /** The state file still exists. */
  readonly present: boolean;
}

export function listRegistry(): RegistryEntry[] {
  if (!existsSync(registryDir())) return [];
  const out: RegistryEntry[] = [];
  for (const file of readdirSync(registryDir())) {
    if (!file.endsWith('.json')) continue;
    try {
      const e = JSON.parse(readFileSync(join(registryDir(), file), 'utf8')) as { tag: string; dir: string };
      out.push({ tag: e.tag, dir: e.dir, present: existsSync(statePath(e.dir)) });
    } catch {
      // a half-written entry: ignore
    }
  }
  return out;
}
