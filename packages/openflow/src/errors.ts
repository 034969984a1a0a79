import { DfError } from '@dragonflow/base';

/**
 * Every failure to decode bytes from the wire. `offset` is the byte offset inside
 * the message (or the framer's stream) where the problem was found.
 */
export class OfDecodeError extends DfError {
  readonly offset: number;

  constructor(message: string, offset: number, context: Record<string, unknown> = {}) {
    super('OF_DECODE', `${message} (at byte ${offset})`, { context: { ...context, offset } });
    this.offset = offset;
  }
}

/** A value that cannot be put on the wire (out of range, wrong shape). */
export class OfEncodeError extends DfError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('OF_ENCODE', message, { context });
  }
}

/**
 * A match that OpenFlow would reject: a missing prerequisite (ipv4_dst without
 * eth_type=0x0800), a mask on a field that cannot be masked, a value out of range.
 * `field` names the offending field.
 */
export class OfMatchError extends DfError {
  readonly field: string;

  constructor(field: string, message: string, context: Record<string, unknown> = {}) {
    super('OF_BAD_MATCH', message, { context: { ...context, field } });
    this.field = field;
  }
}
