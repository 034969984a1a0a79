import { DfError, type DfErrorOptions } from '@dragonflow/base';

/** Stable codes of the errors this package raises (all are DfErrors). */
export const OvsdbErrorCode = {
  /** Bytes, JSON or JSON-RPC shape we cannot make sense of; the connection is dropped. */
  PROTOCOL: 'OVSDB_PROTOCOL',
  /** A value that is not valid OVSDB value notation, or does not fit its column. */
  VALUE: 'OVSDB_VALUE',
  /** A schema we cannot parse, or a table/column it does not have. */
  SCHEMA: 'OVSDB_SCHEMA',
  /** The server answered a request with a JSON-RPC error. */
  RPC: 'OVSDB_RPC_ERROR',
  /** An operation of a transaction failed; the whole transaction was rolled back. */
  TXN: 'OVSDB_TXN_FAILED',
  /** The connection went away while a request was outstanding, or there is none. */
  DISCONNECTED: 'OVSDB_DISCONNECTED',
  /** No connection could be made in time. */
  CONNECT: 'OVSDB_CONNECT',
  /** A request got no answer in time. */
  TIMEOUT: 'OVSDB_TIMEOUT',
  /** The client was closed. */
  CLOSED: 'OVSDB_CLOSED',
  /** The server canceled a request because we asked it to. */
  CANCELED: 'OVSDB_CANCELED',
  /** A remote string that is not `unix:PATH` or `tcp:HOST:PORT`. */
  BAD_REMOTE: 'OVSDB_BAD_REMOTE',
  /** A read-check-write helper kept losing races with other writers. */
  CONFLICT: 'OVSDB_CONFLICT',
  /** A helper was asked for something the database cannot hold (bad name, bad option). */
  INVALID_ARGUMENT: 'OVSDB_INVALID_ARGUMENT',
} as const;

export type OvsdbErrorCodeValue = (typeof OvsdbErrorCode)[keyof typeof OvsdbErrorCode];

export function ovsdbError(code: OvsdbErrorCodeValue, message: string, options: DfErrorOptions = {}): DfError {
  return new DfError(code, message, options);
}

/**
 * A failed transaction. `ovsdbError` is the server's error string for the failing
 * operation ("constraint violation", "timed out", "referential integrity violation", ...).
 */
export class OvsdbTransactionError extends DfError {
  readonly ovsdbError: string;
  readonly details: string | undefined;
  readonly operationIndex: number;

  constructor(message: string, ovsdbError: string, details: string | undefined, operationIndex: number, context: Record<string, unknown>) {
    super(OvsdbErrorCode.TXN, message, { context: { ...context, ovsdbError, details, operationIndex } });
    this.ovsdbError = ovsdbError;
    this.details = details;
    this.operationIndex = operationIndex;
  }
}
