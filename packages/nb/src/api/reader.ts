import type { NbDriver, Revision } from '../db/driver.js';
import { decodeObject } from '../model/codec.js';
import { indexFns } from '../model/indexes.js';
import { REFERRING_TABLES, referencesOf } from '../model/integrity.js';
import type { NbObject, TableName } from '../model/tables.js';
import type { Referrer } from '../topology/store.js';

/**
 * A read view of the model used by NbApi for lookups. The mirror (a full in-memory
 * copy fed by the change feed) answers from memory; DriverReader scans the DB.
 */
export interface NbReader {
  /** Revision the view reflects (0 when unknown). */
  readonly revision: Revision;
  /** Resolves once the view has applied `revision`. */
  waitFor(revision: Revision): Promise<void>;
  get<T extends TableName>(table: T, id: string): Promise<NbObject<T> | undefined>;
  list<T extends TableName>(table: T): Promise<NbObject<T>[]>;
  lookup<T extends TableName>(table: T, index: string, value: string): Promise<NbObject<T>[]>;
  referrers(table: TableName, id: string): Promise<Referrer[]>;
}

/**
 * Reads straight from the DB: always current, but lookups scan a whole table. For
 * processes that do few writes and keep no full copy (a controller, the CLI).
 */
export class DriverReader implements NbReader {
  private rev: Revision = 0;

  constructor(private readonly driver: NbDriver) {}

  get revision(): Revision {
    return this.rev;
  }

  async waitFor(_revision: Revision): Promise<void> {
    // Every read goes to the DB, so it already reflects any committed revision.
  }

  async get<T extends TableName>(table: T, id: string): Promise<NbObject<T> | undefined> {
    const r = await this.driver.get(table, id);
    return r ? decodeObject(table, r.value, r.version) : undefined;
  }

  async list<T extends TableName>(table: T): Promise<NbObject<T>[]> {
    const snap = await this.driver.list(table);
    if (snap.revision > this.rev) this.rev = snap.revision;
    return snap.records.map((r) => decodeObject(table, r.value, r.version));
  }

  async lookup<T extends TableName>(table: T, index: string, value: string): Promise<NbObject<T>[]> {
    const fn = (indexFns(table) as Record<string, (o: NbObject<T>) => readonly string[]>)[index];
    if (!fn) throw new Error(`table ${table} has no index ${index}`);
    return (await this.list(table)).filter((o) => fn(o).includes(value));
  }

  async referrers(table: TableName, id: string): Promise<Referrer[]> {
    const out: Referrer[] = [];
    for (const t of REFERRING_TABLES[table]) {
      for (const o of await this.list(t)) {
        for (const r of referencesOf(t, o as never)) {
          if (r.table === table && r.id === id && !(t === table && o.id === id)) {
            out.push({ table: t, id: o.id, field: r.field });
            break;
          }
        }
      }
    }
    return out;
  }
}
