import { DfError } from '@dragonflow/base';
import { NbErrorCode } from '../errors.js';
import type { TxnOp } from './driver.js';

/** Refuses a transaction that names one key twice (etcd refuses those too). */
export function assertDistinctKeys(ops: readonly TxnOp[]): void {
  const seen = new Set<string>();
  for (const op of ops) {
    const k = `${op.table}\u0000${op.id}`;
    if (seen.has(k)) {
      throw new DfError(NbErrorCode.INVALID, `transaction names ${op.table}/${op.id} twice`, { context: { table: op.table, id: op.id } });
    }
    seen.add(k);
  }
}

export function compactedError(requested: number, oldest: number, reason = 'history was compacted'): DfError {
  return new DfError(NbErrorCode.COMPACTED, `cannot resume the change feed at revision ${requested}: ${reason} (oldest available ${oldest}); take a snapshot and watch from its revision`, {
    context: { requested, oldest },
  });
}

export function closedError(what: string): DfError {
  return new DfError(NbErrorCode.CLOSED, `${what} is closed`);
}

export function keysExhausted(namespace: string, max: number): DfError {
  return new DfError(NbErrorCode.KEYS_EXHAUSTED, `no unique key left in ${namespace} (all of 1..${max} were handed out)`, { context: { namespace, max } });
}

export function leaseExpired(id: string): DfError {
  return new DfError(NbErrorCode.LEASE_EXPIRED, `lease ${id} has expired or was revoked`, { context: { lease: id } });
}

export function isFatalFeedError(err: unknown): boolean {
  return err instanceof DfError && (err.code === NbErrorCode.COMPACTED || err.code === NbErrorCode.CLOSED);
}
