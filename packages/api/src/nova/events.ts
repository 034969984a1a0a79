import type { LogicalPort } from '@dragonflow/nb';

/**
 * One event of Nova's os-server-external-events API (compute API reference,
 * "Create External Events"): `name`, the instance's `server_uuid`, the port id as
 * `tag`, and `status` (completed or failed; Nova's default is completed).
 */
export interface NovaEvent {
  readonly name: 'network-vif-plugged' | 'network-vif-unplugged' | 'network-changed' | 'network-vif-deleted';
  readonly server_uuid: string;
  readonly tag: string;
  readonly status?: 'completed' | 'failed';
}

/** What the notifier remembers of a port: only what decides its events. */
export interface PortFacts {
  readonly status: string;
  readonly deviceId: string;
  readonly deviceOwner: string;
  /** The fixed IPs, as a comparable text. */
  readonly addresses: string;
}

export function portFacts(p: LogicalPort): PortFacts {
  return {
    status: p.status,
    deviceId: p.deviceId,
    deviceOwner: p.deviceOwner,
    addresses: p.fixedIps
      .map((f) => `${f.subnetId}/${f.ipAddress}`)
      .sort()
      .join(','),
  };
}

/** A port of a Nova instance: Neutron notifies Nova only about these. */
function ofInstance(p: PortFacts | undefined): p is PortFacts {
  return p !== undefined && p.deviceOwner.startsWith('compute:') && p.deviceId !== '';
}

/**
 * The events one change of a port means to Nova, as Neutron's notifier decides them:
 * - status to ACTIVE (from anything else): network-vif-plugged, completed;
 * - status to ERROR: network-vif-plugged, failed (Nova aborts the boot);
 * - ACTIVE to DOWN: network-vif-unplugged;
 * - fixed IPs changed: network-changed (Nova refreshes its network info cache);
 * - the port deleted: network-vif-deleted.
 * Events go to the instance the port belongs to (device_id) after the change; a port
 * handed from one instance to another is deleted for the old one.
 */
export function portEvents(id: string, before: PortFacts | undefined, after: PortFacts | undefined): NovaEvent[] {
  const out: NovaEvent[] = [];
  if (ofInstance(before) && (after === undefined || after.deviceId !== before.deviceId)) {
    out.push({ name: 'network-vif-deleted', server_uuid: before.deviceId, tag: id });
  }
  if (!ofInstance(after)) return out;
  const same = before !== undefined && before.deviceId === after.deviceId;
  const was = same ? before.status : undefined;
  if (after.status !== was) {
    if (after.status === 'ACTIVE') out.push({ name: 'network-vif-plugged', server_uuid: after.deviceId, tag: id, status: 'completed' });
    else if (after.status === 'ERROR') out.push({ name: 'network-vif-plugged', server_uuid: after.deviceId, tag: id, status: 'failed' });
    else if (after.status === 'DOWN' && was === 'ACTIVE') out.push({ name: 'network-vif-unplugged', server_uuid: after.deviceId, tag: id, status: 'completed' });
  }
  if (same && before.addresses !== after.addresses) out.push({ name: 'network-changed', server_uuid: after.deviceId, tag: id });
  return out;
}

/** A floating IP's association: the port and fixed address it points at, or null. */
export type FloatingIpTarget = { readonly portId: string; readonly fixedIp: string } | null;

/**
 * A floating IP associated, moved or released: network-changed for each instance
 * port it leaves or reaches (Neutron's notifier does so, and Nova shows floating
 * IPs from the network info it then refreshes).
 */
export function floatingIpEvents(before: FloatingIpTarget | undefined, after: FloatingIpTarget | undefined, portOf: (id: string) => PortFacts | undefined): NovaEvent[] {
  const b = before ?? null;
  const a = after ?? null;
  if (b?.portId === a?.portId && b?.fixedIp === a?.fixedIp) return [];
  const out: NovaEvent[] = [];
  for (const id of new Set([b?.portId, a?.portId])) {
    if (id === undefined) continue;
    const p = portOf(id);
    if (ofInstance(p)) out.push({ name: 'network-changed', server_uuid: p.deviceId, tag: id });
  }
  return out;
}
