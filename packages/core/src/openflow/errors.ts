import { DfError } from '@dragonflow/base';
import { describeOfError, formatMessage, type ErrorMsg, type OfMessage } from '@dragonflow/openflow';

/** Codes of OfConnectionError. */
export type OfConnectionErrorCode =
  | 'OF_HELLO_FAILED'
  | 'OF_HANDSHAKE'
  | 'OF_TIMEOUT'
  | 'OF_PEER_DEAD'
  | 'OF_CLOSED'
  | 'OF_REPLACED'
  | 'OF_DUPLICATE'
  | 'OF_REFUSED'
  | 'OF_PROTOCOL'
  | 'OF_BACKPRESSURE'
  | 'OF_CONNECT';

/** A failure of the OpenFlow connection itself (handshake, timeout, dead peer, closed, malformed input). */
export class OfConnectionError extends DfError {
  constructor(code: OfConnectionErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
  }
}

/**
 * The switch refused a request: carries both the request we sent and the switch's
 * ERROR message, so the log and the caller see what failed and why.
 */
export class OfSwitchError extends DfError {
  constructor(
    readonly request: OfMessage | undefined,
    readonly error: ErrorMsg,
    datapathId?: bigint,
  ) {
    const what = describeOfError(error);
    super('OF_SWITCH_ERROR', `switch${datapathId === undefined ? '' : ' ' + datapathId.toString(16).padStart(16, '0')} refused ${request ? request.type : `xid ${error.xid}`}: ${what}`, {
      context: { xid: error.xid, error: what, request: request ? formatMessage(request) : undefined, datapathId: datapathId?.toString(16) },
    });
  }
}
