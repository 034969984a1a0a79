import { createHash, timingSafeEqual } from 'node:crypto';
import { DfError } from '@dragonflow/base';
import { NbErrorCode } from '../../errors.js';
import { chassisIdFromName } from '../../model/ids.js';
import { CLAIM_TABLE, GUARD_TABLE } from '../../model/tables.js';
import type { TxnOp } from '../driver.js';
import type { MemoryOp } from './protocol.js';
import type { MemoryStore } from './store.js';

/**
 * Who may do what on the served memory DB. A connection presents a token in its
 * hello; the token's grant decides its rights for the life of the connection:
 * - `admin` (df-api, the operator's `dfctl db`): everything;
 * - `controller`: reads, the change feed, its own leases, and only the writes a
 *   chassis' controller makes — its chassis row, its liveness record, and the
 *   binding fields of logical ports (chassisId, bindingHost, status). Nothing
 *   else of a port (project, MAC, addresses, port security, ...) and no create or
 *   delete of any object.
 */
export type NbRole = 'admin' | 'controller';

export interface NbGrant {
  readonly token: string;
  readonly role: NbRole;
  /** controller: the chassis (by name) it writes for; without it, any chassis. */
  readonly chassis?: string;
}

const READ_OPS: ReadonlySet<MemoryOp> = new Set(['hello', 'get', 'getMany', 'list', 'snapshot', 'currentRevision', 'changes', 'cancel']);
const LEASE_OPS: ReadonlySet<MemoryOp> = new Set(['grantLease', 'keepAlive', 'revokeLease']);
/** Fields of a logical port that its chassis' controller writes (the binding and the status). */
const PORT_BINDING_FIELDS = new Set(['chassisId', 'bindingHost', 'status', 'updatedAt']);

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Finds the grant of a presented token, comparing in constant time (no timing oracle on the token). */
export function matchGrant(grants: readonly NbGrant[], presented: unknown): NbGrant | undefined {
  if (typeof presented !== 'string' || presented.length === 0) return undefined;
  const p = digest(presented);
  let found: NbGrant | undefined;
  for (const g of grants) if (timingSafeEqual(digest(g.token), p) && !found) found = g;
  return found;
}

export function checkGrants(grants: readonly NbGrant[]): void {
  if (grants.length === 0) throw new DfError(NbErrorCode.CONFIG, 'the served memory DB needs at least one token (grants); without one nobody could use it', { context: { field: 'grants' } });
  for (const [i, g] of grants.entries()) {
    if (typeof g.token !== 'string' || g.token.length < 16) throw new DfError(NbErrorCode.CONFIG, `grants[${i}]: a token must have at least 16 characters`, { context: { field: `grants[${i}].token` } });
    if (g.role !== 'admin' && g.role !== 'controller') throw new DfError(NbErrorCode.CONFIG, `grants[${i}]: role must be admin or controller`, { context: { field: `grants[${i}].role` } });
  }
}

function forbidden(grant: NbGrant, what: string, context: Record<string, unknown> = {}): DfError {
  const who = grant.role === 'controller' && grant.chassis ? `the controller of ${grant.chassis}` : `a ${grant.role} connection`;
  return new DfError(NbErrorCode.FORBIDDEN, `${who} may not ${what}`, { context: { role: grant.role, ...context } });
}

/** The per-connection state the policy needs: leases granted to this connection's grant. */
export interface GrantState {
  readonly leases: Set<string>;
}

/** Throws NB_FORBIDDEN when `grant` may not run `op` with `args`. */
export function authorize(grant: NbGrant, state: GrantState, op: MemoryOp, args: readonly unknown[], store: MemoryStore): void {
  if (grant.role === 'admin' || READ_OPS.has(op)) return;
  if (LEASE_OPS.has(op)) {
    if (op !== 'grantLease' && !state.leases.has(String(args[0]))) throw forbidden(grant, `renew or revoke lease ${String(args[0])}, which it did not take`, { op });
    return;
  }
  if (op !== 'commit') throw forbidden(grant, `run '${String(op)}'`, { op });
  const ops = args[0];
  if (!Array.isArray(ops)) return; // the store rejects a malformed commit itself
  for (const o of ops as TxnOp[]) authorizeOp(grant, state, o, store);
}

function authorizeOp(grant: NbGrant, state: GrantState, op: TxnOp, store: MemoryStore): void {
  if (op === null || typeof op !== 'object') return;
  if (op.type === 'check') return;
  const own = grant.chassis === undefined ? undefined : chassisIdFromName(grant.chassis);
  const where = { table: op.table, id: op.id };
  const mine = (id: unknown): boolean => own === undefined || id === own;
  if (op.type === 'put' && op.lease !== undefined && !state.leases.has(op.lease)) throw forbidden(grant, `bind a record to lease ${op.lease}, which it did not take`, where);
  switch (op.table) {
    case 'chassis':
    case 'chassis_liveness':
      if (op.type !== 'put') throw forbidden(grant, `delete ${op.table} ${op.id}`, where);
      if (!mine(op.id)) throw forbidden(grant, `write ${op.table} ${op.id} of another chassis`, where);
      if (grant.chassis !== undefined && parseValue(op.value)?.['name'] !== grant.chassis) throw forbidden(grant, `write ${op.table} ${op.id} under another name than ${grant.chassis}`, where);
      return;
    case 'logical_port': {
      if (op.type !== 'put') throw forbidden(grant, `delete logical_port ${op.id}`, where);
      const cur = store.get('logical_port', op.id);
      if (!cur) throw forbidden(grant, `create logical_port ${op.id}`, where);
      const before = parseValue(cur.value);
      const after = parseValue(op.value);
      if (!before || !after) throw forbidden(grant, `write logical_port ${op.id} with a value that is not an object`, where);
      for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
        if (PORT_BINDING_FIELDS.has(key)) continue;
        if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) throw forbidden(grant, `change ${key} of logical_port ${op.id} (only its binding and status)`, { ...where, field: key });
      }
      if (after['chassisId'] !== null && after['chassisId'] !== undefined && !mine(after['chassisId'])) throw forbidden(grant, `bind logical_port ${op.id} to another chassis`, { ...where, field: 'chassisId' });
      return;
    }
    case CLAIM_TABLE:
      // Registering a chassis claims its name for it (and nothing else may be claimed).
      if (op.type === 'put' && op.id.startsWith('chassis-name/') && typeof op.value === 'string' && op.value.startsWith('chassis/') && mine(op.value.slice('chassis/'.length))) {
        if (grant.chassis === undefined || op.id === `chassis-name/${grant.chassis}`) return;
      }
      throw forbidden(grant, `write ${op.table} ${op.id}`, where);
    case GUARD_TABLE:
      // A binding makes the port refer to its chassis: the reference guard of that chassis.
      if (op.type === 'put' && op.id.startsWith('chassis/') && mine(op.id.slice('chassis/'.length))) return;
      throw forbidden(grant, `write ${op.table} ${op.id}`, where);
    default:
      throw forbidden(grant, `write ${op.table} ${op.id}`, where);
  }
}

function parseValue(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const v = JSON.parse(value) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
