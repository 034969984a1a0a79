/**
 * The cloud of bench:scale-out, derived from a few numbers so the orchestrator and
 * every worker process agree on ids without talking.
 *
 * Tenants: one router with 10 networks of 10 VM ports each (100 ports), a DHCP port
 * and a router interface on every network, one security group per tenant (Neutron's
 * default rules: members of the group reach each other). A tenant's ports are spread
 * over `spread` consecutive chassis, tenants placed one after the other around the
 * chassis ring — as a scheduler spreading each project's VMs over a few hosts would.
 * Selective topology then gives a chassis exactly the tenants it hosts (their
 * networks are all one router hop apart), so a new port is needed on `spread`
 * chassis, whatever the size of the cloud.
 *
 * `hosts` chassis exist in the NB; the first `running` of them run a controller in
 * the bench. More hosts than running controllers makes a bigger cloud at the same
 * ports per chassis (the memory comparison).
 */
import { defaultGroupRules } from '@dragonflow/api';
import { chassisIdFromName, uuidV5, type TxnOp } from '@dragonflow/nb';
import { benchMac, put } from './nb-process.js';

export const PORTS_PER_NETWORK = 10;
export const NETWORKS_PER_ROUTER = 10;
export const PORTS_PER_TENANT = PORTS_PER_NETWORK * NETWORKS_PER_ROUTER;
/** br-int's VXLAN port on every chassis. */
export const VXLAN_OFPORT = 9000;

const NS = '3c1e9a52-7d04-4f6b-b1a8-0e5d2c7f9a34';
export const id = (kind: string, n: number | string): string => uuidV5(NS, `${kind}-${n}`);
export const chassisName = (c: number): string => `compute-${c}`;
/** As the chassis registry names it. */
export const chassisId = (c: number): string => chassisIdFromName(chassisName(c));

export interface CloudShape {
  /** VM ports in the NB before the measurements (a multiple of 100). */
  readonly ports: number;
  /** Chassis in the NB. */
  readonly hosts: number;
  /** Chassis 0 … running − 1 run a controller. */
  readonly running: number;
  /** Consecutive chassis a tenant's ports are spread over. */
  readonly spread: number;
}

export const tenants = (shape: CloudShape): number => shape.ports / PORTS_PER_TENANT;

/** The chassis tenant `t` spreads over. */
export function tenantChassis(shape: CloudShape, t: number): number[] {
  return Array.from({ length: shape.spread }, (_, j) => (t * shape.spread + j) % shape.hosts);
}

/** VM port `j` (0 … 99) of tenant `t`: its network, host chassis and addresses. */
export function vmPortOf(shape: CloudShape, t: number, j: number): { portId: string; host: number; global: number } {
  return { portId: id('port', `${t}-${j}`), host: tenantChassis(shape, t)[j % shape.spread]!, global: t * PORTS_PER_TENANT + j };
}

/** The VM ports bound to chassis `c`, with the ofport each is plugged on. */
export function portsOnChassis(shape: CloudShape, c: number): { portId: string; ofport: number }[] {
  const out: { portId: string; ofport: number }[] = [];
  for (let t = 0; t < tenants(shape); t++) {
    if (!tenantChassis(shape, t).includes(c)) continue;
    for (let j = 0; j < PORTS_PER_TENANT; j++) {
      const p = vmPortOf(shape, t, j);
      if (p.host === c) out.push({ portId: p.portId, ofport: out.length + 1 });
    }
  }
  return out;
}

const net = (t: number, n: number): number => t * NETWORKS_PER_ROUTER + n;
const subnetCidr = (g: number): string => `10.${(g >> 8) & 255}.${g & 255}.0/24`;
const address = (g: number, host: number): string => `10.${(g >> 8) & 255}.${g & 255}.${host}`;

function securityGroup(t: number): TxnOp {
  const group = id('sg', t);
  const rule = (k: number): string => id('rule', `${t}-${k}`);
  return put('security_group', {
    id: group,
    key: t + 1,
    projectId: `tenant-${t}`,
    name: 'default',
    rules: defaultGroupRules(group, rule),
  });
}

