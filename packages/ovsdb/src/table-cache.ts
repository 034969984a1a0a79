import { DfError } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';
import type { Row } from './operations.js';
import { columnOf, decodeColumn, defaultValue, tableOf, type ColumnSchema, type DatabaseSchema, type TableSchema } from './schema.js';
import { atomKey, atomsEqual, Uuid, valuesEqual, type Atom, type OvsdbMap, type OvsdbValue } from './values.js';

/** One row's change, as seen by a monitor's consumer. */
export interface RowChange {
  readonly table: string;
  readonly uuid: string;
  readonly kind: 'insert' | 'modify' | 'delete';
  /** The row after the change (absent on delete). */
  readonly row?: Row;
  /** The row before the change (absent on insert). */
  readonly old?: Row;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string, where: string): DfError {
  return new DfError(OvsdbErrorCode.PROTOCOL, `malformed monitor update: ${message} at ${where}`, { context: { where } });
}

/** Applies an update2 "modify" diff for one column (RFC 7047 extension, ovsdb-server(7)). */
function applyColumnDiff(column: ColumnSchema, current: OvsdbValue, diff: OvsdbValue): OvsdbValue {
  if (column.kind === 'scalar') return diff;
  if (column.kind === 'set') {
    // The diff is the symmetric difference: each element present is removed, absent is added.
    const out = new Map<string, Atom>();
    for (const a of current as readonly Atom[]) out.set(atomKey(a), a);
    for (const a of diff as readonly Atom[]) {
      const k = atomKey(a);
      if (out.has(k)) out.delete(k);
      else out.set(k, a);
    }
    return [...out.values()];
  }
  // Maps: a new key is added; a key with the same value is removed; a key with another value is updated.
  const out = new Map<string, [Atom, Atom]>();
  for (const [k, v] of current as OvsdbMap) out.set(atomKey(k), [k, v]);
  for (const [k, v] of diff as OvsdbMap) {
    const key = atomKey(k);
    const existing = out.get(key);
    if (existing === undefined) out.set(key, [k, v]);
    else if (atomsEqual(existing[1], v)) out.delete(key);
    else out.set(key, [k, v]);
  }
  return new Map([...out.values()]);
}

/**
 * The client-side copy of the monitored tables: applies `update` (monitor) and
 * `update2` (monitor_cond) notifications and reports what changed. Rows hold every
 * monitored column (defaults filled in from the schema, since update2 omits them).
 */
export class TableCache {
  private readonly data = new Map<string, Map<string, Row>>();
  private readonly monitored = new Map<string, readonly ColumnSchema[]>();

  constructor(
    readonly schema: DatabaseSchema,
    columnsByTable: ReadonlyMap<string, readonly string[] | undefined>,
  ) {
    for (const [table, columns] of columnsByTable) {
      const ts = tableOf(schema, table);
      const cols = columns ?? [...ts.columns.keys()].filter((c) => c !== '_uuid' && c !== '_version');
      this.monitored.set(table, cols.map((c) => columnOf(ts, c)));
      this.data.set(table, new Map());
    }
  }

  tables(): string[] {
    return [...this.data.keys()];
  }

  rows(table: string): ReadonlyMap<string, Row> {
    const t = this.data.get(table);
    if (!t) throw new DfError(OvsdbErrorCode.SCHEMA, `table ${table} is not monitored`, { context: { table } });
    return t;
  }

  /** Replaces the whole content with a monitor reply (first time or after a reconnect) and returns the difference. */
  replaceAll(result: unknown, version: 1 | 2): RowChange[] {
    const fresh = new TableCache(this.schema, new Map([...this.monitored].map(([t, cols]) => [t, cols.map((c) => c.name)])));
    if (version === 1) fresh.applyUpdate(result);
    else fresh.applyUpdate2(result);
    const changes: RowChange[] = [];
    for (const [table, newRows] of fresh.data) {
      const oldRows = this.data.get(table) ?? new Map<string, Row>();
      for (const [uuid, old] of oldRows) {
        if (!newRows.has(uuid)) changes.push({ table, uuid, kind: 'delete', old });
      }
      for (const [uuid, row] of newRows) {
        const old = oldRows.get(uuid);
        if (!old) changes.push({ table, uuid, kind: 'insert', row });
        else if (!rowsEqual(old, row)) changes.push({ table, uuid, kind: 'modify', row, old });
      }
      this.data.set(table, newRows);
    }
    return changes;
  }

