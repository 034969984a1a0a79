import { DfError } from '@dragonflow/base';
import { groupKey, switchGroupId, type DesiredGroup } from './groups.js';
import { meterKey, switchMeterId, type DesiredMeter } from './meters.js';
import type { Op } from './ops.js';
import type { OwnerId, OwnerRecord } from './owner.js';

/**
 * Groups and meters: switch objects flows refer to by id. They are desired state
 * like flows (owned, diffed, read back at a connect), kept by switch id, and
 * compared by a canonical key of what they do.
 */
export interface ObjectKind<T> {
  readonly name: 'group' | 'meter';
  /** The app-local id the app gave. */
  localId(spec: T): number;
  /** The switch's id (the app's slot in the top bits); throws on an id out of range. */
  switchId(slot: number, localId: number): number;
  key(spec: T): string;
  /** The ADD or MODIFY of a desired object, or the DELETE of an installed one. */
  op(command: 'add' | 'modify' | 'delete', switchId: number, entry?: ObjectEntry<T>): Op;
}

export interface ObjectEntry<T> {
  readonly owner: OwnerRecord;
  readonly spec: T;
  readonly switchId: number;
  readonly key: string;
}

export const GROUPS: ObjectKind<DesiredGroup> = {
  name: 'group',
  localId: (g) => g.groupId,
  switchId: switchGroupId,
  key: (g) => groupKey(g.groupType, g.buckets),
  op: (command, switchId, e) => ({
    kind: 'group',
    groupId: switchId,
    ...(e ? { owner: e.owner } : {}),
    request: { type: 'group_mod', command, groupType: e ? e.spec.groupType : 'all', groupId: switchId, buckets: e ? e.spec.buckets : [] },
  }),
};

export const METERS: ObjectKind<DesiredMeter> = {
  name: 'meter',
  localId: (m) => m.meterId,
  switchId: switchMeterId,
  key: meterKey,
  op: (command, switchId, e) => ({
    kind: 'meter',
    meterId: switchId,
    ...(e ? { owner: e.owner } : {}),
    request: { type: 'meter_mod', command, flags: e ? e.spec.flags : 0, meterId: switchId, bands: e ? e.spec.bands : [] },
  }),
};

const NONE: readonly number[] = Object.freeze([]);

/** What the desired objects tell the table: a refusal to settle, a conflict to report. */
export interface ObjectHooks {
  released(rec: OwnerRecord, stateKey: string): void;
  conflict(stateKey: string, holder: OwnerRecord, other: OwnerRecord): void;
}

/** The desired objects of one kind, by switch id, and which changed since the last diff. */
export class DesiredObjects<T> {
  readonly desired = new Map<number, ObjectEntry<T>>();
  /** Entries of other owners waiting for the holder of the id to let go. */
  private readonly waiting = new Map<number, ObjectEntry<T>[]>();
  /** Switch ids whose desired or installed state may differ. */
  dirty = new Set<number>();

  constructor(
    readonly kind: ObjectKind<T>,
    private readonly hooks: ObjectHooks,
  ) {}

  stateKey(switchId: number): string {
    return `${this.kind.name}:${switchId}`;
  }

  /** The app-local ids of `specs`, checked (in range, no duplicates) before anything changes. */
  check(id: OwnerId, specs: readonly T[]): readonly number[] {
    // most owners have no groups or meters: nothing to allocate per replace
    if (specs.length === 0) return NONE;
    const ids = new Set<number>();
    for (const s of specs) {
      const local = this.kind.localId(s);
      if (ids.has(local)) throw new DfError(`${this.kind.name.toUpperCase()}_DUPLICATE`, `owner '${id.owner}' of app '${id.app}' desires ${this.kind.name} ${local} twice`, { context: { app: id.app, owner: id.owner } });
      ids.add(local);
      this.kind.switchId(id.slot, local);
    }
    return [...ids];
  }

  /** Makes `specs` the objects of `rec` (whose previous local ids are `before`). An id another owner holds is a conflict: held back. */
  set(rec: OwnerRecord, before: readonly number[], specs: readonly T[], localIds: readonly number[]): void {
    if (before.length === 0 && specs.length === 0) return;
    const keep = new Set(localIds);
    for (const local of before) if (!keep.has(local)) this.release(this.kind.switchId(rec.slot, local), rec);
    for (const s of specs) {
      const switchId = this.kind.switchId(rec.slot, this.kind.localId(s));
      const cur = this.desired.get(switchId);
      const key = this.kind.key(s);
      if (cur && cur.owner !== rec) {
        const list = this.waiting.get(switchId) ?? [];
        const i = list.findIndex((w) => w.owner === rec);
        if (i >= 0) list[i] = { owner: rec, spec: s, switchId, key };
        else {
          list.push({ owner: rec, spec: s, switchId, key });
          this.waiting.set(switchId, list);
          this.hooks.conflict(this.stateKey(switchId), cur.owner, rec);
        }
        continue;
      }
      if (!cur || cur.key !== key) {
        this.desired.set(switchId, { owner: rec, spec: s, switchId, key });
        this.dirty.add(switchId);
      }
    }
  }

  private release(switchId: number, rec: OwnerRecord): void {
    this.hooks.released(rec, this.stateKey(switchId));
    const waiting = this.waiting.get(switchId);
    if (this.desired.get(switchId)?.owner === rec) {
      const next = waiting?.shift();
      if (waiting && waiting.length === 0) this.waiting.delete(switchId);
      if (next) this.desired.set(switchId, next);
      else this.desired.delete(switchId);
      this.dirty.add(switchId);
    } else if (waiting) {
      const rest = waiting.filter((w) => w.owner !== rec);
      if (rest.length) this.waiting.set(switchId, rest);
      else this.waiting.delete(switchId);
    }
  }

  /**
   * The requests that bring the installed objects (switch id → key) to the desired
   * ones, recording them as installed as if they succeed: ADD or, when only what it
   * does changed, MODIFY in place (`changes`); DELETE for what nobody desires.
   */
  diff(installed: Map<number, string>, changes: Op[], deletes: Op[], agreed: ((owner: OwnerRecord, stateKey: string) => void) | undefined): void {
    for (const id of this.dirty) {
      const d = this.desired.get(id);
      const inst = installed.get(id);
      if (d && inst === d.key) {
        // the switch has it as desired (read back at a connect): a refusal of it is settled
        agreed?.(d.owner, this.stateKey(id));
      } else if (d && inst === undefined) {
        changes.push(this.kind.op('add', id, d));
        installed.set(id, d.key);
      } else if (d && inst !== d.key) {
        changes.push(this.kind.op('modify', id, d));
        installed.set(id, d.key);
      } else if (!d && inst !== undefined) {
        deletes.push(this.kind.op('delete', id));
        installed.delete(id);
      }
    }
    this.dirty.clear();
  }
}
