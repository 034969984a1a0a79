import { DfError } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';
import { decodeAtom, decodeValue, isAtom, NamedUuid, Uuid, type Atom, type OvsdbValue } from './values.js';

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';
const ATOMIC_TYPES: readonly string[] = ['integer', 'real', 'boolean', 'string', 'uuid'];

export interface BaseType {
  readonly type: AtomicType;
  readonly enum?: readonly Atom[];
  readonly refTable?: string;
  readonly refType?: 'strong' | 'weak';
}

export interface ColumnType {
  readonly key: BaseType;
  readonly value?: BaseType;
  readonly min: number;
  /** `Infinity` for "unlimited". */
  readonly max: number;
}

/** How a column's values are held: one atom, a set (array), or a map (Map). */
export type ColumnKind = 'scalar' | 'set' | 'map';

export interface ColumnSchema {
  readonly name: string;
  readonly type: ColumnType;
  readonly kind: ColumnKind;
  readonly ephemeral: boolean;
  readonly mutable: boolean;
}

export interface TableSchema {
  readonly name: string;
  readonly columns: ReadonlyMap<string, ColumnSchema>;
  readonly isRoot: boolean;
  readonly maxRows?: number;
  readonly indexes: readonly (readonly string[])[];
}

export interface DatabaseSchema {
  readonly name: string;
  readonly version: string;
  readonly tables: ReadonlyMap<string, TableSchema>;
}

