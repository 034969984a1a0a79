/**
 * The scenario bench:vs-ovn runs on both controllers (Dragonflow and OVN), at equal
 * features: 10 networks with a /16 subnet each and DHCP on, one router with an
 * interface on each, N VM ports round-robin over the networks on one chassis, port
 * security on, every port in the project's default security group (Neutron's four
 * rules). Ports, MACs and addresses are those of convergence-topology.ts, so both
 * sides and the DB process agree without talking.
 */
import { readFileSync } from 'node:fs';
import { waitFor, type OvsInstance } from '@dragonflow/sandbox';
import { benchMac } from './nb-process.js';
import { NETWORKS } from './convergence-topology.js';

/** What one side measured for one N. */
export interface SideResult {
  readonly side: 'dragonflow' | 'ovn';
  readonly ports: number;
  /** Bulk commit of N ports → every flow installed. */
  readonly bulkMs: number;
  /** Flows in br-int afterwards (ovs-ofctl dump-flows). */
  readonly flows: number;
  /** The local controller's resident memory afterwards (df-controller / ovn-controller). */
  readonly controllerRss: number;
  /** CPU seconds over the bulk: the local controller, ovs-vswitchd, and the central pieces (our NB DB process / OVN's northd + NB + SB). */
  readonly cpu: { readonly controller: number; readonly vswitchd: number; readonly central: number };
  /** Resident memory of the central pieces (our NB DB process / northd + NB + SB ovsdb-servers). */
  readonly centralRss: number;
  /** One more port, bound, its interface present: commit → installed (ms, one per repetition). */
  readonly onePort: readonly number[];
  /** One more port already in the NB: plug its interface → ACTIVE / up=true (ms). */
  readonly plug: readonly number[];
  /** One more ingress rule in the group of N ports: commit → installed (ms). */
  readonly oneRule: readonly number[];
}

/** Repetitions of each single-change measurement (DF_BENCH_REPEATS, default 10: fewer keep an N = 10,000 run within minutes). */
export const REPEATS = Number(process.env['DF_BENCH_REPEATS'] ?? 10);

/** Port i's network (0-based), MAC and IPv4 address (as vmPort in convergence-topology.ts). */
export function portAddress(i: number): { network: number; mac: string; ip: string } {
  const network = i % NETWORKS;
  const host = Math.floor(i / NETWORKS) + 2;
  return { network, mac: benchMac(0x10000 + i), ip: `10.${network}.${host >> 8}.${host & 255}` };
}

/** The OVS interface of port i on both sides. */
export const ifaceName = (i: number): string => `vm${i}`;

/**
 * The VM interfaces' OVS type (DF_BENCH_VM_IFACE): `internal` (default) is a tap
 * device the userspace datapath polls like a VM's; `dummy` is Open vSwitch's own test
 * netdev (ovs-vswitchd started with `--enable-dummy`), with no kernel device and
 * nothing to poll. With 10,000 taps vswitchd's main loop spent seconds per iteration
 * polling them and took ~220 flow-mods/s; with dummy interfaces it does not. The
 * controller binds both alike — an interface on br-int with `external_ids:iface-id`
 * and an ofport; only plumbing types (patch, tunnels) are left out — so the flows
 * and the binding are the same; no packet goes through a dummy interface.
 */
export const VM_IFACE_TYPE: 'internal' | 'dummy' = process.env['DF_BENCH_VM_IFACE'] === 'dummy' ? 'dummy' : 'internal';

/** Network n's router interface MAC and address (as baseTopology), and its DHCP server's address (clear of every VM's). */
export const routerMac = (n: number): string => benchMac(0xfe00 + n);
export const dhcpServerIp = (n: number): string => `10.${n}.255.254`;
export const dhcpServerMac = (n: number): string => benchMac(0xfd00 + n);

/** Resident memory of a process, bytes (VmRSS). */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** The number of flows an `ovs-ofctl dump-flows` printed (one per line after the reply header). */
export function countFlows(dump: string): number {
  return dump.split('\n').filter((l) => l.includes('actions=')).length;
}

/** Interfaces per OVSDB transaction when adding the VM interfaces (one argument of ovsdb-client stays below Linux's 128 KiB). */
const ADD_BATCH = 300;

/**
 * Adds the VM interfaces (internal ports on br-int, or dummy ones: VM_IFACE_TYPE; `iface-id` from `ifaceId`) and
 * waits until Open vSwitch gave each an OpenFlow port. Thousands go in as plain OVSDB
 * transactions (ovsdb-client: Interface and Port rows and one mutation of the
 * bridge's ports), which do not wait for ovs-vswitchd: ovs-vsctl's add-port reads
 * the whole switch configuration and waits for a reconfiguration that takes seconds
 * with thousands of ports on the userspace datapath — 200 per call hit its 10 s
 * timeout at ~4,800 ports. The wait is on the ofports instead.
 */
export async function addVmInterfaces(ovs: OvsInstance, indexes: readonly number[], ifaceId: (i: number) => string): Promise<void> {
  // A few (the single plugs that are timed): ovs-vsctl, which returns once ovs-vswitchd has them.
  if (indexes.length <= 10) {
    // 120 s, not ovs.vsctl's 10: with 10,000 ports each of vswitchd's reconfigurations takes seconds.
    const adds = indexes.flatMap((i) => ['--', 'add-port', 'br-int', ifaceName(i), '--', 'set', 'interface', ifaceName(i), `type=${VM_IFACE_TYPE}`, `external_ids:iface-id=${ifaceId(i)}`]).slice(1);
    await ovs.tool('ovs-vsctl', [`--db=${ovs.dbRemote}`, '--timeout=120', ...adds]);
    return;
  }
  for (let at = 0; at < indexes.length; at += ADD_BATCH) {
    const ops: unknown[] = [];
    const ports: unknown[] = [];
    for (const i of indexes.slice(at, at + ADD_BATCH)) {
      ops.push({ op: 'insert', table: 'Interface', row: { name: ifaceName(i), type: VM_IFACE_TYPE, external_ids: ['map', [['iface-id', ifaceId(i)]]] }, 'uuid-name': `i${i}` });
      ops.push({ op: 'insert', table: 'Port', row: { name: ifaceName(i), interfaces: ['named-uuid', `i${i}`] }, 'uuid-name': `p${i}` });
      ports.push(['named-uuid', `p${i}`]);
    }
    ops.push({ op: 'mutate', table: 'Bridge', where: [['name', '==', 'br-int']], mutations: [['ports', 'insert', ['set', ports]]] });
    const reply = await ovs.tool('ovsdb-client', ['transact', ovs.dbRemote, JSON.stringify(['Open_vSwitch', ...ops])]);
    if (reply.includes('"error"')) throw new Error(`adding VM interfaces ${indexes[at]}…: ${reply.slice(0, 500)}`);
  }
  const wanted = new Set(indexes.map(ifaceName));
  await waitFor(
    async () => {
      const out = await ovs.tool('ovs-vsctl', [`--db=${ovs.dbRemote}`, '--timeout=30', '--format=csv', '--no-headings', '--columns=name,ofport', 'list', 'interface']);
      let ready = 0;
      for (const line of out.split('\n')) {
        const [name, ofport] = line.split(',');
        if (name !== undefined && wanted.has(name.replace(/"/g, '')) && Number(ofport) > 0) ready++;
      }
      return ready === wanted.size;
    },
    { what: `${wanted.size} VM interfaces with an ofport`, timeoutMs: 60_000 + 30 * wanted.size, intervalMs: 500 },
  );
}
