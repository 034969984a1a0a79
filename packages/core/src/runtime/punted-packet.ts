import { decodeEthernet, type EthernetFrame } from '@dragonflow/packet';
import type { Match } from '@dragonflow/openflow';
import type { AppPacketIn } from './events.js';

/**
 * A packet-in as an app gets it. A class (one shape for every punt, no object
 * spread per packet-in: those showed as the largest allocation of the punt path),
 * whose frame is decoded when first read: an app that reads one layer off `data`
 * (DHCP: `ipv4UdpPayload`) is spared the decode of every layer and its copies.
 */
export class PuntedPacket implements AppPacketIn {
  #frame: EthernetFrame | undefined | null = null;

  constructor(
    readonly tableId: number,
    readonly tableName: string,
    readonly cookie: bigint,
    readonly owner: string | undefined,
    readonly reason: number,
    readonly match: Match,
    readonly inPort: number,
    readonly sourcePortKey: number,
    readonly networkKey: number,
    readonly data: Uint8Array,
    readonly userdata: Uint8Array | undefined,
  ) {}

  /** The decoded frame, or undefined when the codec does not understand the bytes (decoded once). */
  get frame(): EthernetFrame | undefined {
    if (this.#frame === null) {
      try {
        this.#frame = decodeEthernet(this.data);
      } catch {
        this.#frame = undefined;
      }
    }
    return this.#frame;
  }
}
