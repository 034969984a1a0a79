import { DfError, describeError } from '@dragonflow/base';
import type { Match } from '@dragonflow/openflow';
import type { CoreMetrics } from '../observe/metrics.js';
import type { Logger } from '../observe/logger.js';
import { makeCookie } from '../pipeline/registers.js';
import { effectiveFlags, type DesiredFlow } from './flow.js';
import { DesiredEntry } from './flow-state.js';
import type { DesiredGroup } from './groups.js';
import { flowIdentity } from './keys.js';
import type { DesiredMeter } from './meters.js';
import { DesiredObjects, GROUPS, METERS } from './objects.js';
import { OwnerRecord, ownerKeyOf, type OwnerId } from './owner.js';
import { decodeFlow, encodeFlow, flowInstructionsKey } from './wire.js';

/** What the desired table tells the failure tracker about owners. */
export interface DesiredTableHooks {
  /** The owner handed over its complete desired state again (what the switch refused of it is retried with it). */
  changed(rec: OwnerRecord): void;
  /** The owner no longer desires this flow (key), group (`group:<id>`) or meter (`meter:<id>`). */
  released(rec: OwnerRecord, stateKey: string): void;
  /** The owner desires nothing any more and is forgotten. */
  dropped(rec: OwnerRecord): void;
}

/**
 * The desired state: every owner's flows, groups and meters, who holds each flow
 * identity (one owner; others desiring the same identity wait, shadowed, and are
 * reported as conflicts), and which changed since the last diff (`dirty`).
 */
export class DesiredTable {
  readonly owners = new Map<string, OwnerRecord>();
  private readonly byCookie = new Map<bigint, OwnerRecord>();
  /** The holder's entry per flow identity. */
  readonly flows = new Map<string, DesiredEntry>();
  /** Entries of other owners waiting for the identity's holder to let go. */
  private readonly shadowed = new Map<string, DesiredEntry[]>();
  readonly groups: DesiredObjects<DesiredGroup>;
  readonly meters: DesiredObjects<DesiredMeter>;
  /** Flow identities whose desired or installed state may differ. */
  dirty = new Set<string>();

  constructor(
    private readonly metrics: CoreMetrics,
    private readonly log: Logger,
    private readonly hooks: DesiredTableHooks,
  ) {
    const objectHooks = { released: (rec: OwnerRecord, key: string) => hooks.released(rec, key), conflict: (key: string, holder: OwnerRecord, other: OwnerRecord) => this.reportConflict(key, holder, other) };
    this.groups = new DesiredObjects(GROUPS, objectHooks);
    this.meters = new DesiredObjects(METERS, objectHooks);
  }

  /** Whether any flow, group or meter changed since the last diff. */
  get isDirty(): boolean {
    return this.dirty.size > 0 || this.groups.dirty.size > 0 || this.meters.dirty.size > 0;
  }

