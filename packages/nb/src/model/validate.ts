import { DfError } from '@dragonflow/base';
import type { z } from 'zod';
import { NbErrorCode } from '../errors.js';
import { NB_SCHEMAS, type NbObject, type TableName } from './tables.js';

/** Formats a zod path as a field name: ['fixedIps', 0, 'ipAddress'] → fixedIps[0].ipAddress. */
export function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** Turns the first zod issue into an NB_INVALID error naming table, object and field. */
export function invalidFromZod(table: string, id: string | undefined, error: z.ZodError): DfError {
  const first = error.issues[0];
  let field = first ? fieldName(first.path) : '';
  let message = first?.message ?? 'invalid';
  if (first?.code === 'unrecognized_keys') {
    const keys = (first as { keys?: string[] }).keys ?? [];
    field = fieldName([...first.path, keys[0] ?? '']);
    message = `unknown field${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`;
  } else if (first?.code === 'invalid_type' && (first as { input?: unknown }).input === undefined) {
    message = 'is required';
  }
  const where = field ? `${table}.${field}` : table;
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem${error.issues.length > 2 ? 's' : ''})` : '';
  return new DfError(NbErrorCode.INVALID, `${where}: ${message}${more}`, {
    context: {
      table,
      ...(id ? { id } : {}),
      field,
      issues: error.issues.map((i) => ({ field: fieldName(i.path), message: i.message })),
    },
  });
}

/**
 * Validates and normalizes an object of `table` (MACs lower-case, IPs canonical,
 * defaults filled in). `version` is ignored. Throws NB_INVALID naming the field.
 */
export function parseObject<T extends TableName>(table: T, input: unknown): Omit<NbObject<T>, 'version'> {
  const schema = NB_SCHEMAS[table] as unknown as z.ZodType<Omit<NbObject<T>, 'version'>>;
  let body = input;
  if (input !== null && typeof input === 'object' && 'version' in input) {
    const { version: _v, ...rest } = input as Record<string, unknown>;
    body = rest;
  }
  const r = schema.safeParse(body);
  if (!r.success) {
    const id = body !== null && typeof body === 'object' ? (body as { id?: unknown }).id : undefined;
    throw invalidFromZod(table, typeof id === 'string' ? id : undefined, r.error);
  }
  return r.data;
}
