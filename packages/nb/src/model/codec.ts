import { DfError } from '@dragonflow/base';
import { NbErrorCode } from '../errors.js';
import { NB_SCHEMA_VERSION } from './base.js';
import type { NbObject, TableName } from './tables.js';

/** JSON with object keys sorted at every level, so equal objects encode to equal bytes. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * The stored form of an object: stable JSON carrying `_schema` (the layout version),
 * without `version` (the DB keeps that beside the value).
 */
export function encodeObject<T extends TableName>(_table: T, obj: Omit<NbObject<T>, 'version'> | NbObject<T>): string {
  const { version: _v, ...body } = obj as NbObject<T>;
  return stableStringify({ _schema: NB_SCHEMA_VERSION, ...body });
}

/** Parses a stored value back into an object, filling in `version` from the DB. */
export function decodeObject<T extends TableName>(table: T, value: string, version: number): NbObject<T> {
  return objectOf<T>(parseStored(table, value), version);
}

/**
 * A stored value parsed and its layout version checked, not yet an object: its fields
 * are the object's (plus `_schema`), enough to read a few of them — a selective cache
 * reads an out-of-scope change's scope fields this way and never builds the object.
 */
export type StoredFields = Readonly<Record<string, unknown>>;

export function parseStored(table: TableName, value: string): StoredFields {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(value) as Record<string, unknown>;
  } catch (cause) {
    throw new DfError(NbErrorCode.SCHEMA, `stored ${table} is not JSON`, { cause, context: { table } });
  }
  const schema = raw['_schema'];
  if (typeof schema !== 'number' || schema < 1 || schema > NB_SCHEMA_VERSION) {
    throw new DfError(NbErrorCode.SCHEMA, `stored ${table} ${String(raw['id'])} has schema version ${String(schema)}; this build reads 1..${NB_SCHEMA_VERSION}`, {
      context: { table, id: raw['id'], schema },
    });
  }
  return raw;
}

/** The object of parsed stored fields (see parseStored), with `version` from the DB. */
export function objectOf<T extends TableName>(fields: StoredFields, version: number): NbObject<T> {
  // Rest, not `delete`: deleting a property turns the object into a slow dictionary
  // (about three times the memory of a cached port), and decoded objects are what
  // every view of the topology holds.
  const { _schema: _s, ...obj } = fields as Record<string, unknown>;
  obj['version'] = version;
  return obj as unknown as NbObject<T>;
}
