import { DfError } from '@dragonflow/base';
import type { NbDriver, Revision, TxnOp } from '../db/driver.js';
import { NbErrorCode, nbConflict, nbInvalid, nbNotFound } from '../errors.js';
import { decodeObject, encodeObject, stableStringify } from '../model/codec.js';
import { indexFns } from '../model/indexes.js';
import { IMMUTABLE_FIELDS, claimsOf, referencesOf, type Claim } from '../model/integrity.js';
import { CLAIM_TABLE, GUARD_TABLE, type NbCreateInput, type NbObject, type TableName, isKeyedTable } from '../model/tables.js';
import { parseObject } from '../model/validate.js';
import { type CheckView, checkObject } from './checks.js';
import type { NbReader } from './reader.js';

type Staged =
  | { kind: 'create'; table: TableName; id: string; obj: NbObject }
  | { kind: 'update'; table: TableName; id: string; obj: NbObject; old: NbObject }
  | { kind: 'delete'; table: TableName; id: string; old: NbObject }
  | { kind: 'touch'; table: TableName; id: string; old: NbObject };

/** What a transaction needs from its NbApi. */
export interface TxContext {
  driver: NbDriver;
  reader: NbReader;
  newId(): string;
  now(): Date;
  /** A unique key for `table` (reused from a failed attempt when possible). */
  takeKey(table: TableName): Promise<number>;
  /** Waits until the reader has applied `revision`; throws NB_UNAVAILABLE if it cannot in time. */
  syncTo(revision: Revision): Promise<void>;
}

const k = (table: string, id: string): string => `${table}/${id}`;

function conflict(message: string, context: Record<string, unknown>): DfError {
  return nbConflict(message, context);
}

/**
 * One attempt of a read-modify-write transaction. Reads go to the DB (fresh);
 * lookups go to NbApi's view, overlaid with this transaction's own writes. Nothing
 * is written until `commit`, which sends one atomic batch: the object writes (each a
 * compare-and-swap on the version read), uniqueness claims, reference guards and
 * existence checks. Any concurrent change that would make it wrong fails the whole
 * batch with NB_CONFLICT, and NbApi.transaction runs the function again.
 */
export class NbTransaction implements CheckView {
  private readonly staged = new Map<string, Staged>();
  private readonly fresh = new Map<string, NbObject | null>();
  private readonly checks = new Map<string, { table: TableName; id: string; version: number }>();
  /** Keys this attempt took, given back to the pool if it fails. */
  readonly keysTaken: { table: TableName; key: number }[] = [];

  constructor(
    private readonly ctx: TxContext,
    /** Revision of NbApi's view when the attempt started. */
    readonly startRevision: Revision,
  ) {}

  /** The object as this transaction sees it: its own write if any, else the DB's current one. */
  async get<T extends TableName>(table: T, id: string): Promise<NbObject<T> | undefined> {
    const s = this.staged.get(k(table, id));
    if (s) return (s.kind === 'delete' ? undefined : s.kind === 'touch' ? s.old : s.obj) as NbObject<T> | undefined;
    return this.read(table, id);
  }

  async require<T extends TableName>(table: T, id: string): Promise<NbObject<T>> {
    const o = await this.get(table, id);
    if (!o) throw nbNotFound(table, id);
    return o;
  }

  /** Objects of `table` whose index `index` has `value` (NbApi's view plus this transaction's writes). */
  async lookup<T extends TableName>(table: T, index: string, value: string): Promise<NbObject<T>[]> {
    const fn = (indexFns(table) as Record<string, (o: NbObject<T>) => readonly string[]>)[index];
    if (!fn) throw new DfError(NbErrorCode.INVALID, `table ${table} has no index ${index}`, { context: { table, index } });
    return this.overlay(table, await this.ctx.reader.lookup(table, index, value), (o) => fn(o).includes(value));
  }

  /** Every object of `table` (NbApi's view plus this transaction's writes). */
  async list<T extends TableName>(table: T): Promise<NbObject<T>[]> {
    return this.overlay(table, await this.ctx.reader.list(table), () => true);
  }

