import { indexFns } from '../model/indexes.js';
import { referencesOf } from '../model/integrity.js';
import type { NbObject, TableName } from '../model/tables.js';

export interface Referrer {
  table: TableName;
  id: string;
  /** The referencing field, e.g. `fixedIps[0].subnetId`. */
  field: string;
}

/** What `apply` did: the object before and after (undefined when absent). */
export interface AppliedChange<T extends TableName = TableName> {
  table: T;
  id: string;
  old: NbObject<T> | undefined;
  new: NbObject<T> | undefined;
  revision: number;
}

interface Entry {
  obj: NbObject;
  modRevision: number;
}

const EMPTY: readonly string[] = [];

/**
 * The ids under one index value: most values name one object (a port's IP, MAC or
 * key), so a single id is kept as the string itself and a Set only from the second
 * on — 10 000 ports would otherwise hold 30 000 one-element Sets (≈ 190 bytes each).
 */
type Ids = string | Set<string>;

/** `a<sep>b` as one flat string (a template literal would be a rope kept alive with the key). */
const joinKey = (a: string, sep: string, b: string): string => [a, b].join(sep);

/**
 * An in-memory, indexed set of model objects: by id, by every index of
 * `model/indexes.ts`, and by reference (who points at an object). Lookups cost
 * O(result). Each object remembers the revision it was written at; an older write
 * or delete than the one held is ignored.
 */
export class TopologyStore {
  private readonly tables = new Map<TableName, Map<string, Entry>>();
  private readonly indexes = new Map<string, Map<string, Ids>>();
  /** `table/id` of a target → (`table/id` of a referrer → field). */
  private readonly refs = new Map<string, Map<string, string>>();

  get<T extends TableName>(table: T, id: string): NbObject<T> | undefined {
    return this.tables.get(table)?.get(id)?.obj as NbObject<T> | undefined;
  }

  has(table: TableName, id: string): boolean {
    return this.tables.get(table)?.has(id) ?? false;
  }

  /** Revision at which the held object was written (undefined when absent). */
  modRevision(table: TableName, id: string): number | undefined {
    return this.tables.get(table)?.get(id)?.modRevision;
  }

  all<T extends TableName>(table: T): NbObject<T>[] {
    const t = this.tables.get(table);
    if (!t) return [];
    const out: NbObject<T>[] = [];
    for (const e of t.values()) out.push(e.obj as NbObject<T>);
    return out;
  }

  ids(table: TableName): string[] {
    return [...(this.tables.get(table)?.keys() ?? [])];
  }

  size(table?: TableName): number {
    if (table) return this.tables.get(table)?.size ?? 0;
    let n = 0;
    for (const t of this.tables.values()) n += t.size;
    return n;
  }

  /** Ids of `table` objects whose index `index` has `value`. */
  lookupIds(table: TableName, index: string, value: string): Iterable<string> {
    const ids = this.indexes.get(`${table}.${index}`)?.get(value);
    if (ids === undefined) return EMPTY;
    return typeof ids === 'string' ? [ids] : ids;
  }

  lookup<T extends TableName>(table: T, index: string, value: string): NbObject<T>[] {
    const out: NbObject<T>[] = [];
    for (const id of this.lookupIds(table, index, value)) {
      const o = this.get(table, id);
      if (o) out.push(o);
    }
    return out;
  }

  /** Objects that reference (table, id), with the referencing field. */
  referrers(table: TableName, id: string): Referrer[] {
    const m = this.refs.get(joinKey(table, '/', id));
    if (!m) return [];
    return [...m].map(([key, field]) => {
      const slash = key.indexOf('/');
      return { table: key.slice(0, slash) as TableName, id: key.slice(slash + 1), field };
    });
  }

  /**
   * Puts (obj) or deletes (undefined) an object seen at `revision`. Returns what
   * changed, or undefined when nothing did (an older revision than the one held, or
   * a delete of an absent object).
   */
  apply<T extends TableName>(table: T, id: string, obj: NbObject<T> | undefined, revision: number): AppliedChange<T> | undefined {
    let t = this.tables.get(table);
    const cur = t?.get(id);
    if (cur && revision <= cur.modRevision) return undefined;
    if (!cur && !obj) return undefined;
    const old = cur?.obj as NbObject<T> | undefined;
    if (old) this.unindex(table, id, old);
    if (obj) {
      if (!t) {
        t = new Map();
        this.tables.set(table, t);
      }
      t.set(id, { obj, modRevision: revision });
      this.index(table, id, obj);
    } else {
      t?.delete(id);
    }
    return { table, id, old, new: obj, revision };
  }

  /** Removes an object regardless of revision (a cache dropping what it no longer needs). */
  evict<T extends TableName>(table: T, id: string): NbObject<T> | undefined {
    const t = this.tables.get(table);
    const cur = t?.get(id);
    if (!t || !cur) return undefined;
    this.unindex(table, id, cur.obj);
    t.delete(id);
    return cur.obj as NbObject<T>;
  }

  clear(): void {
    this.tables.clear();
    this.indexes.clear();
    this.refs.clear();
  }

  private index(table: TableName, id: string, obj: NbObject): void {
    const fns = indexFns(table) as Record<string, (o: NbObject) => readonly string[]>;
    for (const [name, fn] of Object.entries(fns)) {
      const key = `${table}.${name}`;
      let m = this.indexes.get(key);
      if (!m) {
        m = new Map();
        this.indexes.set(key, m);
      }
      for (const v of fn(obj)) {
        const ids = m.get(v);
        if (ids === undefined) m.set(v, id);
        else if (typeof ids === 'string') {
          if (ids !== id) m.set(v, new Set([ids, id]));
        } else ids.add(id);
      }
    }
    const self = joinKey(table, '/', id);
    for (const r of referencesOf(table, obj as never)) {
      const target = joinKey(r.table, '/', r.id);
      let m = this.refs.get(target);
      if (!m) {
        m = new Map();
        this.refs.set(target, m);
      }
      if (!m.has(self)) m.set(self, r.field);
    }
  }

  private unindex(table: TableName, id: string, obj: NbObject): void {
    const fns = indexFns(table) as Record<string, (o: NbObject) => readonly string[]>;
    for (const [name, fn] of Object.entries(fns)) {
      const m = this.indexes.get(`${table}.${name}`);
      if (!m) continue;
      for (const v of fn(obj)) {
        const ids = m.get(v);
        if (ids === undefined) continue;
        if (typeof ids === 'string') {
          if (ids === id) m.delete(v);
          continue;
        }
        ids.delete(id);
        if (ids.size === 1) m.set(v, ids.values().next().value!);
        else if (ids.size === 0) m.delete(v);
      }
    }
    const self = joinKey(table, '/', id);
    for (const r of referencesOf(table, obj as never)) {
      const target = joinKey(r.table, '/', r.id);
      const m = this.refs.get(target);
      if (!m) continue;
      m.delete(self);
      if (m.size === 0) this.refs.delete(target);
    }
  }
}
