import { type OwnerKind } from '@dragonflow/core';
import { CORE_APP, PIPELINE_OWNER, cookieKindName, cookieSlot, cookieTag, ownerHash, type PipelineMap } from '@dragonflow/core/host';
import { decodeObject, isTableName, type NbDriver, type SecurityGroup } from '@dragonflow/nb';

/** The owner-text prefix apps use for an object of each NB table (`port:<id>`, `network:<id>`, …): the cookie's owner kinds. */
const PREFIX: Readonly<Record<string, OwnerKind>> = {
  logical_port: 'port',
  logical_switch: 'network',
  logical_router: 'router',
  security_group: 'security-group',
  subnet: 'subnet',
  floating_ip: 'floating-ip',
  chassis: 'chassis',
};

/** An NB object a cookie's owner tag may stand for. */
export interface OwnerCandidate {
  /** `port:<id>`, `network:<id>`, … */
  readonly owner: string;
  readonly name: string | undefined;
  /** What the object is, when its name does not say (a port's device owner, e.g. network:router_interface). */
  readonly role?: string;
}

/** Who a flow belongs to, read from its cookie (docs/pipeline.md, "Cookies"). */
export interface FlowOwner {
  readonly slot: number;
  /** The app in that cookie slot (from the controller's pipeline), or undefined when unknown. */
  readonly app: string | undefined;
  /** What the tag is: an object's key of this kind, or `hash` of an owner text; undefined for a kind number no version knows. */
  readonly kind: OwnerKind | undefined;
  readonly tag: number;
  /** The NB objects whose unique key is the tag, or the owner whose text hashes to it; empty: unknown here. */
  readonly candidates: readonly OwnerCandidate[];
}

/**
 * Turns a cookie's owner back into a model object. The cookie's kind (core's
 * `cookieKindName`) says what its tag is: the unique key of a port, a network, a
 * router, … (keys are unique per table), or the 32-bit hash of an owner text. The
 * index knows every object's key and the hash of every `<kind>:<id>` in the NB, and
 * the pipeline's own owner; without an NB it knows only the latter. A keyed owner
 * that did not say its kind (`object`) may match one object of each table.
 */
export class OwnerIndex {
  private readonly byKey = new Map<number, OwnerCandidate[]>();
  private readonly byHash = new Map<number, OwnerCandidate>();

  private constructor() {
    this.byHash.set(ownerHash(PIPELINE_OWNER), { owner: PIPELINE_OWNER, name: undefined, role: 'table miss' });
  }

  static empty(): OwnerIndex {
    return new OwnerIndex();
  }

  /** Reads every object of the NB once. */
  static async fromDriver(driver: NbDriver): Promise<OwnerIndex> {
    const index = new OwnerIndex();
    const snap = await driver.snapshot(Object.keys(PREFIX));
    for (const rec of snap.records) {
      if (!isTableName(rec.table)) continue;
      const prefix = PREFIX[rec.table];
      if (!prefix) continue;
      let obj: { key?: unknown; name?: unknown; deviceOwner?: unknown; floatingIpAddress?: unknown };
      try {
        obj = decodeObject(rec.table, rec.value, rec.version) as { key?: unknown; name?: unknown; deviceOwner?: unknown; floatingIpAddress?: unknown };
      } catch {
        continue;
      }
      const role = typeof obj.deviceOwner === 'string' && obj.deviceOwner !== '' && !obj.deviceOwner.startsWith('compute:') ? obj.deviceOwner : undefined;
      index.add(`${prefix}:${rec.id}`, typeof obj.name === 'string' && obj.name !== '' ? obj.name : undefined, typeof obj.key === 'number' ? obj.key : undefined, role);
      if (rec.table === 'security_group') index.addRules(rec.id, obj as SecurityGroup);
      // the dnat app's owner of a floating IP's flows (docs/nat.md), a hashed text
      if (rec.table === 'floating_ip') index.add(`fip:${rec.id}`, typeof obj.floatingIpAddress === 'string' ? obj.floatingIpAddress : undefined, undefined);
    }
    return index;
  }