  /** Applies an RFC 7047 <table-updates> object (monitor, "update" notification). */
  applyUpdate(json: unknown): RowChange[] {
    return this.forEachRowUpdate(json, (table, ts, uuid, rowUpdate, where) => {
      if (!isObject(rowUpdate)) throw malformed('row update must be an object', where);
      const rows = this.data.get(table)!;
      const old = rows.get(uuid);
      const next = rowUpdate['new'];
      if (next === undefined || next === null) {
        if (!old) return undefined;
        rows.delete(uuid);
        return { table, uuid, kind: 'delete', old };
      }
      const row = this.buildRow(ts, table, uuid, old, next, `${where}.new`);
      rows.set(uuid, row);
      return old ? { table, uuid, kind: 'modify', row, old } : { table, uuid, kind: 'insert', row };
    });
  }

  /** Applies an update2 <table-updates2> object (monitor_cond, "update2" notification). */
  applyUpdate2(json: unknown): RowChange[] {
    return this.forEachRowUpdate(json, (table, ts, uuid, rowUpdate, where) => {
      if (!isObject(rowUpdate)) throw malformed('row update must be an object', where);
      const rows = this.data.get(table)!;
      const old = rows.get(uuid);
      if ('delete' in rowUpdate) {
        if (!old) return undefined;
        rows.delete(uuid);
        return { table, uuid, kind: 'delete', old };
      }
      const content = rowUpdate['initial'] ?? rowUpdate['insert'];
      if (content !== undefined) {
        const row = this.buildRow(ts, table, uuid, undefined, content, where);
        rows.set(uuid, row);
        return old ? { table, uuid, kind: 'modify', row, old } : { table, uuid, kind: 'insert', row };
      }
      const diff = rowUpdate['modify'];
      if (diff === undefined) throw malformed('expected initial, insert, delete or modify', where);
      if (!isObject(diff)) throw malformed('"modify" must be an object', where);
      if (!old) throw malformed(`modify of unknown row ${uuid}`, where);
      const next: Record<string, OvsdbValue> = { ...old };
      for (const [name, value] of Object.entries(diff)) {
        const column = ts.columns.get(name);
        if (!column) throw malformed(`unknown column ${name}`, `${where}.modify`);
        next[name] = applyColumnDiff(column, old[name] ?? defaultValue(column), decodeColumn(column, value, `${where}.modify.${name}`));
      }
      const row = Object.freeze(next);
      rows.set(uuid, row);
      return { table, uuid, kind: 'modify', row, old };
    });
  }

  private forEachRowUpdate(
    json: unknown,
    apply: (table: string, ts: TableSchema, uuid: string, rowUpdate: unknown, where: string) => RowChange | undefined,
  ): RowChange[] {
    if (!isObject(json)) throw malformed('table updates must be an object', 'update');
    const changes: RowChange[] = [];
    for (const [table, tableUpdate] of Object.entries(json)) {
      const ts = this.schema.tables.get(table);
      if (!ts || !this.data.has(table)) throw malformed(`update for unmonitored table ${table}`, table);
      if (!isObject(tableUpdate)) throw malformed('table update must be an object', table);
      for (const [uuid, rowUpdate] of Object.entries(tableUpdate)) {
        let id: string;
        try {
          id = new Uuid(uuid).value;
        } catch {
          throw malformed(`'${uuid}' is not a row UUID`, table);
        }
        const change = apply(table, ts, id, rowUpdate, `${table}.${uuid}`);
        if (change) changes.push(change);
      }
    }
    return changes;
  }

  private buildRow(ts: TableSchema, table: string, uuid: string, base: Row | undefined, json: unknown, where: string): Row {
    if (!isObject(json)) throw malformed('row must be an object', where);
    const row: Record<string, OvsdbValue> = base ? { ...base } : {};
    if (!base) for (const col of this.monitored.get(table)!) row[col.name] = defaultValue(col);
    for (const [name, value] of Object.entries(json)) {
      const column = ts.columns.get(name);
      if (!column) throw malformed(`unknown column ${name}`, where);
      row[name] = decodeColumn(column, value, `${where}.${name}`);
    }
    row['_uuid'] = new Uuid(uuid);
    return Object.freeze(row);
  }
}

export function rowsEqual(a: Row, b: Row): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const va = a[k];
    const vb = b[k];
    if (va === undefined || vb === undefined) {
      if (va !== vb) return false;
      continue;
    }
    if (!valuesEqual(va, vb)) return false;
  }
  return true;
}