function schemaError(message: string, where: string): DfError {
  return new DfError(OvsdbErrorCode.SCHEMA, `${message} at ${where}`, { context: { where } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseBaseType(json: unknown, where: string): BaseType {
  if (typeof json === 'string') {
    if (!ATOMIC_TYPES.includes(json)) throw schemaError(`unknown atomic type '${json}'`, where);
    return { type: json as AtomicType };
  }
  if (!isObject(json) || typeof json['type'] !== 'string' || !ATOMIC_TYPES.includes(json['type'])) {
    throw schemaError('base type must be an atomic type name or {"type": ...}', where);
  }
  const base: { type: AtomicType; enum?: Atom[]; refTable?: string; refType?: 'strong' | 'weak' } = { type: json['type'] as AtomicType };
  if (json['enum'] !== undefined) {
    const e = decodeValue(json['enum'], `${where}.enum`);
    base.enum = isAtom(e) ? [e] : Array.isArray(e) ? [...(e as Atom[])] : [];
  }
  if (typeof json['refTable'] === 'string') base.refTable = json['refTable'];
  if (json['refType'] === 'weak' || json['refType'] === 'strong') base.refType = json['refType'];
  else if (base.refTable) base.refType = 'strong';
  return base;
}

function parseColumnType(json: unknown, where: string): ColumnType {
  if (typeof json === 'string') return { key: parseBaseType(json, where), min: 1, max: 1 };
  if (!isObject(json)) throw schemaError('column type must be a string or an object', where);
  if (json['key'] === undefined) {
    // A base type written directly as the column type: {"type":"integer","minInteger":0}.
    return { key: parseBaseType(json, where), min: 1, max: 1 };
  }
  const min = json['min'] === undefined ? 1 : json['min'];
  const maxRaw = json['max'] === undefined ? 1 : json['max'];
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 0 || min > 1) throw schemaError('"min" must be 0 or 1', where);
  const max = maxRaw === 'unlimited' ? Infinity : maxRaw;
  if (typeof max !== 'number' || max < 1 || max < min) throw schemaError('"max" must be a positive integer or "unlimited"', where);
  const out: { key: BaseType; value?: BaseType; min: number; max: number } = { key: parseBaseType(json['key'], `${where}.key`), min, max };
  if (json['value'] !== undefined) out.value = parseBaseType(json['value'], `${where}.value`);
  return out;
}

export function columnKind(type: ColumnType): ColumnKind {
  if (type.value) return 'map';
  if (type.min === 1 && type.max === 1) return 'scalar';
  return 'set';
}

function implicitColumn(name: string): ColumnSchema {
  return { name, type: { key: { type: 'uuid' }, min: 1, max: 1 }, kind: 'scalar', ephemeral: false, mutable: false };
}

/** Parses the result of `get_schema` (RFC 7047 §3.2). */
export function parseSchema(json: unknown): DatabaseSchema {
  if (!isObject(json) || typeof json['name'] !== 'string' || !isObject(json['tables'])) {
    throw schemaError('schema must have "name" and "tables"', 'schema');
  }
  const tables = new Map<string, TableSchema>();
  for (const [tableName, tableJson] of Object.entries(json['tables'])) {
    const where = `tables.${tableName}`;
    if (!isObject(tableJson) || !isObject(tableJson['columns'])) throw schemaError('table must have "columns"', where);
    const columns = new Map<string, ColumnSchema>();
    columns.set('_uuid', implicitColumn('_uuid'));
    columns.set('_version', implicitColumn('_version'));
    for (const [colName, colJson] of Object.entries(tableJson['columns'])) {
      const cw = `${where}.columns.${colName}`;
      if (!isObject(colJson)) throw schemaError('column must be an object', cw);
      const type = parseColumnType(colJson['type'], `${cw}.type`);
      columns.set(colName, {
        name: colName,
        type,
        kind: columnKind(type),
        ephemeral: colJson['ephemeral'] === true,
        mutable: colJson['mutable'] !== false,
      });
    }
    const indexes = Array.isArray(tableJson['indexes']) ? (tableJson['indexes'] as unknown[]).filter(Array.isArray).map((ix) => (ix as unknown[]).map(String)) : [];
    const table: { name: string; columns: Map<string, ColumnSchema>; isRoot: boolean; maxRows?: number; indexes: string[][] } = {
      name: tableName,
      columns,
      isRoot: tableJson['isRoot'] === true,
      indexes,
    };
    if (typeof tableJson['maxRows'] === 'number') table.maxRows = tableJson['maxRows'];
    tables.set(tableName, table);
  }
  return { name: json['name'], version: typeof json['version'] === 'string' ? json['version'] : '', tables };
}

export function tableOf(schema: DatabaseSchema, table: string): TableSchema {
  const t = schema.tables.get(table);
  if (!t) throw new DfError(OvsdbErrorCode.SCHEMA, `database ${schema.name} has no table ${table}`, { context: { db: schema.name, table } });
  return t;
}

export function columnOf(table: TableSchema, column: string): ColumnSchema {
  const c = table.columns.get(column);
  if (!c) throw new DfError(OvsdbErrorCode.SCHEMA, `table ${table.name} has no column ${column}`, { context: { table: table.name, column } });
  return c;
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

function defaultAtom(base: BaseType): Atom {
  if (base.enum && base.enum.length > 0) return base.enum[0]!;
  switch (base.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return decodeAtom(['uuid', ZERO_UUID], 'default');
  }
}

/** The value a column holds when a row does not say (RFC 7047 §5.1 defaults). */
export function defaultValue(column: ColumnSchema): OvsdbValue {
  if (column.kind === 'map') return new Map();
  if (column.kind === 'set') return [];
  return defaultAtom(column.type.key);
}

function atomFits(base: BaseType, atom: Atom): boolean {
  switch (base.type) {
    case 'integer':
      return typeof atom === 'number' && Number.isInteger(atom);
    case 'real':
      return typeof atom === 'number';
    case 'boolean':
      return typeof atom === 'boolean';
    case 'string':
      return typeof atom === 'string';
    case 'uuid':
      return atom instanceof Uuid || atom instanceof NamedUuid;
  }
}

function checkAtoms(column: ColumnSchema, v: OvsdbValue, where: string): void {
  const bad = (atom: Atom, base: BaseType): DfError =>
    new DfError(OvsdbErrorCode.VALUE, `column ${column.name} holds ${base.type} values, not ${JSON.stringify(atom)} at ${where}`, {
      context: { where, column: column.name },
    });
  if (v instanceof Map) {
    for (const [k, val] of v) {
      if (!atomFits(column.type.key, k)) throw bad(k, column.type.key);
      if (column.type.value && !atomFits(column.type.value, val)) throw bad(val, column.type.value);
    }
  } else if (Array.isArray(v)) {
    for (const a of v as readonly Atom[]) if (!atomFits(column.type.key, a)) throw bad(a, column.type.key);
  } else if (!atomFits(column.type.key, v as Atom)) throw bad(v as Atom, column.type.key);
}

/** Decodes a column's wire value into its canonical form: scalar atom, array for sets, Map for maps. */
export function decodeColumn(column: ColumnSchema, json: unknown, where: string): OvsdbValue {
  const v = decodeValue(json, where);
  checkAtoms(column, v, where);
  if (column.kind === 'map') {
    if (v instanceof Map) return v;
    // An empty map may be written as an empty set.
    if (Array.isArray(v) && v.length === 0) return new Map();
    throw new DfError(OvsdbErrorCode.VALUE, `column ${column.name} is a map at ${where}`, { context: { where, column: column.name } });
  }
  if (v instanceof Map) throw new DfError(OvsdbErrorCode.VALUE, `column ${column.name} is not a map at ${where}`, { context: { where, column: column.name } });
  if (column.kind === 'set') return isAtom(v) ? [v] : v;
  if (!isAtom(v)) {
    if (Array.isArray(v) && v.length === 1) return v[0]!;
    throw new DfError(OvsdbErrorCode.VALUE, `column ${column.name} holds exactly one value at ${where}`, { context: { where, column: column.name } });
  }
  return v;
}
