import { DfError } from '@dragonflow/base';
import { z } from 'zod';
import { NbErrorCode } from '../../errors.js';
import type { TxnOp } from '../driver.js';
import { type Hello, type Request, type Response, toWireError } from './protocol.js';
import type { MemoryStore } from './store.js';

const name = z.string().min(1).max(256);
const version = z.number().int().min(0);
const txnOp = z.discriminatedUnion('type', [
  z.object({ type: z.literal('put'), table: name, id: name, value: z.string(), expectVersion: version.optional(), lease: name.optional() }).strict(),
  z.object({ type: z.literal('delete'), table: name, id: name, expectVersion: version.optional() }).strict(),
  z.object({ type: z.literal('check'), table: name, id: name, expectVersion: z.union([version, z.literal('exists')]) }).strict(),
]);
const txnOps = z.array(txnOp).max(100_000);
/** Longest lease a client may ask for: a day (a longer one would outlive any controller worth waiting for). */
const MAX_LEASE_MS = 86_400_000;
/** Change-feed waits one connection may have open at once. */
const MAX_WAITS = 64;

/** A commit's operations as sent by a client: checked before the store sees them, so a malformed one writes nothing. */
export function parseTxnOps(raw: unknown): TxnOp[] {
  const r = txnOps.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new DfError(NbErrorCode.INVALID, `commit: ops${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`, { context: { op: 'commit', path: issue.path.map(String) } });
  }
  return r.data as TxnOp[];
}

/**
 * Runs one authorized request against the store and sends its response.
 * `onLease` hears of leases granted and revoked, so the caller knows whose they are.
 */
export function handleRequest(
  store: MemoryStore,
  req: Request,
  send: (r: Response) => void,
  waits: Map<number, AbortController>,
  maxWaitMs: number,
  onLease: (id: string, granted: boolean) => void,
): void {
  const ok = (result: unknown): void => send({ id: req.id, ok: true, result });
  try {
    const a = req.args ?? [];
    switch (req.op) {
      case 'hello':
        return ok({ epoch: store.epoch, revision: store.revision, oldestRevision: store.oldestRevision } satisfies Hello);
      case 'get':
        return ok(store.get(String(a[0]), String(a[1])) ?? null);
      case 'getMany':
        if (!Array.isArray(a[1])) throw new DfError(NbErrorCode.INVALID, 'getMany: ids must be an array', { context: { op: req.op } });
        return ok((a[1] as unknown[]).map((id) => store.get(String(a[0]), String(id)) ?? null));
      case 'list':
        return ok(store.list(String(a[0])));
      case 'snapshot':
        return ok(store.snapshot(Array.isArray(a[0]) ? (a[0] as unknown[]).map(String) : undefined));
      case 'currentRevision':
        return ok(store.revision);
      case 'commit':
        return ok(store.commit(parseTxnOps(a[0])));
      case 'allocateKey':
        return ok(store.allocateKey(String(a[0]), (a[1] as number | null) ?? undefined));
      case 'grantLease': {
        const ttl = Number(a[0]);
        if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_LEASE_MS) throw new DfError(NbErrorCode.INVALID, `lease ttl must be an integer from 1 to ${MAX_LEASE_MS} ms, got ${String(a[0])}`, { context: { field: 'ttlMs' } });
        const lease = store.grantLease(ttl);
        onLease(lease.id, true);
        return ok(lease);
      }
      case 'keepAlive':
        store.keepAlive(String(a[0]));
        return ok(null);
      case 'revokeLease':
        store.revokeLease(String(a[0]));
        onLease(String(a[0]), false);
        return ok(null);
      case 'cancel':
        waits.get(Number(a[0]))?.abort();
        return ok(null);
      case 'changes': {
        const from = Number(a[0]);
        const max = Math.max(1, Number(a[1]) || 1);
        const now = store.readChanges(from, max);
        if (now.length > 0) return ok(now);
        if (waits.size >= MAX_WAITS) throw new DfError(NbErrorCode.INVALID, `at most ${MAX_WAITS} change-feed waits per connection`, { context: { op: req.op } });
        const ctl = new AbortController();
        waits.set(req.id, ctl);
        const wait = Math.min(Number(a[2]) || 0, maxWaitMs);
        const timer = setTimeout(() => ctl.abort(), wait);
        void store.waitForChange(from, ctl.signal).then(() => {
          clearTimeout(timer);
          waits.delete(req.id);
          try {
            ok(store.closed ? [] : store.readChanges(from, max));
          } catch (err) {
            send({ id: req.id, ok: false, error: toWireError(err) });
          }
        });
        return;
      }
      default:
        throw new DfError(NbErrorCode.INVALID, `unknown operation '${String(req.op)}'`, { context: { op: req.op } });
    }
  } catch (err) {
    send({ id: req.id, ok: false, error: toWireError(err) });
  }
}
