import { DfError } from '@dragonflow/base';
import { shortId } from '../tmp.js';

/**
 * Every namespace a sandbox creates starts with this prefix followed by the sandbox's
 * tag, so leftovers can be found (and attributed) after a crash.
 */
export const SANDBOX_PREFIX = 'dfsb';

const TAG_RE = /^dfsb[a-z0-9]{4}$/;
const VM_NAME_RE = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** A fresh sandbox tag, e.g. `dfsbq3x9`. */
export function newSandboxTag(): string {
  return `${SANDBOX_PREFIX}${shortId(4)}`;
}

export function isSandboxTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** The tag a sandbox namespace belongs to, or undefined for other namespaces. */
export function tagOfNetns(netns: string): string | undefined {
  const m = /^(dfsb[a-z0-9]{4})-/.exec(netns);
  return m ? m[1] : undefined;
}

/** The namespace that holds the shared L2 segments (underlay and provider). */
export function fabricNetns(tag: string): string {
  return `${tag}-fabric`;
}

export function chassisNetns(tag: string, index: number): string {
  return `${tag}-c${index}`;
}

/** The namespace playing the upstream router and the internet (sandboxes with an external network). */
export function outsideNetns(tag: string): string {
  return `${tag}-outside`;
}

export function vmNetns(tag: string, vm: string): string {
  return `${tag}-vm-${vm}`;
}

export function checkVmName(name: string): void {
  if (!VM_NAME_RE.test(name)) {
    throw new DfError('SANDBOX_BAD_NAME', `VM name '${name}' must be 1-31 lowercase letters, digits or '-'`, { context: { vm: name } });
  }
}

export function checkChassisIndex(index: number): void {
  if (!Number.isInteger(index) || index < 1 || index > 200) {
    throw new DfError('SANDBOX_BAD_NAME', `chassis index ${index} must be an integer 1..200`, { context: { chassis: index } });
  }
}

/**
 * The switch-side device of a VM, in its chassis' namespace: `tap` + the first 11
 * characters of the logical port id (the Neutron convention; Linux allows 15).
 */
export function tapName(portId: string): string {
  const cleaned = portId.toLowerCase().replace(/[^a-z0-9-]/g, '');
  if (cleaned.length === 0) throw new DfError('SANDBOX_BAD_NAME', `port id '${portId}' gives no usable device name`, { context: { portId } });
  return `tap${cleaned.slice(0, 11)}`;
}

/** Fixed names inside a chassis namespace (each chassis has its own, so they never clash). */
export const CHASSIS_DEVICES = {
  integrationBridge: 'br-int',
  underlayBridge: 'br-phy',
  underlayDevice: 'ul0',
  providerDevice: 'px0',
  externalDevice: 'pb0',
} as const;

/** Fixed names inside the fabric namespace. */
export const FABRIC_DEVICES = {
  underlaySwitch: 'br-underlay',
  providerSwitch: 'br-provider',
  underlayPort: (chassis: number) => `c${chassis}-ul`,
  providerPort: (chassis: number) => `c${chassis}-px`,
  publicSwitch: 'br-public',
  publicPort: (chassis: number) => `c${chassis}-pb`,
  outsidePort: 'outside',
} as const;

/**
 * The external network of `dfctl sandbox up --external` (devstack's layout): the flat
 * provider network `public` on each chassis' bridge `br-public`; in the outside
 * namespace the upstream router on the public segment and an internet host beyond it.
 */
export const EXTERNAL = {
  physnet: 'public',
  bridge: 'br-public',
  cidr: '172.24.4.0/24',
  routerIp: '172.24.4.1',
  internetIp: '198.51.100.10',
  internetCidr: '198.51.100.0/24',
} as const;
