import { activeGatewayOf, type NbApi, type NbTransaction } from '@dragonflow/nb';

/** Where a router's gateway goes: gateway chassis ids in order of preference (the active one first) and the active one's name. */
export interface GatewayPlacement {
  readonly chassisIds: string[];
  /** The active gateway chassis' name (the gateway port's binding:host_id); '' when there is none. */
  readonly host: string;
}

/**
 * Chooses the gateway chassis of a router's gateway: among the chassis registered
 * as gateways whose controller is alive (a chassis_liveness record), the one
 * active for the fewest routers first, ties broken by name — so the same state gives
 * the same choice, and routers spread over the gateways. The others follow in the
 * same order as the fallback list (used when gateways fail over; docs/nat.md).
 * No live gateway chassis: an empty placement (df-api says so in its log, and its
 * GatewayPlacer places the gateway as soon as a gateway chassis is alive).
 */
export async function placeGateway(tx: Pick<NbTransaction, 'list' | 'get'>, routerId: string): Promise<GatewayPlacement> {
  const gateways = [];
  for (const c of await tx.list('chassis')) if (c.gateway && (await tx.get('chassis_liveness', c.id))) gateways.push(c);
  if (gateways.length === 0) return { chassisIds: [], host: '' };
  const load = new Map<string, number>();
  for (const r of await tx.list('logical_router')) {
    const active = r.id === routerId ? undefined : r.externalGateway?.chassisIds[0];
    if (active !== undefined) load.set(active, (load.get(active) ?? 0) + 1);
  }
  gateways.sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { chassisIds: gateways.map((c) => c.id), host: gateways[0]!.name };
}

/**
 * Places the router gateways that were set while no gateway chassis was alive, as
 * soon as one is: every `intervalMs` it looks (in df-api's in-memory view, cheap)
 * for gateways without a chassis and, when a live gateway chassis exists, places
 * each in its own transaction (as `router set --external-gateway` would) and says so
 * in the log. It also keeps each gateway port's `binding:host_id` on the router's
 * active gateway chassis (the one the controllers agree on from the NB liveness
 * records and their claims, docs/ha.md): after a failover it names the chassis that
 * took over, within `intervalMs`.
 */
export class GatewayPlacer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly nb: NbApi,
    private readonly log: { info(o: object, msg: string): void; warn(o: object, msg: string): void },
    private readonly intervalMs = 2_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look: places what it can; returns the routers it placed. */
  async tick(): Promise<string[]> {
    if (this.running) return [];
    this.running = true;
    const placed: string[] = [];
    try {
      await this.followActive();
      const waiting = await this.nb.list('logical_router', (r) => r.externalGateway !== null && r.externalGateway.chassisIds.length === 0);
      for (const r of waiting) {
        const done = await this.nb.transaction(async (tx) => {
          const cur = await tx.get('logical_router', r.id);
          const gw = cur?.externalGateway;
          if (!cur || !gw || gw.chassisIds.length > 0) return false;
          const placement = await placeGateway(tx, cur.id);
          if (placement.chassisIds.length === 0) return false;
          const port = await tx.get('logical_port', gw.portId);
          if (port) await tx.update('logical_port', { ...port, bindingHost: placement.host });
          await tx.update('logical_router', { ...cur, externalGateway: { ...gw, chassisIds: placement.chassisIds } });
          return true;
        });
        if (done) {
          placed.push(r.id);
          this.log.info({ router: r.id }, 'placed a router gateway that was waiting for a gateway chassis');
        }
      }
    } catch (err) {
      this.log.warn({ err: String(err) }, 'placing waiting router gateways (or following their active chassis) failed; trying again later');
    } finally {
      this.running = false;
    }
    return placed;
  }

  /** Gateway ports whose binding:host_id is not the router's active gateway chassis get it, each in its own transaction. */
  private async followActive(): Promise<void> {
    const placed = await this.nb.list('logical_router', (r) => r.externalGateway !== null && r.externalGateway.chassisIds.length > 0);
    if (placed.length === 0) return;
    const liveness = new Map((await this.nb.list('chassis_liveness')).map((l) => [l.id, l]));
    const names = new Map((await this.nb.list('chassis')).map((c) => [c.id, c.name]));
    for (const r of placed) {
      const active = activeGatewayOf(r, (id) => liveness.get(id));
      const host = active === undefined ? '' : (names.get(active) ?? '');
      const portId = r.externalGateway!.portId;
      if (host === '' || (await this.nb.get('logical_port', portId))?.bindingHost === host) continue;
      const moved = await this.nb.transaction(async (tx) => {
        const port = await tx.get('logical_port', portId);
        const cur = await tx.get('logical_router', r.id);
        if (!port || cur?.externalGateway?.portId !== portId || port.bindingHost === host) return false;
        await tx.update('logical_port', { ...port, bindingHost: host });
        return true;
      });
      if (moved) this.log.info({ router: r.id, host }, "a router gateway's active chassis changed: its gateway port's binding:host_id follows");
    }
  }
}