  /** Creates an object; `id` is generated when absent and `key` allocated for keyed tables. */
  async create<T extends TableName>(table: T, input: NbCreateInput<T>): Promise<NbObject<T>> {
    const given = (input as { id?: string }).id;
    const id = given ?? this.ctx.newId();
    const stamp = this.ctx.now().toISOString();
    const keyed = isKeyedTable(table);
    const parsed = parseObject(table, { ...input, id, ...(keyed ? { key: 1 } : {}), createdAt: stamp, updatedAt: stamp });
    const key = k(table, parsed.id);
    const st = this.staged.get(key);
    if (st && st.kind !== 'delete') throw conflict(`${table} ${parsed.id} already exists`, { table, id: parsed.id, retryable: false });
    // A fresh random id cannot be taken; a given one is checked now for a clear error
    // (the commit's create-if-absent guards both anyway).
    if (!st && given !== undefined && (await this.read(table, parsed.id))) throw conflict(`${table} ${parsed.id} already exists`, { table, id: parsed.id, retryable: false });
    if (st) throw nbInvalid(`${table} ${parsed.id} is deleted and created again in one transaction`, { table, id: parsed.id });
    const obj = { ...parsed, version: 1 } as NbObject<T>;
    if (keyed) {
      const n = await this.ctx.takeKey(table);
      this.keysTaken.push({ table, key: n });
      (obj as { key: number }).key = n;
    }
    this.staged.set(key, { kind: 'create', table, id: parsed.id, obj });
    return obj;
  }

  /**
   * Replaces an object. `obj.version` must be the version it was read at: if the
   * object changed since, this fails with NB_CONFLICT (never a silent overwrite).
   */
  async update<T extends TableName>(table: T, obj: NbObject<T> | (Omit<NbCreateInput<T>, 'id'> & { id: string; version: number })): Promise<NbObject<T>> {
    const id = obj.id;
    const version = (obj as { version?: unknown }).version;
    if (typeof version !== 'number') throw nbInvalid(`${table}.version: is required to update ${table} ${id}`, { table, id, field: 'version' });
    const key = k(table, id);
    const st = this.staged.get(key);
    if (st?.kind === 'delete') throw nbNotFound(table, id);
    const current = (st ? (st.kind === 'touch' ? st.old : st.obj) : await this.read(table, id)) as NbObject<T> | undefined;
    if (!current) throw nbNotFound(table, id);
    if (version !== current.version) {
      throw conflict(`${table} ${id} was changed by someone else: you have version ${version}, it is at version ${current.version}`, {
        table,
        id,
        expected: version,
        actual: current.version,
        retryable: false,
      });
    }
    const keyed = isKeyedTable(table);
    const given = obj as { key?: unknown };
    const curKey = (current as { key?: number }).key;
    if (keyed && given.key !== undefined && given.key !== curKey) {
      throw nbInvalid(`${table}.key: cannot be changed (it is ${curKey})`, { table, id, field: 'key' });
    }
    const parsed = parseObject(table, {
      ...obj,
      ...(keyed ? { key: curKey } : {}),
      createdAt: current.createdAt,
      updatedAt: this.ctx.now().toISOString(),
    });
    for (const f of IMMUTABLE_FIELDS[table]) {
      const was = (current as unknown as Record<string, unknown>)[f];
      const now = (parsed as Record<string, unknown>)[f];
      if (stableStringify(was) !== stableStringify(now)) {
        throw nbInvalid(`${table}.${f}: cannot be changed after creation (it is ${JSON.stringify(was)})`, { table, id, field: f });
      }
    }
    if (!st || st.kind === 'touch') {
      const old = st ? st.old : current;
      const next = { ...parsed, version: old.version + 1 } as NbObject<T>;
      this.staged.set(key, { kind: 'update', table, id, obj: next, old });
      return next;
    }
    const next = { ...parsed, version: st.obj.version } as NbObject<T>;
    this.staged.set(key, st.kind === 'create' ? { kind: 'create', table, id, obj: next } : { kind: 'update', table, id, obj: next, old: st.old });
    return next;
  }

  /** Deletes an object; with `expectVersion`, only if it is still at that version. */
  async delete(table: TableName, id: string, options: { expectVersion?: number } = {}): Promise<void> {
    const key = k(table, id);
    const st = this.staged.get(key);
    if (st?.kind === 'delete') throw nbNotFound(table, id);
    const current = st ? (st.kind === 'touch' ? st.old : st.obj) : await this.read(table, id);
    if (!current) throw nbNotFound(table, id);
    if (options.expectVersion !== undefined && options.expectVersion !== current.version) {
      throw conflict(`${table} ${id} was changed by someone else: you have version ${options.expectVersion}, it is at version ${current.version}`, {
        table,
        id,
        expected: options.expectVersion,
        actual: current.version,
        retryable: false,
      });
    }
    if (st?.kind === 'create') {
      this.staged.delete(key);
      return;
    }
    this.staged.set(key, { kind: 'delete', table, id, old: st?.kind === 'update' || st?.kind === 'touch' ? st.old : current });
  }