/** Tenant t's objects: networks, subnets, router interfaces, DHCP ports, router, group, VM ports. */
export function tenantOps(shape: CloudShape, t: number): TxnOp[] {
  const ops: TxnOp[] = [securityGroup(t)];
  const routerPorts: Record<string, unknown>[] = [];
  for (let n = 0; n < NETWORKS_PER_ROUTER; n++) {
    const g = net(t, n);
    const [netId, subnetId] = [id('net', g), id('subnet', g)];
    ops.push(put('logical_switch', { id: netId, key: g + 1, name: `net${g}`, networkType: 'vxlan', segmentationId: 1000 + g, projectId: `tenant-${t}` }));
    ops.push(put('subnet', { id: subnetId, networkId: netId, ipVersion: 4, cidr: subnetCidr(g), gatewayIp: address(g, 1), enableDhcp: true }));
    // Keys: router interfaces and DHCP ports below 2^20, VM ports above (globally unique).
    const rifMac = benchMac(0xe00000 + 2 * g);
    ops.push(put('logical_port', { id: id('rif', g), key: 1 + 2 * g, networkId: netId, macAddress: rifMac, fixedIps: [{ subnetId, ipAddress: address(g, 1) }], deviceOwner: 'network:router_interface', deviceId: id('router', t) }));
    ops.push(put('logical_port', { id: id('dhcp', g), key: 2 + 2 * g, networkId: netId, macAddress: benchMac(0xe00001 + 2 * g), fixedIps: [{ subnetId, ipAddress: address(g, 2) }], deviceOwner: 'network:dhcp', deviceId: `dhcp-${g}` }));
    routerPorts.push({ portId: id('rif', g), networkId: netId, subnetId, macAddress: rifMac, ipAddress: address(g, 1), cidr: subnetCidr(g) });
  }
  ops.push(put('logical_router', { id: id('router', t), key: t + 1, name: `router${t}`, ports: routerPorts }));
  for (let j = 0; j < PORTS_PER_TENANT; j++) ops.push(vmPort(shape, t, j, vmPortOf(shape, t, j)));
  return ops;
}

function vmPort(shape: CloudShape, t: number, j: number, p: { portId: string; host: number; global: number }, hostAddress = 10 + Math.floor(j / NETWORKS_PER_ROUTER)): TxnOp {
  const g = net(t, j % NETWORKS_PER_ROUTER);
  return put('logical_port', {
    id: p.portId,
    key: (1 << 20) + p.global,
    networkId: id('net', g),
    macAddress: benchMac(p.global + 1),
    fixedIps: [{ subnetId: id('subnet', g), ipAddress: address(g, hostAddress) }],
    chassisId: chassisId(p.host),
    deviceOwner: 'compute:nova',
    projectId: `tenant-${t}`,
    securityGroupIds: [id('sg', t)],
  });
}

/** Chassis records (a running chassis' controller then adds its liveness). */
export function chassisOps(shape: CloudShape): TxnOp[] {
  return Array.from({ length: shape.hosts }, (_, c) => put('chassis', chassisRecord(c)));
}

export function chassisRecord(c: number): { id: string; name: string; tunnelIp: string; tunnelTypes: 'vxlan'[] } {
  return { id: chassisId(c), name: chassisName(c), tunnelIp: `172.16.${c >> 8}.${c & 255}`, tunnelTypes: ['vxlan'] };
}

/**
 * Probe `k` (a port created during the measurements): in a tenant every chassis of
 * which runs a controller, bound to one of them. `needs` is every chassis whose
 * selective topology holds the port's network (the tenant's chassis).
 */
export function probe(shape: CloudShape, k: number): { portId: string; host: number; needs: number[]; op: TxnOp } {
  const eligible = Array.from({ length: tenants(shape) }, (_, t) => t).filter((t) => tenantChassis(shape, t).every((c) => c < shape.running));
  if (eligible.length === 0) throw new Error(`no tenant lies wholly on running chassis (${shape.running} running of ${shape.hosts}, spread ${shape.spread})`);
  const t = eligible[k % eligible.length]!;
  const round = Math.floor(k / eligible.length);
  const j = round % PORTS_PER_TENANT;
  const needs = tenantChassis(shape, t);
  const p = { portId: id('probe', k), host: needs[j % shape.spread]!, global: 5_000_000 + k };
  // Addresses .100 and up of the network: clear of the tenant's VM ports (.10 – .19).
  return { portId: p.portId, host: p.host, needs, op: vmPort(shape, t, j, p, 100 + Math.floor(round / NETWORKS_PER_ROUTER)) };
}
