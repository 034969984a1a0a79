import type { LogicalPort, LogicalSwitch, NbApi, NbTransaction } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import type { ApiConfig } from '../config.js';
import { NeutronError, policyNotAuthorized } from '../neutron/errors.js';

/** Attempts of one request's transaction: enough for 50 writers racing for IPs in one subnet. */
const MAX_ATTEMPTS = 40;

/** What the resource handlers share: the NB API and the configuration. */
export class Backend {
  constructor(
    readonly nb: NbApi,
    readonly config: ApiConfig,
  ) {}

  /**
   * Runs `fn` as one atomic NB transaction. `attempt` counts the runs: a run after a
   * lost race (a concurrent writer took the same IP, MAC or segment) sees the
   * winner's write and spreads its choices.
   */
  write<R>(fn: (tx: NbTransaction, attempt: number) => Promise<R>): Promise<R> {
    let attempt = 0;
    return this.nb.transaction((tx) => fn(tx, ++attempt), { maxAttempts: MAX_ATTEMPTS });
  }
}

// ---------------------------------------------------------------- policy (Neutron's defaults)

export function owns(ctx: RequestContext, obj: { projectId: string }): boolean {
  return ctx.isAdmin || obj.projectId === ctx.projectId;
}

/** Networks are visible to their project, and to everyone when shared or external. */
export function canSeeNetwork(ctx: RequestContext, ls: LogicalSwitch): boolean {
  return owns(ctx, ls) || ls.shared || ls.external;
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