  /**
   * Sets the complete desired flows, groups and meters of one owner, replacing what
   * it had. Throws (and changes nothing) when two of the flows have the same identity.
   * A flow another owner already desires is reported as a conflict and held back
   * until that owner lets go of it.
   */
  replace(id: OwnerId, flows: readonly DesiredFlow[], groups: readonly DesiredGroup[], meters: readonly DesiredMeter[]): void {
    const ownerKey = ownerKeyOf(id.app, id.owner);
    const groupIds = this.groups.check(id, groups);
    const meterIds = this.meters.check(id, meters);
    let rec = this.owners.get(ownerKey);
    if (!rec && flows.length === 0 && groups.length === 0 && meters.length === 0) return;
    const cookie = makeCookie(id.slot, id.tag, id.kind);
    // Built before anything changes, so a duplicate (or a flow the codec refuses) leaves the state as it was.
    const entries: DesiredEntry[] = [];
    const keys = new Set<string>();
    const owner: OwnerRecord = rec ?? new OwnerRecord(id, cookie);
    const sharedCookie = rec && rec.cookie === cookie ? rec.cookie : cookie;
    for (const f of flows) {
      const key = flowIdentity(f.table, f.priority, f.match);
      if (keys.has(key)) {
        throw new DfError('FLOW_DUPLICATE', `owner '${id.owner}' of app '${id.app}' desires two flows with the same table, priority and match (${key})`, {
          context: { app: id.app, owner: id.owner, flow: key },
        });
      }
      keys.add(key);
      const actions = flowInstructionsKey(f.instructions);
      // An unchanged flow of this owner: keep the entry (and its wire form) it has.
      const cur = rec ? this.flows.get(key) : undefined;
      if (cur && cur.owner === rec && cur.cookie === sharedCookie && cur.actions === actions && cur.idle === (f.idleTimeout ?? 0) && cur.hard === (f.hardTimeout ?? 0) && cur.flags === effectiveFlags(f)) {
        entries.push(cur);
        continue;
      }
      let wire: string;
      try {
        wire = encodeFlow(f, sharedCookie);
      } catch (cause) {
        throw new DfError('FLOW_INVALID', `owner '${id.owner}' of app '${id.app}' desires a flow the codec refuses (${key}): ${describeError(cause)}`, { cause, context: { app: id.app, owner: id.owner, flow: key } });
      }
      entries.push(new DesiredEntry(key, actions, wire, owner, sharedCookie));
    }
    if (rec && rec.cookie !== cookie) {
      // the owner now names another object key: its flows get the new cookie
      if (this.byCookie.get(rec.cookie) === rec) this.byCookie.delete(rec.cookie);
      rec.rename(id, cookie);
      if (!this.byCookie.has(cookie)) this.byCookie.set(cookie, rec);
    }
    if (!rec) {
      rec = owner;
      this.owners.set(ownerKey, rec);
      if (!this.byCookie.has(rec.cookie)) this.byCookie.set(rec.cookie, rec);
    }
    for (const key of rec.keys) if (!keys.has(key)) this.release(key, rec);
    for (const e of entries) this.claim(e.key, e);
    rec.keys = entries.map((e) => e.key);
    this.hooks.changed(rec);

    this.groups.set(rec, rec.groups, groups, groupIds);
    rec.groups = groupIds;
    this.meters.set(rec, rec.meters, meters, meterIds);
    rec.meters = meterIds;
    if (rec.empty) this.dropOwner(rec);
    this.metrics.desiredFlows.set(this.flows.size);
  }

  /** The record of one owner, if it desires anything. */
  ownerRecord(app: string, owner: string): OwnerRecord | undefined {
    return this.owners.get(ownerKeyOf(app, owner));
  }

  /** Whether `rec` still desires the flow (or `group:<id>`, `meter:<id>`) with this key. */
  owns(rec: OwnerRecord, stateKey: string): boolean {
    if (stateKey.startsWith('group:')) return this.groups.desired.get(Number(stateKey.slice(6)))?.owner === rec;
    if (stateKey.startsWith('meter:')) return this.meters.desired.get(Number(stateKey.slice(6)))?.owner === rec;
    return this.flows.get(stateKey)?.owner === rec;
  }

  /** Marks a refused flow, group or meter of its owner for sending again. */
  markDirty(stateKey: string): void {
    if (stateKey.startsWith('group:')) this.groups.dirty.add(Number(stateKey.slice(6)));
    else if (stateKey.startsWith('meter:')) this.meters.dirty.add(Number(stateKey.slice(6)));
    else this.dirty.add(stateKey);
  }

  /** An ephemeral flow the switch removed leaves its owner's desired state. */
  dropFlow(key: string, rec: OwnerRecord): void {
    rec.keys = rec.keys.filter((k) => k !== key);
    this.release(key, rec);
    this.dirty.delete(key);
    if (rec.empty) this.dropOwner(rec);
    this.metrics.desiredFlows.set(this.flows.size);
  }

