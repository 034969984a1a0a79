import type { LogicalPort, LogicalSwitch, NbApi, NbTransaction } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import type { ApiConfig } from '../config.js';
import { NeutronError, policyNotAuthorized } from '../neutron/errors.js';
import { Attempt, IpReservations } from './attempt.js';
import { QuotaCheck, Quotas } from './quotas.js';
import { externalFor, sharedWith } from './rbac.js';

/** Attempts of one request's transaction: enough for 50 writers racing for IPs in one subnet. */
const MAX_ATTEMPTS = 40;

/** Longest a committed request keeps its address reservations while NbApi's view catches up. */
const RESERVATION_LINGER_MS = 5_000;

/** What the resource handlers share: the NB API, the configuration and in-flight address reservations. */
export class Backend {
  readonly reservations = new IpReservations();
  readonly quotas: Quotas;

  constructor(
    readonly nb: NbApi,
    readonly config: ApiConfig,
  ) {
    this.quotas = new Quotas(nb, config);
  }

  /** Quota checks for one request (limits read once). */
  quotaCheck(): QuotaCheck {
    return new QuotaCheck(this.quotas);
  }

  /**
   * Runs `fn` as one atomic NB transaction. `attempt` numbers the runs (a run after
   * a lost race sees the winner's write and spreads its choices) and carries the
   * addresses the run reserved: released when a run fails, and after a commit once
   * NbApi's view holds the committed ports (until then the view would offer them
   * as free).
   */
  async write<R>(fn: (tx: NbTransaction, attempt: Attempt) => Promise<R>): Promise<R> {
    let n = 0;
    let current: Attempt | undefined;
    try {
      const result = await this.nb.transaction((tx) => {
        current?.release();
        current = new Attempt(++n, this.reservations);
        return fn(tx, current);
      }, { maxAttempts: MAX_ATTEMPTS });
      const done = current as Attempt | undefined;
      if (done?.holds) {
        const revision = this.nb.lastCommitRevision;
        const timer = setTimeout(() => done.release(), RESERVATION_LINGER_MS);
        timer.unref();
        void this.nb.reader.waitFor(revision).then(() => {
          clearTimeout(timer);
          done.release();
        });
      }
      return result;
    } catch (e) {
      (current as Attempt | undefined)?.release();
      throw e;
    }
  }
}

// ---------------------------------------------------------------- policy (Neutron's defaults)

export function owns(ctx: RequestContext, obj: { projectId: string }): boolean {
  return ctx.isAdmin || obj.projectId === ctx.projectId;
}

/** Networks are visible to their project and to the projects they are shared with or external for (rbac-policies). */
export function canSeeNetwork(ctx: RequestContext, ls: LogicalSwitch): boolean {
  return owns(ctx, ls) || sharedWith(ls, ctx.projectId) || externalFor(ls, ctx.projectId);
}

/** Ports are visible to their project and to the network's project. */
export function canSeePort(ctx: RequestContext, p: LogicalPort, network: LogicalSwitch | undefined): boolean {
  return owns(ctx, p) || (network !== undefined && network.projectId === ctx.projectId);
}

/**
 * The project a new resource belongs to: the caller's, or the one named by
 * tenant_id/project_id (admin only, as Neutron).
 */
export function projectFor(ctx: RequestContext, body: { tenant_id?: string | undefined; project_id?: string | undefined }): string {
  const { tenant_id: t, project_id: p } = body;
  if (t !== undefined && p !== undefined && t !== p) {
    throw new NeutronError(400, 'HTTPBadRequest', "Invalid input for project_id. Reason: 'tenant_id' and 'project_id' do not match.", { field: 'project_id' });
  }
  const asked = p ?? t;
  if (asked === undefined || asked === ctx.projectId) return ctx.projectId;
  if (!ctx.isAdmin) {
    throw new NeutronError(400, 'HTTPBadRequest', "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges", {
      field: 'project_id',
    });
  }
  if (!/^[A-Za-z0-9_.:@-]{1,255}$/.test(asked)) {
    throw new NeutronError(400, 'HTTPBadRequest', `Invalid input for project_id. Reason: '${asked}' may only hold letters, digits and _ . : @ -.`, { field: 'project_id' });
  }
  return asked;
}

/** Refuses attributes only an admin may set. */
export function requireAdminFor(ctx: RequestContext, action: string, body: object, attrs: readonly string[]): void {
  if (ctx.isAdmin) return;
  for (const a of attrs) if ((body as Record<string, unknown>)[a] !== undefined) throw policyNotAuthorized(`${action}:${a}`);
}
