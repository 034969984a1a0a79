import { DfError } from '@dragonflow/base';
import { type NbApi, NbErrorCode, type NbTransaction, type StoredRecord } from '@dragonflow/nb';
import { z } from 'zod';
import type { ApiConfig } from '../config.js';
import { NeutronError } from '../neutron/errors.js';

/** Neutron's quota resources, in the order Neutron answers them. */
export const QUOTA_RESOURCES = ['network', 'subnet', 'port', 'router', 'floatingip', 'security_group', 'security_group_rule', 'rbac_policy', 'subnetpool'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
export type QuotaSet = Record<QuotaResource, number>;

/**
 * Per-project quota overrides live in the NB DB beside the topology, in a table of
 * their own (every df-api on the DB sees the same ones). Only df-api reads it:
 * controllers' views take the model's tables and skip any other.
 */
export const QUOTA_TABLE = '_quota';

const storedQuota = z.partialRecord(z.enum(QUOTA_RESOURCES), z.number().int().min(-1));

type Counted = Exclude<QuotaResource, 'rbac_policy' | 'subnetpool'>;
const TABLE_OF: Record<Exclude<Counted, 'security_group_rule'>, 'logical_switch' | 'subnet' | 'logical_port' | 'logical_router' | 'floating_ip' | 'security_group'> = {
  network: 'logical_switch',
  subnet: 'subnet',
  port: 'logical_port',
  router: 'logical_router',
  floatingip: 'floating_ip',
  security_group: 'security_group',
};

type Reader = Pick<NbTransaction, 'lookup' | 'list'>;

/** How many `resource`s the project has, as `tx` sees it (its own writes included). */
export async function usage(tx: Reader, projectId: string, resource: QuotaResource): Promise<number> {
  if (resource === 'subnetpool') return 0; // not implemented: none can exist
  if (resource === 'rbac_policy') {
    // A grant counts for the project that made it, whichever network it is on.
    return (await tx.list('logical_switch')).reduce((n, ls) => n + (ls.rbacPolicies ?? []).filter((p) => p.projectId === projectId).length, 0);
  }
  if (resource === 'security_group_rule') {
    return (await tx.lookup('security_group', 'project', projectId)).reduce((n, g) => n + g.rules.length, 0);
  }
  return (await tx.lookup(TABLE_OF[resource], 'project', projectId)).length;
}

/** Quota limits: the config's defaults, overridden per project by an admin (PUT /v2.0/quotas/{project}). */
export class Quotas {
  constructor(
    private readonly nb: NbApi,
    private readonly config: ApiConfig,
  ) {}

  get defaults(): QuotaSet {
    return { ...this.config.quotas };
  }

  private parse(record: StoredRecord): Partial<QuotaSet> {
    let raw: unknown;
    try {
      raw = JSON.parse(record.value);
    } catch (cause) {
      throw new DfError('API_QUOTA_CORRUPT', `${QUOTA_TABLE} ${record.id}: the stored quota is not JSON`, { cause, context: { table: QUOTA_TABLE, id: record.id } });
    }
    const parsed = storedQuota.safeParse(raw);
    if (!parsed.success) throw new DfError('API_QUOTA_CORRUPT', `${QUOTA_TABLE} ${record.id}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { context: { table: QUOTA_TABLE, id: record.id } });
    return parsed.data;
  }

  /** The project's overrides only (empty: it has the defaults). */
  async overrides(projectId: string): Promise<{ values: Partial<QuotaSet>; version: number | undefined }> {
    const record = await this.nb.driver.get(QUOTA_TABLE, projectId);
    return record ? { values: this.parse(record), version: record.version } : { values: {}, version: undefined };
  }

  async limits(projectId: string): Promise<QuotaSet> {
    return { ...this.defaults, ...(await this.overrides(projectId)).values };
  }

  /** Projects with overrides, and their limits. */
  async all(): Promise<{ projectId: string; limits: QuotaSet }[]> {
    const snap = await this.nb.driver.list(QUOTA_TABLE);
    return snap.records.map((r) => ({ projectId: r.id, limits: { ...this.defaults, ...this.parse(r) } })).sort((a, b) => a.projectId.localeCompare(b.projectId));
  }

  /**
   * Sets some limits of a project (the others keep theirs). Compare-and-swap on the
   * stored record, so two admins setting different resources at once both land.
   */
  async set(projectId: string, changes: Partial<QuotaSet>): Promise<QuotaSet> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.overrides(projectId);
      const next = { ...current.values, ...changes };
      try {
        await this.nb.driver.commit([{ type: 'put', table: QUOTA_TABLE, id: projectId, value: JSON.stringify(next), expectVersion: current.version ?? 0 }]);
        return { ...this.defaults, ...next };
      } catch (e) {
        if (attempt >= 5 || !(e instanceof DfError) || e.code !== NbErrorCode.CONFLICT) throw e;
      }
    }
  }

  /** Back to the defaults. */
  async reset(projectId: string): Promise<void> {
    if (await this.nb.driver.get(QUOTA_TABLE, projectId)) await this.nb.driver.commit([{ type: 'delete', table: QUOTA_TABLE, id: projectId }]);
  }
}

/**
 * Checks quotas inside a request's transaction, after its creates: a project over
 * its limit for a resource fails the whole request (Neutron's OverQuota, 409), so a
 * bulk create is refused as a whole. Limits are read once per request.
 */
export class QuotaCheck {
  private readonly cache = new Map<string, Promise<QuotaSet>>();

  constructor(private readonly quotas: Quotas) {}

  async enforce(tx: Reader, projectId: string, resource: QuotaResource): Promise<void> {
    let limits = this.cache.get(projectId);
    if (!limits) this.cache.set(projectId, (limits = this.quotas.limits(projectId)));
    const limit = (await limits)[resource];
    if (limit < 0) return;
    const used = await usage(tx, projectId, resource);
    if (used > limit) throw new NeutronError(409, 'OverQuota', `Quota exceeded for resources: ['${resource}'].`, { field: resource, limit, used, project: projectId });
  }
}
