import { MacAddress } from '@dragonflow/base';
import type { Row } from './operations.js';
import { mapToRecord, optional, Uuid } from './values.js';
import type { InterfaceState } from './vswitch-types.js';

function macOrUndefined(text: string | undefined): MacAddress | undefined {
  if (!text) return undefined;
  try {
    return MacAddress.parse(text);
  } catch {
    // OVS or another tool wrote something that is not a MAC: treat it as absent.
    return undefined;
  }
}

function upDown(v: string | undefined): 'up' | 'down' | undefined {
  return v === 'up' || v === 'down' ? v : undefined;
}

/** Builds the typed state of an Interface row (plus the Port and Bridge rows that hold it). */
export function interfaceStateFromRows(iface: Row, port: Row | undefined, bridge: Row | undefined): InterfaceState {
  const externalIds = mapToRecord(iface['external_ids']);
  const uuid = iface['_uuid'];
  return {
    uuid: uuid instanceof Uuid ? uuid.value : '',
    name: String(iface['name'] ?? ''),
    type: String(iface['type'] ?? ''),
    bridge: bridge ? String(bridge['name']) : undefined,
    port: port ? String(port['name']) : undefined,
    ofport: optional<number>(iface['ofport']),
    ifaceId: externalIds['iface-id'] || undefined,
    attachedMac: macOrUndefined(externalIds['attached-mac']),
    externalIds,
    options: mapToRecord(iface['options']),
    macInUse: macOrUndefined(optional<string>(iface['mac_in_use'])),
    linkState: upDown(optional<string>(iface['link_state'])),
    adminState: upDown(optional<string>(iface['admin_state'])),
    error: optional<string>(iface['error']),
    bfdStatus: iface['bfd_status'] === undefined ? {} : mapToRecord(iface['bfd_status']),
  };
}

function recordsEqual(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export function interfaceStatesEqual(a: InterfaceState, b: InterfaceState): boolean {
  return (
    a.uuid === b.uuid &&
    a.name === b.name &&
    a.type === b.type &&
    a.bridge === b.bridge &&
    a.port === b.port &&
    a.ofport === b.ofport &&
    a.ifaceId === b.ifaceId &&
    a.macInUse?.toString() === b.macInUse?.toString() &&
    a.attachedMac?.toString() === b.attachedMac?.toString() &&
    a.linkState === b.linkState &&
    a.adminState === b.adminState &&
    a.error === b.error &&
    recordsEqual(a.externalIds, b.externalIds) &&
    recordsEqual(a.options, b.options) &&
    recordsEqual(a.bfdStatus, b.bfdStatus)
  );
}

/** Whether BFD on this interface says the path to the peer forwards: true/false from bfd_status, undefined when BFD is not running there. */
export function bfdForwarding(state: Pick<InterfaceState, 'bfdStatus'>): boolean | undefined {
  const f = state.bfdStatus['forwarding'];
  return f === 'true' ? true : f === 'false' ? false : undefined;
}
