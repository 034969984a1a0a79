/**
 * The topology of the convergence benchmarks: 10 VXLAN networks with a /16 subnet
 * each, one router with an interface on each, and VM ports spread round-robin over
 * the networks, all on one chassis. Ids are derived from names, so the controller
 * side and the DB process agree without talking.
 */
import { defaultGroupRules } from '@dragonflow/api';
import { uuidV5, type TxnOp } from '@dragonflow/nb';
import { benchMac as mac, put } from './nb-process.js';

export const NETWORKS = 10;
export const VXLAN_OFPORT = 9000;
const NS = '5d0a7f7e-2b1c-4a55-9a3e-6c8f0e4b2d10';
export const id = (kind: string, n: number | string): string => uuidV5(NS, `${kind}-${n}`);

export interface VmPortOptions {
  /** Security groups of the port (none by default). */
  readonly securityGroupIds?: readonly string[];
  /** Port security (on by default, as Neutron). */
  readonly portSecurityEnabled?: boolean;
  readonly projectId?: string;
}

/** VM port `i` (0-based): network i % 10, key 100 + i (router interfaces have keys 1..10), IP 10.n.x.y; bound to `chassisId` (null: not bound yet). */
export function vmPort(i: number, chassisId: string | null, options: VmPortOptions = {}): TxnOp {
  const n = i % NETWORKS;
  const host = Math.floor(i / NETWORKS) + 2;
  return put('logical_port', {
    id: id('port', i),
    key: 100 + i,
    networkId: id('net', n),
    macAddress: mac(0x10000 + i),
    fixedIps: [{ subnetId: id('subnet', n), ipAddress: `10.${n}.${host >> 8}.${host & 255}` }],
    chassisId,
    deviceOwner: 'compute:nova',
    ...(options.projectId !== undefined ? { projectId: options.projectId } : {}),
    ...(options.securityGroupIds ? { securityGroupIds: [...options.securityGroupIds] } : {}),
    ...(options.portSecurityEnabled !== undefined ? { portSecurityEnabled: options.portSecurityEnabled } : {}),
  });
}

/** The NB before the bulk: chassis, networks, subnets, the router and its interfaces. */
export function baseTopology(chassisId: string, chassisName: string): TxnOp[] {
  const base: TxnOp[] = [put('chassis', { id: chassisId, name: chassisName, tunnelIp: '192.0.2.1', tunnelTypes: ['vxlan'] })];
  const routerPorts: Record<string, unknown>[] = [];
  for (let n = 0; n < NETWORKS; n++) {
    base.push(put('logical_switch', { id: id('net', n), key: n + 1, name: `net${n}`, networkType: 'vxlan', segmentationId: 1000 + n }));
    base.push(put('subnet', { id: id('subnet', n), networkId: id('net', n), ipVersion: 4, cidr: `10.${n}.0.0/16`, gatewayIp: `10.${n}.0.1` }));
    base.push(put('logical_port', { id: id('rif', n), key: n + 1, networkId: id('net', n), macAddress: mac(0xfe00 + n), fixedIps: [{ subnetId: id('subnet', n), ipAddress: `10.${n}.0.1` }], deviceOwner: 'network:router_interface', deviceId: id('router', 0) }));
    routerPorts.push({ portId: id('rif', n), networkId: id('net', n), subnetId: id('subnet', n), macAddress: mac(0xfe00 + n), ipAddress: `10.${n}.0.1`, cidr: `10.${n}.0.0/16` });
  }
  base.push(put('logical_router', { id: id('router', 0), key: 1, name: 'router0', ports: routerPorts }));
  return base;
}

/**
 * A project's `default` security group as df-api creates it (Neutron's four rules: any
 * egress, ingress from members, IPv4 and IPv6), key 1, plus `extra` ingress tcp rules
 * (ports 10000 + k) for the "one more rule" measurements.
 */
export function neutronDefaultGroup(groupId: string, projectId: string, extra: number): TxnOp {
  const ruleId = (n: number | string): string => uuidV5(NS, `rule-${groupId}-${n}`);
  return put('security_group', {
    id: groupId,
    key: 1,
    projectId,
    name: 'default',
    rules: [
      ...defaultGroupRules(groupId, ruleId),
      ...Array.from({ length: extra }, (_, k) => ({ id: ruleId(`x${k}`), direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 10000 + k, portRangeMax: 10000 + k })),
    ],
  });
}