  private dropOwner(rec: OwnerRecord): void {
    this.owners.delete(ownerKeyOf(rec.id.app, rec.id.owner));
    if (this.byCookie.get(rec.cookie) === rec) this.byCookie.delete(rec.cookie);
    this.hooks.dropped(rec);
  }

  /**
   * The app and owner a cookie names: (app slot, owner kind, key) is one object's
   * owner; only hashed owner texts (kind 0) can collide, and then this is the first.
   */
  ownerOfCookie(cookie: bigint): { app: string; owner: string } | undefined {
    const rec = this.byCookie.get(cookie);
    return rec ? { app: rec.id.app, owner: rec.id.owner } : undefined;
  }

  /** Owners of one app that currently desire something. */
  ownersOf(app: string): string[] {
    const out: string[] = [];
    for (const rec of this.owners.values()) if (rec.id.app === app) out.push(rec.id.owner);
    return out;
  }

  /** The desired flows of one owner (decoded from their wire form). */
  flowsOf(app: string, owner: string): DesiredFlow[] {
    const rec = this.ownerRecord(app, owner);
    if (!rec) return [];
    const out: DesiredFlow[] = [];
    for (const k of rec.keys) {
      const e = this.entryOf(k, rec);
      if (e) out.push(decodeFlow(e.wire));
    }
    return out;
  }

  /** Which app and owner desire the flow with this identity. */
  ownerOfFlow(table: number, priority: number, match: Match): { app: string; owner: string } | undefined {
    const e = this.flows.get(flowIdentity(table, priority, match));
    return e ? { app: e.owner.id.app, owner: e.owner.id.owner } : undefined;
  }

  private entryOf(key: string, rec: OwnerRecord): DesiredEntry | undefined {
    const e = this.flows.get(key);
    if (e?.owner === rec) return e;
    return this.shadowed.get(key)?.find((s) => s.owner === rec);
  }

  private claim(key: string, e: DesiredEntry): void {
    const cur = this.flows.get(key);
    if (!cur) {
      this.flows.set(key, e);
      this.dirty.add(key);
      return;
    }
    if (cur.owner === e.owner) {
      if (cur === e) return;
      if (cur.actions !== e.actions || cur.flags !== e.flags || cur.idle !== e.idle || cur.hard !== e.hard || cur.cookie !== e.cookie) {
        this.flows.set(key, e);
        this.dirty.add(key);
      } else if (cur.wire !== e.wire) {
        // the same flow in another encoding: keep the newest form to send
        this.flows.set(key, e);
      }
      return;
    }
    const list = this.shadowed.get(key) ?? [];
    const i = list.findIndex((s) => s.owner === e.owner);
    if (i >= 0) {
      list[i] = e;
      return;
    }
    list.push(e);
    this.shadowed.set(key, list);
    this.reportConflict(key, cur.owner, e.owner);
  }

  private release(key: string, rec: OwnerRecord): void {
    this.hooks.released(rec, key);
    const cur = this.flows.get(key);
    const waiting = this.shadowed.get(key);
    if (cur?.owner === rec) {
      const next = waiting?.shift();
      if (waiting && waiting.length === 0) this.shadowed.delete(key);
      if (next) this.flows.set(key, next);
      else this.flows.delete(key);
      this.dirty.add(key);
    } else if (waiting) {
      const rest = waiting.filter((s) => s.owner !== rec);
      if (rest.length) this.shadowed.set(key, rest);
      else this.shadowed.delete(key);
    }
  }

  private reportConflict(what: string, holder: OwnerRecord, other: OwnerRecord): void {
    this.metrics.conflicts.inc({ app: other.id.app });
    this.log.error(
      { flow: what, holder: `${holder.id.app}/${holder.id.owner}`, other: `${other.id.app}/${other.id.owner}` },
      'two owners desire the same flow (or group or meter); the second is held back until the first lets go',
    );
  }
}
