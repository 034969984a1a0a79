import { IpNetwork, parseIp } from '@dragonflow/base';
import { nbInvalid } from '../errors.js';
import { isNetworkOrBroadcast } from '../model/subnet.js';
import type { NbObject, TableName } from '../model/tables.js';

/** What cross-object checks may read: the transaction's view (its own writes included). */
export interface CheckView {
  get<T extends TableName>(table: T, id: string): Promise<NbObject<T> | undefined>;
  lookup<T extends TableName>(table: T, index: string, value: string): Promise<NbObject<T>[]>;
  /** Makes the commit fail if (table, id) changes concurrently (bumps its version). */
  touch(table: TableName, id: string): Promise<void>;
}

type Checker<T extends TableName> = (obj: NbObject<T>, view: CheckView, old: NbObject<T> | undefined) => Promise<void>;

function invalid(table: TableName, obj: { id: string }, field: string, message: string): Error {
  return nbInvalid(`${table}.${field}: ${message}`, { table, id: obj.id, field });
}

const CHECKERS: { [T in TableName]?: Checker<T> } = {
  subnet: async (s, view, old) => {
    const net = IpNetwork.parse(s.cidr);
    for (const other of await view.lookup('subnet', 'network', s.networkId)) {
      if (other.id === s.id) continue;
      if (IpNetwork.parse(other.cidr).overlaps(net)) {
        throw invalid('subnet', s, 'cidr', `${s.cidr} overlaps ${other.cidr} of subnet ${other.id} on network ${s.networkId}`);
      }
    }
    // Two concurrent creates of overlapping subnets must not both pass: serialize them on the network.
    if (!old) await view.touch('logical_switch', s.networkId);
  },

  logical_port: async (p, view) => {
    for (const [i, f] of p.fixedIps.entries()) {
      const subnet = await view.get('subnet', f.subnetId);
      if (!subnet) continue; // the reference check names it
      if (subnet.networkId !== p.networkId) {
        throw invalid('logical_port', p, `fixedIps[${i}].subnetId`, `subnet ${f.subnetId} is on network ${subnet.networkId}, not on the port's network ${p.networkId}`);
      }
      const net = IpNetwork.parse(subnet.cidr);
      const ip = parseIp(f.ipAddress);
      if (!net.contains(ip)) throw invalid('logical_port', p, `fixedIps[${i}].ipAddress`, `${f.ipAddress} is outside subnet ${subnet.cidr}`);
      if (isNetworkOrBroadcast(net, ip)) throw invalid('logical_port', p, `fixedIps[${i}].ipAddress`, `${f.ipAddress} is the network or broadcast address of ${subnet.cidr}`);
    }
  },

  logical_router: async (r, view) => {
    for (const [i, rp] of r.ports.entries()) {
      const port = await view.get('logical_port', rp.portId);
      const subnet = await view.get('subnet', rp.subnetId);
      if (!port || !subnet) continue; // the reference check names it
      if (port.networkId !== rp.networkId) throw invalid('logical_router', r, `ports[${i}].networkId`, `port ${rp.portId} is on network ${port.networkId}, not ${rp.networkId}`);
      if (subnet.networkId !== rp.networkId) throw invalid('logical_router', r, `ports[${i}].subnetId`, `subnet ${rp.subnetId} is on network ${subnet.networkId}, not ${rp.networkId}`);
      if (subnet.cidr !== rp.cidr) throw invalid('logical_router', r, `ports[${i}].cidr`, `${rp.cidr} is not the CIDR of subnet ${rp.subnetId} (${subnet.cidr})`);
      if (port.macAddress !== rp.macAddress) throw invalid('logical_router', r, `ports[${i}].macAddress`, `${rp.macAddress} is not the MAC of port ${rp.portId} (${port.macAddress})`);
      if (!port.fixedIps.some((f) => f.subnetId === rp.subnetId && f.ipAddress === rp.ipAddress)) {
        throw invalid('logical_router', r, `ports[${i}].ipAddress`, `port ${rp.portId} has no fixed IP ${rp.ipAddress} on subnet ${rp.subnetId}`);
      }
    }
    const gw = r.externalGateway;
    if (gw) {
      const net = await view.get('logical_switch', gw.networkId);
      if (net && !net.external) throw invalid('logical_router', r, 'externalGateway.networkId', `network ${gw.networkId} is not external`);
      const port = await view.get('logical_port', gw.portId);
      if (port && port.networkId !== gw.networkId) throw invalid('logical_router', r, 'externalGateway.portId', `port ${gw.portId} is on network ${port.networkId}, not ${gw.networkId}`);
      for (const [i, f] of gw.fixedIps.entries()) {
        const subnet = await view.get('subnet', f.subnetId);
        if (subnet && subnet.networkId !== gw.networkId) {
          throw invalid('logical_router', r, `externalGateway.fixedIps[${i}].subnetId`, `subnet ${f.subnetId} is not on the gateway network ${gw.networkId}`);
        }
        if (port && !port.fixedIps.some((p) => p.ipAddress === f.ipAddress)) {
          throw invalid('logical_router', r, `externalGateway.fixedIps[${i}].ipAddress`, `${f.ipAddress} is not an address of gateway port ${gw.portId}`);
        }
      }
    }
  },

  floating_ip: async (f, view) => {
    const net = await view.get('logical_switch', f.floatingNetworkId);
    if (net && !net.external) throw invalid('floating_ip', f, 'floatingNetworkId', `network ${f.floatingNetworkId} is not external`);
    const ip = parseIp(f.floatingIpAddress);
    const subnets = await view.lookup('subnet', 'network', f.floatingNetworkId);
    if (net && !subnets.some((s) => IpNetwork.parse(s.cidr).contains(ip))) {
      throw invalid('floating_ip', f, 'floatingIpAddress', `${f.floatingIpAddress} is in no subnet of network ${f.floatingNetworkId}`);
    }
    if (f.floatingPortId !== null) {
      const fport = await view.get('logical_port', f.floatingPortId);
      if (fport && fport.networkId !== f.floatingNetworkId) {
        throw invalid('floating_ip', f, 'floatingPortId', `port ${f.floatingPortId} is on network ${fport.networkId}, not ${f.floatingNetworkId}`);
      }
      if (fport && !fport.fixedIps.some((x) => x.ipAddress === f.floatingIpAddress)) {
        throw invalid('floating_ip', f, 'floatingPortId', `port ${f.floatingPortId} does not hold ${f.floatingIpAddress}`);
      }
    }
    if (f.portId !== null && f.fixedIpAddress !== null) {
      const port = await view.get('logical_port', f.portId);
      if (port && !port.fixedIps.some((x) => x.ipAddress === f.fixedIpAddress)) {
        throw invalid('floating_ip', f, 'fixedIpAddress', `${f.fixedIpAddress} is not a fixed IP of port ${f.portId}`);
      }
    }
  },
};

/** Runs the cross-object checks of `table` on `obj` (references are checked separately). */
export async function checkObject<T extends TableName>(table: T, obj: NbObject<T>, view: CheckView, old: NbObject<T> | undefined): Promise<void> {
  const checker = CHECKERS[table] as Checker<T> | undefined;
  if (!checker) return;
  await checker(obj, view, old);
}
