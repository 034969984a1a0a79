import { DfError } from '@dragonflow/base';
import { OFP_NO_BUFFER, OfGroup, OfPort, Writer, decodeMessage, encodeInto, writeInstructions, type FlowMod, type Instruction, type OfMessage } from '@dragonflow/openflow';
import { effectiveFlags, isValidatedFlow, type DesiredFlow } from './flow.js';
import { instructionsKey } from './keys.js';
import type { EncodedRequest, SwitchRequest } from './switch.js';

/**
 * The reconciler keeps every desired flow in its wire form: the ADD flow-mod (xid 0,
 * cookie included) as a latin1 string, one byte per char. That is a few hundred
 * bytes per flow with no object graph behind it (a DesiredFlow with its match
 * entries, addresses, instruction and action objects is several times that), it is
 * what gets sent (the connection copies it into the batch and sets the xid), and
 * table, priority, timeouts and flags are read straight out of it. The app's
 * DesiredFlow objects are not kept; `decodeFlow` rebuilds one where it is needed
 * (tests, `flowsOf`, an expired flow's event).
 */

// ofp_flow_mod (OpenFlow 1.3, §7.3.4.1): offsets in the message.
const COOKIE = 8;
const COOKIE_MASK = 16;
const TABLE = 24;
const COMMAND = 25;
const IDLE = 26;
const HARD = 28;
const PRIORITY = 30;
const FLAGS = 44;
const MATCH = 48;
const XID = 4;
const LENGTH = 2;

/** OFPFC_* (the index of the command in the codec's table). */
const OFPFC_MODIFY_STRICT = 2;
const OFPFC_DELETE_STRICT = 4;

const writer = new Writer(4096);
const NONE: readonly Instruction[] = [];

/**
 * A frozen instruction list's key and wire bytes, made once: `flow()` hands the same
 * frozen list to every flow that only drops or goes to one table, and a bulk has
 * tens of thousands of those. Lists that are not frozen could change after being
 * keyed, so they are keyed and encoded each time.
 */
const memo = new WeakMap<readonly Instruction[], { readonly key: string; readonly bytes: Uint8Array }>();

function memoOf(list: readonly Instruction[]): { readonly key: string; readonly bytes: Uint8Array } | undefined {
  if (!Object.isFrozen(list)) return undefined;
  let m = memo.get(list);
  if (!m) {
    const w = new Writer(64);
    writeInstructions(w, list);
    m = { key: instructionsKey(list), bytes: w.finish() };
    memo.set(list, m);
  }
  return m;
}

/** The canonical key of a flow's instructions (`instructionsKey`), made once per shared list. */
export function flowInstructionsKey(list: readonly Instruction[]): string {
  return memoOf(list)?.key ?? instructionsKey(list);
}

/**
 * The wire form of a desired flow with its cookie: an ADD flow-mod, validated by the
 * codec — its match only if `flow()` did not validate it already, its instructions
 * copied from their memo when the list is a shared one (the same bytes the codec
 * writes: wire.test.ts compares).
 */
export function encodeFlow(f: DesiredFlow, cookie: bigint): string {
  const shared = memoOf(f.instructions);
  const msg: FlowMod = {
    type: 'flow_mod',
    xid: 0,
    command: 'add',
    cookie,
    cookieMask: 0n,
    tableId: f.table,
    idleTimeout: f.idleTimeout ?? 0,
    hardTimeout: f.hardTimeout ?? 0,
    priority: f.priority,
    bufferId: OFP_NO_BUFFER,
    outPort: OfPort.ANY,
    outGroup: OfGroup.ANY,
    flags: effectiveFlags(f),
    match: f.match,
    instructions: shared ? NONE : f.instructions,
  };
  writer.pos = 0;
  try {
    encodeInto(writer, msg, !isValidatedFlow(f));
    if (shared && shared.bytes.length > 0) {
      writer.bytes(shared.bytes);
      writer.patchU16(LENGTH, writer.pos);
    }
    // latin1 straight from the scratch buffer: toString copies it into the string anyway.
    const bytes = writer.written();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  } finally {
    writer.pos = 0;
  }
}