  /** Makes the commit fail if `obj` changed since it was read (for decisions based on reads). */
  assertUnchanged(table: TableName, obj: NbObject): void {
    const key = k(table, obj.id);
    if (this.staged.has(key)) return;
    this.checks.set(key, { table, id: obj.id, version: obj.version });
  }

  async touch(table: TableName, id: string): Promise<void> {
    const key = k(table, id);
    if (this.staged.has(key)) return;
    const current = await this.read(table, id);
    if (current) this.staged.set(key, { kind: 'touch', table, id, old: current });
  }

  /** True when nothing was staged. */
  get empty(): boolean {
    return this.staged.size === 0 && this.checks.size === 0;
  }

  /** Validates everything staged against the DB and builds the atomic batch. */
  async prepare(): Promise<TxnOp[]> {
    const main: TxnOp[] = [];
    const claimPuts = new Map<string, { owner: string; claim: Claim; table: TableName; id: string }>();
    const claimDels = new Set<string>();
    const guardPuts = new Set<string>();
    const guardDels = new Map<string, number>();
    const exists = new Map<string, { table: TableName; id: string }>();

    for (const s of [...this.staged.values()]) {
      if (s.kind === 'touch') continue;
      if (s.kind === 'delete') {
        for (const c of claimsOf(s.table, s.old as never)) claimDels.add(c.claim);
        guardDels.set(k(s.table, s.id), await this.checkUnused(s.table, s.id));
        continue;
      }
      const old = s.kind === 'update' ? s.old : undefined;
      await checkObject(s.table, s.obj as never, this, old as never);
      const oldRefs = new Set(old ? referencesOf(s.table, old as never).map((r) => k(r.table, r.id)) : []);
      for (const ref of referencesOf(s.table, s.obj as never)) {
        const target = k(ref.table, ref.id);
        if (target === k(s.table, s.id) || oldRefs.has(target)) continue;
        const st = this.staged.get(target);
        if (st?.kind === 'delete') {
          throw nbInvalid(`${s.table}.${ref.field}: refers to ${ref.table} ${ref.id}, which this transaction deletes`, { table: s.table, id: s.id, field: ref.field });
        }
        if (st) continue; // written in this transaction: its own compare-and-swap protects it
        if (!(await this.read(ref.table, ref.id))) {
          throw nbInvalid(`${s.table}.${ref.field}: ${ref.table} ${ref.id} does not exist`, { table: s.table, id: s.id, field: ref.field, ref: ref.table });
        }
        exists.set(target, { table: ref.table, id: ref.id });
        guardPuts.add(target);
      }
      const oldClaims = new Set(old ? claimsOf(s.table, old as never).map((c) => c.claim) : []);
      const newClaims = claimsOf(s.table, s.obj as never);
      const newSet = new Set(newClaims.map((c) => c.claim));
      for (const c of newClaims) {
        if (oldClaims.has(c.claim)) continue;
        const prev = claimPuts.get(c.claim);
        if (prev) {
          throw conflict(`${s.table} ${s.id}: ${c.what} is also taken by ${prev.owner} in the same transaction`, { table: s.table, id: s.id, field: c.field, retryable: false });
        }
        claimPuts.set(c.claim, { owner: k(s.table, s.id), claim: c, table: s.table, id: s.id });
      }
      for (const c of oldClaims) if (!newSet.has(c)) claimDels.add(c);
    }

    // Claims moving from one object to another inside the transaction are overwritten, not created.
    const transfers = new Map<string, string>();
    for (const [c, p] of claimPuts) {
      if (claimDels.has(c)) {
        transfers.set(c, p.owner);
        claimPuts.delete(c);
        claimDels.delete(c);
      }
    }
    const wanted = [...claimPuts.keys()];
    const held = wanted.length > 0 ? await this.ctx.driver.getMany(CLAIM_TABLE, wanted) : [];
    held.forEach((rec, i) => {
      if (!rec) return;
      const p = claimPuts.get(wanted[i]!)!;
      if (rec.value === p.owner) {
        transfers.set(wanted[i]!, p.owner);
        claimPuts.delete(wanted[i]!);
        return;
      }
      throw conflict(`${p.table} ${p.id}: ${p.claim.what} is already used by ${rec.value.replace('/', ' ')}`, {
        table: p.table,
        id: p.id,
        field: p.claim.field,
        reason: 'in-use',
        owner: rec.value,
        modRevision: rec.modRevision,
        // Only worth another attempt if the decision was made on a view that had not seen the owner yet.
        retryable: rec.modRevision > this.startRevision,
      });
    });

    for (const s of this.staged.values()) {
      switch (s.kind) {
        case 'create':
          main.push({ type: 'put', table: s.table, id: s.id, value: encodeObject(s.table, s.obj as never), expectVersion: 0 });
          break;
        case 'update':
          main.push({ type: 'put', table: s.table, id: s.id, value: encodeObject(s.table, s.obj as never), expectVersion: s.old.version });
          break;
        case 'touch':
          main.push({ type: 'put', table: s.table, id: s.id, value: encodeObject(s.table, s.old as never), expectVersion: s.old.version });
          break;
        case 'delete':
          main.push({ type: 'delete', table: s.table, id: s.id, expectVersion: s.old.version });
          break;
      }
    }
    const ops: TxnOp[] = [...main];
    for (const [c, p] of claimPuts) ops.push({ type: 'put', table: CLAIM_TABLE, id: c, value: p.owner, expectVersion: 0 });
    for (const [c, owner] of transfers) ops.push({ type: 'put', table: CLAIM_TABLE, id: c, value: owner });
    for (const c of claimDels) ops.push({ type: 'delete', table: CLAIM_TABLE, id: c });
    for (const g of guardPuts) if (!guardDels.has(g)) ops.push({ type: 'put', table: GUARD_TABLE, id: g, value: '' });
    for (const [g, v] of guardDels) ops.push({ type: 'delete', table: GUARD_TABLE, id: g, expectVersion: v });
    for (const [key, e] of exists) if (!this.staged.has(key)) ops.push({ type: 'check', table: e.table, id: e.id, expectVersion: 'exists' });
    for (const [key, c] of this.checks) if (!this.staged.has(key) && !exists.has(key)) ops.push({ type: 'check', table: c.table, id: c.id, expectVersion: c.version });
    return ops;
  }

