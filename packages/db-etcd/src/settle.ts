import type { CommitResult, TxnOp } from '@dragonflow/nb';
import type { EtcdDriver } from './driver.js';

/**
 * A commit tried more than once (an earlier try's answer was lost: its deadline
 * passed, the leader died) whose last try found its compares failing: either another
 * writer got in first (a real conflict) or an earlier try was applied after all and
 * the compares now see its own writes. The latter is so when every put's key holds
 * exactly the value (and lease) written, all at one revision, and every deleted key is
 * gone: the commit is then reported as done at that revision. Otherwise undefined
 * (the caller reports the conflict).
 */
export async function settleAmbiguousCommit(driver: EtcdDriver, ops: readonly TxnOp[]): Promise<CommitResult | undefined> {
  const writes = ops.flatMap((op, i) => (op.type === 'check' ? [] : [{ op, i }]));
  // Only checks: no try could have changed anything, so the conflict is real.
  if (writes.length === 0) return undefined;
  const res = await driver.call('commit', (o) =>
    driver.client.kv.txn({ compare: [], success: writes.map(({ op }) => ({ request_range: { key: driver.keys.record(op.table, op.id) } })), failure: [] }, o),
  );
  const versions = ops.map(() => 0);
  let revision: number | undefined;
  for (const [j, { op, i }] of writes.entries()) {
    const kv = res.responses[j]?.response_range.kvs[0];
    if (op.type === 'delete') {
      if (kv) return undefined;
      continue;
    }
    if (op.type !== 'put' || !kv || kv.value.toString('utf8') !== op.value) return undefined;
    if ((op.lease ?? '0') !== String(kv.lease ?? '0')) return undefined;
    const at = Number(kv.mod_revision);
    if (revision !== undefined && at !== revision) return undefined;
    revision = at;
    versions[i] = Number(kv.version);
  }
  // Deletes only: they are in effect; the current revision is at or after the commit's.
  return { revision: revision ?? Number(res.header.revision), versions };
}