const u16 = (w: string, at: number): number => (w.charCodeAt(at) << 8) | w.charCodeAt(at + 1);

export const wireTable = (w: string): number => w.charCodeAt(TABLE);
export const wirePriority = (w: string): number => u16(w, PRIORITY);
export const wireIdle = (w: string): number => u16(w, IDLE);
export const wireHard = (w: string): number => u16(w, HARD);
export const wireFlags = (w: string): number => u16(w, FLAGS);

/** The request that installs (ADD) or re-instructs (MODIFY_STRICT) the flow: the stored string itself, no copy. */
export function flowRequest(w: string, command: 'add' | 'modify_strict'): EncodedRequest {
  return command === 'modify_strict' ? { type: 'encoded', wire: w, flowModCommand: OFPFC_MODIFY_STRICT } : { type: 'encoded', wire: w };
}

/** DELETE_STRICT of the flow: the same table, priority and match; no cookie, timeouts, flags or instructions. */
export function deleteRequest(w: string): EncodedRequest {
  const matchLength = u16(w, MATCH + 2);
  const end = MATCH + Math.ceil(matchLength / 8) * 8;
  const bytes = Buffer.from(w.slice(0, end), 'latin1');
  bytes.writeUInt16BE(end, LENGTH);
  bytes.fill(0, COOKIE, COOKIE_MASK + 8);
  bytes[COMMAND] = OFPFC_DELETE_STRICT;
  bytes.writeUInt16BE(0, IDLE);
  bytes.writeUInt16BE(0, HARD);
  bytes.writeUInt16BE(0, FLAGS);
  return { type: 'encoded', wire: bytes.toString('latin1') };
}

let scratch = Buffer.allocUnsafe(16_384);

/**
 * The bytes of an encoded request with `xid`, in a scratch buffer valid until the
 * next call (the connection copies them into its batch at once).
 */
export function encodedBytes(r: EncodedRequest, xid: number): Uint8Array {
  if (r.wire.length > scratch.length) scratch = Buffer.allocUnsafe(Math.max(r.wire.length, scratch.length * 2));
  const n = scratch.write(r.wire, 0, 'latin1');
  scratch.writeUInt32BE(xid >>> 0, XID);
  if (r.flowModCommand !== undefined) scratch[COMMAND] = r.flowModCommand;
  return scratch.subarray(0, n);
}

/** The message an encoded request stands for, with `xid` (for the FakeSwitch, errors and logs). */
export function decodeEncoded(r: EncodedRequest, xid = 0): OfMessage {
  return decodeMessage(Uint8Array.from(encodedBytes(r, xid)));
}

/** A request as a plain message object (decoding an encoded one): for logs, errors and tests that inspect what was sent. */
export function requestMessage(r: SwitchRequest): Exclude<SwitchRequest, EncodedRequest> {
  if (r.type !== 'encoded') return r;
  const { xid: _xid, ...msg } = decodeEncoded(r) as FlowMod;
  return msg;
}

/** "table=T priority=P" of an encoded flow-mod (for logs). */
export function describeEncoded(r: EncodedRequest): string {
  return `table=${wireTable(r.wire)} priority=${wirePriority(r.wire)}`;
}

/** The DesiredFlow a wire form stands for (its match and instructions as the codec decodes them). */
export function decodeFlow(w: string): DesiredFlow {
  const m = decodeMessage(Buffer.from(w, 'latin1'));
  if (m.type !== 'flow_mod') throw new DfError('RECONCILER_BUG', `a stored flow decodes as ${m.type}`);
  return {
    table: m.tableId,
    priority: m.priority,
    match: m.match,
    instructions: m.instructions,
    ...(m.idleTimeout ? { idleTimeout: m.idleTimeout } : {}),
    ...(m.hardTimeout ? { hardTimeout: m.hardTimeout } : {}),
    ...(m.flags ? { flags: m.flags } : {}),
  };
}
