import { OFP_NO_BUFFER, OfGroup, OfPort, act, encodeMessage, type Instruction } from '@dragonflow/openflow';
import { describe, expect, it } from 'vitest';
import { effectiveFlags, flow, isValidatedFlow, type DesiredFlow } from './flow.js';
import { instructionsKey } from './keys.js';
import { encodeFlow, flowInstructionsKey } from './wire.js';

/** The flow-mod exactly as the codec writes it from the flow's own fields (validating everything, nothing shared). */
function codecBytes(f: DesiredFlow, cookie: bigint): string {
  const instructions = f.instructions.map((i) => ({ ...i })) as Instruction[];
  const bytes = encodeMessage({ type: 'flow_mod', xid: 0, command: 'add', cookie, cookieMask: 0n, tableId: f.table, idleTimeout: f.idleTimeout ?? 0, hardTimeout: f.hardTimeout ?? 0, priority: f.priority, bufferId: OFP_NO_BUFFER, outPort: OfPort.ANY, outGroup: OfGroup.ANY, flags: effectiveFlags(f), match: { ...f.match }, instructions });
  return Buffer.from(bytes).toString('latin1');
}

describe('encodeFlow with shared instruction lists', () => {
  const flows = [
    flow(3, { priority: 10, match: { reg6: 7, eth_src: 'fa:16:3e:00:00:01' }, goto: 5 }),
    flow(3, { priority: 10, match: { reg6: 8, eth_src: 'fa:16:3e:00:00:02' }, goto: 5 }),
    flow(4, { priority: 1, match: {}, actions: [] }),
    flow(4, { priority: 20, match: { eth_type: 0x0800, ipv4_src: '10.0.0.0/24' }, actions: [act.output(3)], goto: 9 }),
    flow(6, { priority: 30, match: { eth_type: 0x0806 }, goto: 7, idleTimeout: 30 }),
  ];

  it('writes the bytes the codec writes, whether the list is shared or not', () => {
    for (const f of flows) expect(encodeFlow(f, 0x1234n)).toBe(codecBytes(f, 0x1234n));
  });

  it('shares one frozen list between flows that drop or only go to the same table, and keys it as instructionsKey does', () => {
    expect(flows[0]!.instructions).toBe(flows[1]!.instructions);
    expect(Object.isFrozen(flows[0]!.instructions)).toBe(true);
    expect(Object.isFrozen(flows[3]!.instructions)).toBe(false);
    for (const f of flows) expect(flowInstructionsKey(f.instructions)).toBe(instructionsKey(f.instructions));
  });

  it("flow()'s flows skip the second validation of their match; a hand-made flow's match is validated when encoded", () => {
    expect(isValidatedFlow(flows[0]!)).toBe(true);
    // ipv4_src without eth_type: the codec refuses it when it has not seen it before.
    const bad: DesiredFlow = { table: 1, priority: 1, match: { ipv4_src: { value: flows[3]!.match.ipv4_src!.value } }, instructions: [] };
    expect(() => encodeFlow(bad, 1n)).toThrow(/eth_type|prerequisite/);
  });
});
