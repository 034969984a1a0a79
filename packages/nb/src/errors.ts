import { DfError } from '@dragonflow/base';

/**
 * Error codes raised by the northbound layer. Every one is a DfError whose context
 * names the table, the object id and, for validation, the field.
 */
export const NbErrorCode = {
  /** An object (or a field of it) is not valid; context.field names the field. */
  INVALID: 'NB_INVALID',
  /** A compare-and-swap failed or a uniqueness/reference rule was broken by a concurrent write. */
  CONFLICT: 'NB_CONFLICT',
  /** The object does not exist. */
  NOT_FOUND: 'NB_NOT_FOUND',
  /** The change feed cannot resume from the requested revision: history was compacted or the DB was reset. */
  COMPACTED: 'NB_COMPACTED',
  /** The DB cannot be reached (after the driver's own retries). */
  UNAVAILABLE: 'NB_UNAVAILABLE',
  /** A lease is gone (expired or revoked). */
  LEASE_EXPIRED: 'NB_LEASE_EXPIRED',
  /** All unique keys of a namespace are used. */
  KEYS_EXHAUSTED: 'NB_KEYS_EXHAUSTED',
  /** The stored JSON has a schema version this code does not know. */
  SCHEMA: 'NB_SCHEMA',
  /** The driver was closed. */
  CLOSED: 'NB_CLOSED',
  /** A driver name, endpoint or option is wrong. */
  CONFIG: 'NB_CONFIG',
  /** The caller's credentials do not allow this (no or a wrong token, or a role without the right). */
  FORBIDDEN: 'NB_FORBIDDEN',
} as const;
export type NbErrorCode = (typeof NbErrorCode)[keyof typeof NbErrorCode];

export function nbInvalid(message: string, context: { table?: string; id?: string; field?: string; [k: string]: unknown }): DfError {
  return new DfError(NbErrorCode.INVALID, message, { context });
}

export function nbNotFound(table: string, id: string, context: Record<string, unknown> = {}): DfError {
  return new DfError(NbErrorCode.NOT_FOUND, `${table} ${id} does not exist`, { context: { table, id, ...context } });
}

/** One key whose compare failed in a commit. `actualVersion` 0 means absent. */
export interface ConflictDetail {
  table: string;
  id: string;
  expected: number | 'exists';
  actualVersion: number;
  /** Revision of the key's last change, when known (0 when absent or unknown). */
  modRevision: number;
}

export function nbConflict(message: string, context: Record<string, unknown> & { conflicts?: ConflictDetail[] }, cause?: unknown): DfError {
  return new DfError(NbErrorCode.CONFLICT, message, { context, cause });
}

/** Conflict details carried by an NB_CONFLICT error (empty when none). */
export function conflictDetails(err: DfError): ConflictDetail[] {
  const c = err.context['conflicts'];
  return Array.isArray(c) ? (c as ConflictDetail[]) : [];
}

/** Builds the conflict error for a failed commit, naming each key that did not compare. */
export function commitConflict(conflicts: ConflictDetail[]): DfError {
  const first = conflicts[0];
  const what = first
    ? `${first.table} ${first.id}: expected ${describeExpect(first.expected)}, found ${first.actualVersion === 0 ? 'no object' : `version ${first.actualVersion}`}`
    : 'a compared key changed';
  const more = conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : '';
  return nbConflict(`write conflict on ${what}${more}`, {
    table: first?.table,
    id: first?.id,
    conflicts,
  });
}

function describeExpect(e: number | 'exists'): string {
  if (e === 'exists') return 'it to exist';
  if (e === 0) return 'no object';
  return `version ${e}`;
}
