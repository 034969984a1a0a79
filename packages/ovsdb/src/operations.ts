import { DfError } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';
import type { JsonValue } from './jsonrpc.js';
import { encodeValue, type OvsdbValue, type OvsdbValueInput, type Uuid } from './values.js';

/** A decoded row: column name → canonical value. `_uuid` is present when selected. */
export type Row = Readonly<Record<string, OvsdbValue>>;
export type RowInput = Readonly<Record<string, OvsdbValueInput>>;

export type ConditionFunction = '<' | '<=' | '==' | '!=' | '>=' | '>' | 'includes' | 'excludes';
/** `[column, function, value]` (RFC 7047 §5.1 <condition>). */
export type Condition = readonly [column: string, fn: ConditionFunction, value: OvsdbValueInput];
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type Mutation = readonly [column: string, mutator: Mutator, value: OvsdbValueInput];

/** The operations of RFC 7047 §5.2, as plain typed objects. */
export type Operation =
  | { readonly op: 'insert'; readonly table: string; readonly row: RowInput; readonly uuidName?: string; readonly uuid?: Uuid }
  | { readonly op: 'select'; readonly table: string; readonly where: readonly Condition[]; readonly columns?: readonly string[] }
  | { readonly op: 'update'; readonly table: string; readonly where: readonly Condition[]; readonly row: RowInput }
  | { readonly op: 'mutate'; readonly table: string; readonly where: readonly Condition[]; readonly mutations: readonly Mutation[] }
  | { readonly op: 'delete'; readonly table: string; readonly where: readonly Condition[] }
  | {
      readonly op: 'wait';
      readonly table: string;
      readonly where: readonly Condition[];
      readonly columns: readonly string[];
      readonly until: '==' | '!=';
      readonly rows: readonly RowInput[];
      /** Milliseconds; 0 fails at once when the condition does not hold; absent waits forever. */
      readonly timeout?: number;
    }
  | { readonly op: 'commit'; readonly durable: boolean }
  | { readonly op: 'abort' }
  | { readonly op: 'comment'; readonly comment: string }
  | { readonly op: 'assert'; readonly lock: string };

/** What one successful operation returned (only the fields its kind produces). */
export interface OperationResult {
  /** insert: the new row's UUID. */
  readonly uuid?: Uuid;
  /** select: the rows, decoded against the schema. */
  readonly rows?: readonly Row[];
  /** update, mutate, delete: how many rows matched. */
  readonly count?: number;
}

function encodeRow(row: RowInput): JsonValue {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(row)) out[k] = encodeValue(v);
  return out;
}

function encodeWhere(where: readonly Condition[]): JsonValue {
  return where.map(([column, fn, value]) => [column, fn, encodeValue(value)]);
}

/** Encodes an operation for the `transact` params. */
export function encodeOperation(op: Operation): JsonValue {
  switch (op.op) {
    case 'insert': {
      const out: Record<string, JsonValue> = { op: 'insert', table: op.table, row: encodeRow(op.row) };
      if (op.uuidName !== undefined) out['uuid-name'] = op.uuidName;
      if (op.uuid !== undefined) out['uuid'] = op.uuid.value;
      return out;
    }
    case 'select': {
      const out: Record<string, JsonValue> = { op: 'select', table: op.table, where: encodeWhere(op.where) };
      if (op.columns) out['columns'] = [...op.columns];
      return out;
    }
    case 'update':
      return { op: 'update', table: op.table, where: encodeWhere(op.where), row: encodeRow(op.row) };
    case 'mutate':
      return {
        op: 'mutate',
        table: op.table,
        where: encodeWhere(op.where),
        mutations: op.mutations.map(([column, mutator, value]) => [column, mutator, encodeValue(value)]),
      };
    case 'delete':
      return { op: 'delete', table: op.table, where: encodeWhere(op.where) };
    case 'wait': {
      const out: Record<string, JsonValue> = {
        op: 'wait',
        table: op.table,
        where: encodeWhere(op.where),
        columns: [...op.columns],
        until: op.until,
        rows: op.rows.map(encodeRow),
      };
      if (op.timeout !== undefined) out['timeout'] = op.timeout;
      return out;
    }
    case 'commit':
      return { op: 'commit', durable: op.durable };
    case 'abort':
      return { op: 'abort' };
    case 'comment':
      return { op: 'comment', comment: op.comment };
    case 'assert':
      return { op: 'assert', lock: op.lock };
    default: {
      const unknown: { op?: unknown } = op;
      throw new DfError(OvsdbErrorCode.VALUE, `unknown OVSDB operation '${String(unknown.op)}'`);
    }
  }
}
