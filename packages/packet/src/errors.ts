import { DfError } from '@dragonflow/base';

/** Bytes that are not a well-formed frame; `offset` is where the problem was found. */
export class PacketDecodeError extends DfError {
  readonly offset: number;

  constructor(message: string, offset: number, context: Record<string, unknown> = {}) {
    super('PACKET_DECODE', `${message} (at byte ${offset})`, { context: { ...context, offset } });
    this.offset = offset;
  }
}

/** A packet value that cannot be put on the wire (out of range, too long). */
export class PacketEncodeError extends DfError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('PACKET_ENCODE', message, { context });
  }
}
