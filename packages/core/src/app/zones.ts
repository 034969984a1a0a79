import { DfError } from '@dragonflow/base';
import type { ZoneScope, ZoneTable } from '../pipeline/zones.js';

/**
 * An app's conntrack zones (`ctx.zones`): the fixed ones it declared by name, and the
 * zone of a port, network or router — the same zone for every app that asks about the
 * same object, so two apps' ct actions on one network see one conntrack table.
 */
export class AppZones {
  constructor(
    private readonly app: string,
    private readonly declared: Readonly<Record<string, number>>,
    private readonly table: ZoneTable,
  ) {}

  /** A fixed zone the app declared in its descriptor (`zones: ['name']`). */
  shared(name: string): number {
    const z = this.declared[name];
    if (z === undefined) {
      throw new DfError('ZONE_INVALID', `app '${this.app}' did not declare zone '${name}' (declared: ${Object.keys(this.declared).join(', ') || 'none'})`, { context: { app: this.app, zone: name } });
    }
    return z;
  }

  /** The zone of a port, network or router, by its unique key (`port.key`, `network.key`, `router.key`). */
  of(scope: ZoneScope, key: number): number {
    return this.table.zone(scope, key, this.app);
  }

  /** The app no longer uses the object's zone (its flows for the object are gone). */
  release(scope: ZoneScope, key: number): void {
    this.table.release(scope, key, this.app);
  }
}
