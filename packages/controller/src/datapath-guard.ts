import { type Clock, describeError, systemClock } from '@dragonflow/base';
import { type OvsdbClient, VswitchDb } from '@dragonflow/ovsdb';

/**
 * Decides whether a switch that connected over OpenFlow is the integration bridge:
 * its datapath id must be the one the bridge has in OVSDB (vswitchd writes it to
 * the Bridge row's datapath_id). Anyone who can reach the OpenFlow socket could
 * otherwise pose as the switch, receive its packet-ins and be sent its flows.
 */
export class BridgeDatapathGuard {
  constructor(
    private readonly bridge: string,
    private readonly ovsdb: () => OvsdbClient | undefined,
    private readonly options: { clock?: Clock; timeoutMs?: number; pollMs?: number } = {},
  ) {}

  /** Resolves undefined to accept `datapathId`, or the reason to refuse it. */
  async accept(datapathId: bigint): Promise<string | undefined> {
    const clock = this.options.clock ?? systemClock;
    const deadline = clock.now() + (this.options.timeoutMs ?? 10_000);
    let last = 'OVSDB not connected';
    for (;;) {
      const client = this.ovsdb();
      if (client?.state === 'connected') {
        try {
          const info = await new VswitchDb(client).getBridge(this.bridge);
          if (!info) last = `bridge ${this.bridge} does not exist in OVSDB`;
          else if (info.datapathId === undefined) last = `vswitchd has not given ${this.bridge} a datapath id yet`;
          else if (info.datapathId === datapathId) return undefined;
          else return `datapath ${hex(datapathId)} is not ${this.bridge} (whose datapath id is ${hex(info.datapathId)} in OVSDB)`;
        } catch (err) {
          last = `cannot read ${this.bridge} from OVSDB: ${describeError(err)}`;
        }
      }
      if (clock.now() >= deadline) return `cannot confirm datapath ${hex(datapathId)} is ${this.bridge}: ${last}`;
      await new Promise<void>((r) => clock.setTimer(this.options.pollMs ?? 100, r));
    }
  }
}

function hex(dpid: bigint): string {
  return dpid.toString(16).padStart(16, '0');
}
