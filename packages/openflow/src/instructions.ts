import { readActionList, writeActions, type Action } from './actions.js';
import type { Reader, Writer } from './wire.js';

/** OpenFlow 1.3 instructions. Plain objects; build them with `inst.*`. */
export type Instruction =
  | { readonly type: 'goto_table'; readonly tableId: number }
  | { readonly type: 'write_metadata'; readonly metadata: bigint; readonly mask: bigint }
  | { readonly type: 'write_actions'; readonly actions: readonly Action[] }
  | { readonly type: 'apply_actions'; readonly actions: readonly Action[] }
  | { readonly type: 'clear_actions' }
  | { readonly type: 'meter'; readonly meterId: number }
  /** An experimenter instruction we do not model; `data` follows the experimenter id. */
  | { readonly type: 'experimenter'; readonly experimenter: number; readonly data: Uint8Array };

export type InstructionType = Instruction['type'];

/**
 * The order a switch executes a flow's instructions in, whatever order they were
 * written (OpenFlow 1.3 §5.9; Open vSwitch also reports them in this order).
 */
export const INSTRUCTION_ORDER: Readonly<Record<InstructionType, number>> = {
  meter: 0,
  apply_actions: 1,
  clear_actions: 2,
  write_actions: 3,
  write_metadata: 4,
  goto_table: 5,
  experimenter: 6,
};

const OFPIT = { GOTO_TABLE: 1, WRITE_METADATA: 2, WRITE_ACTIONS: 3, APPLY_ACTIONS: 4, CLEAR_ACTIONS: 5, METER: 6, EXPERIMENTER: 0xffff } as const;

export function writeInstruction(w: Writer, i: Instruction): void {
  const start = w.pos;
  switch (i.type) {
    case 'goto_table':
      w.u16(OFPIT.GOTO_TABLE).u16(8).u8(i.tableId).zeros(3);
      return;
    case 'write_metadata':
      w.u16(OFPIT.WRITE_METADATA).u16(24).zeros(4).u64(i.metadata).u64(i.mask);
      return;
    case 'write_actions':
    case 'apply_actions':
      w.u16(i.type === 'write_actions' ? OFPIT.WRITE_ACTIONS : OFPIT.APPLY_ACTIONS)
        .u16(0)
        .zeros(4);
      writeActions(w, i.actions);
      w.patchU16(start + 2, w.pos - start);
      return;
    case 'clear_actions':
      w.u16(OFPIT.CLEAR_ACTIONS).u16(8).zeros(4);
      return;
    case 'meter':
      w.u16(OFPIT.METER).u16(8).u32(i.meterId);
      return;
    case 'experimenter':
      w.u16(OFPIT.EXPERIMENTER).u16(0).u32(i.experimenter).bytes(i.data);
      w.padTo8(start);
      w.patchU16(start + 2, w.pos - start);
      return;
  }
}

export function writeInstructions(w: Writer, list: readonly Instruction[]): void {
  for (const i of list) writeInstruction(w, i);
}

export function readInstruction(r: Reader): Instruction {
  const start = r.pos;
  const type = r.u16('instruction type');
  const len = r.u16('instruction length');
  if (len < 8 || len % 8 !== 0) r.fail(`instruction length ${len} is not a positive multiple of 8`, start + 2, { instructionType: type });
  const body = r.sub(len - 4, `instruction ${type}`);
  const fixed = (want: number): void => {
    if (len !== want) r.fail(`instruction type ${type} has length ${len}, expected ${want}`, start + 2);
  };
  switch (type) {
    case OFPIT.GOTO_TABLE:
      fixed(8);
      return { type: 'goto_table', tableId: body.u8('table id') };
    case OFPIT.WRITE_METADATA: {
      fixed(24);
      body.skip(4);
      const metadata = body.u64('metadata');
      return { type: 'write_metadata', metadata, mask: body.u64('metadata mask') };
    }
    case OFPIT.WRITE_ACTIONS:
    case OFPIT.APPLY_ACTIONS: {
      body.skip(4);
      const actions = readActionList(body);
      return { type: type === OFPIT.WRITE_ACTIONS ? 'write_actions' : 'apply_actions', actions };
    }
    case OFPIT.CLEAR_ACTIONS:
      fixed(8);
      return { type: 'clear_actions' };
    case OFPIT.METER:
      fixed(8);
      return { type: 'meter', meterId: body.u32('meter id') };
    case OFPIT.EXPERIMENTER: {
      const experimenter = body.u32('experimenter id');
      return { type: 'experimenter', experimenter, data: body.bytes(body.remaining) };
    }
    default:
      return r.fail(`unknown instruction type ${type}`, start, { instructionType: type });
  }
}

export function readInstructionList(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  while (r.remaining > 0) out.push(readInstruction(r));
  return out;
}

