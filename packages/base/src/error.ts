/**
 * The one error root of the project. Every error we raise on purpose is a DfError
 * (or a subclass) carrying a stable machine-readable `code`, an optional `cause`,
 * and `context` naming where the problem is: a byte offset, a table, a field, an
 * object id, a config file and key.
 */
export type DfErrorContext = Readonly<Record<string, unknown>>;

export interface DfErrorOptions {
  cause?: unknown;
  context?: Record<string, unknown>;
}

export class DfError extends Error {
  readonly code: string;
  readonly context: DfErrorContext;

  constructor(code: string, message: string, options: DfErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = { ...(options.context ?? {}) };
  }
}

/** True when `err` is a DfError, and (if given) carries `code`. */
export function isDfError(err: unknown, code?: string): err is DfError {
  return err instanceof DfError && (code === undefined || err.code === code);
}

/** A short human description of any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof DfError) {
    const ctx = Object.entries(err.context)
      .map(([k, v]) => `${k}=${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)}`)
      .join(' ');
    return ctx ? `${err.message} (${ctx})` : err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