  /**
   * The owners the security group app gives its rules' verdict flows,
   * `sg:<group id>:rule:<rule id>` (docs/security-groups.md): hashed owner texts the
   * NB can name, so a trace says which rule let a packet through.
   */
  addRules(groupId: string, g: Pick<SecurityGroup, 'name' | 'rules'>): void {
    const group = g.name !== '' ? g.name : groupId.slice(0, 8);
    for (const r of g.rules) this.add(`sg:${groupId}:rule:${r.id}`, `group ${group}, rule ${describeRule(r)}`, undefined);
  }

  /** Adds one owner (for tests and for owners known otherwise). */
  add(owner: string, name: string | undefined, key: number | undefined, role?: string): void {
    const c: OwnerCandidate = { owner, name, ...(role !== undefined ? { role } : {}) };
    if (key !== undefined) {
      const list = this.byKey.get(key) ?? [];
      list.push(c);
      this.byKey.set(key, list);
    }
    this.byHash.set(ownerHash(owner), c);
  }

  /** The owner of a flow with this cookie. */
  owner(cookie: bigint, pipeline: PipelineMap | undefined): FlowOwner {
    const slot = cookieSlot(cookie);
    const tag = cookieTag(cookie);
    const kind = cookieKindName(cookie);
    const app = slot === 0 ? CORE_APP : pipeline?.appBySlot(slot)?.name;
    let candidates: readonly OwnerCandidate[];
    if (kind === 'hash') {
      const c = this.byHash.get(tag);
      candidates = c ? [c] : [];
    } else {
      const keyed = this.byKey.get(tag) ?? [];
      candidates = kind === undefined || kind === 'object' ? keyed : keyed.filter((c) => c.owner.startsWith(`${kind}:`));
    }
    return { slot, app, kind, tag, candidates };
  }
}

/** "ingress IPv4 tcp 8000-8080 from group 1f2e3d4c", as `openstack security group rule list` would say it. */
export function describeRule(r: SecurityGroup['rules'][number]): string {
  const parts: string[] = [r.direction, r.ethertype];
  if (r.protocol !== null) parts.push(r.protocol);
  if (r.portRangeMin !== null) parts.push(r.portRangeMax !== null && r.portRangeMax !== r.portRangeMin ? `${r.portRangeMin}-${r.portRangeMax}` : String(r.portRangeMin));
  const dir = r.direction === 'ingress' ? 'from' : 'to';
  if (r.remoteIpPrefix !== null) parts.push(`${dir} ${r.remoteIpPrefix}`);
  if (r.remoteGroupId !== null) parts.push(`${dir} group ${r.remoteGroupId.slice(0, 8)}`);
  return parts.join(' ');
}

/** "port vm1 (3f2a…)" — an owner as people read it. */
export function describeCandidate(c: OwnerCandidate): string {
  const i = c.owner.indexOf(':');
  const role = c.role ? ` [${c.role}]` : '';
  if (i < 0) return `${c.owner}${c.name ? ` (${c.name})` : ''}${role}`;
  const kind = c.owner.slice(0, i);
  const id = c.owner.slice(i + 1);
  return `${kind} ${c.name ? `${c.name} (${id.slice(0, 8)})` : id}${role}`;
}

/** "l2 · port vm1 (3f2a…)", "l3-proactive · #0x1a2b3c4d", "slot 7 · …". */
export function describeOwner(o: FlowOwner): string {
  const app = o.app ?? `app slot ${o.slot}`;
  const unknown = o.kind === 'hash' || o.kind === undefined ? `#0x${o.tag.toString(16).padStart(8, '0')} (an owner named by text)` : `${o.kind} with key ${o.tag} (not in the NB)`;
  const who = o.candidates.length > 0 ? o.candidates.map(describeCandidate).join(' or ') : unknown;
  return `${app} · ${who}`;
}