  /**
   * Refuses to delete an object something still references. Returns the version of
   * its reference guard: every commit that adds a reference to the object bumps the
   * guard, so the delete fails if a reference appears after this check.
   */
  private async checkUnused(table: TableName, id: string): Promise<number> {
    const guard = await this.ctx.driver.get(GUARD_TABLE, k(table, id));
    if (guard) await this.ctx.syncTo(guard.modRevision);
    const users = (await this.ctx.reader.referrers(table, id)).filter((r) => {
      const st = this.staged.get(k(r.table, r.id));
      if (!st) return true;
      if (st.kind === 'delete') return false;
      const obj = st.kind === 'touch' ? st.old : st.obj;
      return referencesOf(r.table, obj as never).some((x) => x.table === table && x.id === id);
    });
    if (users.length > 0) {
      const u = users[0]!;
      const more = users.length > 1 ? ` (and ${users.length - 1} more)` : '';
      throw conflict(`${table} ${id} is still used by ${u.table} ${u.id} (${u.field})${more}`, {
        table,
        id,
        reason: 'in-use',
        users: users.slice(0, 20),
        retryable: false,
      });
    }
    return guard?.version ?? 0;
  }

  private async read<T extends TableName>(table: T, id: string): Promise<NbObject<T> | undefined> {
    const key = k(table, id);
    if (this.fresh.has(key)) return (this.fresh.get(key) ?? undefined) as NbObject<T> | undefined;
    const r = await this.ctx.driver.get(table, id);
    const obj = r ? decodeObject(table, r.value, r.version) : undefined;
    this.fresh.set(key, obj ?? null);
    return obj;
  }

  private overlay<T extends TableName>(table: T, base: NbObject<T>[], matches: (o: NbObject<T>) => boolean): NbObject<T>[] {
    if (this.staged.size === 0) return base;
    const out: NbObject<T>[] = [];
    const seen = new Set<string>();
    for (const o of base) {
      seen.add(o.id);
      const s = this.staged.get(k(table, o.id));
      if (!s) out.push(o);
      else if (s.kind === 'touch') out.push(o);
      else if (s.kind !== 'delete' && matches(s.obj as NbObject<T>)) out.push(s.obj as NbObject<T>);
    }
    for (const s of this.staged.values()) {
      if (s.table !== table || seen.has(s.id) || s.kind === 'delete' || s.kind === 'touch') continue;
      if (matches(s.obj as NbObject<T>)) out.push(s.obj as NbObject<T>);
    }
    return out;
  }
}
