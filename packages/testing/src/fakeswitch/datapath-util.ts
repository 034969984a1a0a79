import { oxmField, oxmValueFromBigInt, type Action, type Instruction, type Match } from '@dragonflow/openflow';
import { decodeEthernet, encodeEthernet, type EthernetFrame } from '@dragonflow/packet';

/** OpenFlow 1.3 §5.10: the order actions of the action set run in. */
export const ACTION_SET_ORDER: Partial<Record<Action['type'], number>> = {
  pop_vlan: 2,
  pop_mpls: 2,
  push_mpls: 3,
  push_vlan: 5,
  dec_nw_ttl: 7,
  set_nw_ttl: 8,
  set_field: 8,
  reg_load: 8,
  move: 8,
  set_queue: 9,
  group: 10,
  output: 11,
};

/** The action set holds one action per type (one set_field per field). */
export function actionSetKey(a: Action): string {
  if (a.type === 'set_field') return `set_field:${a.field}`;
  if (a.type === 'reg_load') return `set_field:${a.dst.field}`;
  return a.type;
}

/** Whether any apply/write action of the instructions satisfies `pred`. */
export function outputsTo(instructions: readonly Instruction[], pred: (a: Action) => boolean): boolean {
  return instructions.some((i) => (i.type === 'apply_actions' || i.type === 'write_actions') && i.actions.some(pred));
}

export function structuredFrame(f: EthernetFrame): EthernetFrame {
  // Re-decoding the encoded frame gives an independent copy with consistent fields.
  return decodeEthernet(encodeEthernet(f));
}


export function fieldsToMatch(fields: Readonly<Record<string, bigint>>): Match {
  const out: Record<string, { value: unknown }> = {};
  for (const [name, v] of Object.entries(fields)) {
    const spec = oxmField(name);
    if (spec) out[name] = { value: oxmValueFromBigInt(spec, v) };
  }
  return out as Match;
}
