import { act, decodeMessage, encodeMessage, flowIdentity as codecIdentity, flowMod, inst, instructionsKey as codecInstructions, type FlowMod, type Instruction, type Match } from '@dragonflow/openflow';
import { describe, expect, it } from 'vitest';
import { flowIdentity, instructionsKey } from './keys.js';

interface F {
  table: number;
  priority: number;
  match: Match;
  instructions: readonly Instruction[];
}

const f = (priority: number, match: Parameters<typeof flowMod>[0]['match'], instructions: Instruction[], table = 3): F => {
  const fm = flowMod({ tableId: table, priority, match, instructions });
  return { table, priority, match: fm.match, instructions };
};

/** Flows of every shape the apps use, including pairs that differ only in encoding. */
const CORPUS: F[] = [
  f(10, { in_port: 1 }, [inst.apply(act.setField('reg6', 5)), inst.writeMetadata(5n, 0xffffffffn), inst.gotoTable(4)]),
  f(10, { in_port: 1 }, [inst.gotoTable(4), inst.writeMetadata(5n, 0xffffffffn), inst.apply(act.setField('reg6', 5))]),
  f(10, { in_port: 1 }, [inst.apply(act.load('reg6', 5, 0xffffffff)), inst.writeMetadata(5n, 0xffffffffn), inst.gotoTable(4)]),
  f(10, { in_port: 1 }, [inst.apply(act.regLoad({ field: 'reg6', ofs: 0, nBits: 32 }, 5)), inst.writeMetadata(5n, 0xffffffffn), inst.gotoTable(4)]),
  f(10, { in_port: 1 }, [inst.apply(act.regLoad({ field: 'reg6', ofs: 0, nBits: 16 }, 5)), inst.writeMetadata(5n, 0xffffffffn), inst.gotoTable(4)]),
  f(10, { in_port: 2 }, [inst.apply(act.setField('reg6', 5)), inst.writeMetadata(5n, 0xffffffffn), inst.gotoTable(4)]),
  f(11, { in_port: 1 }, [inst.apply(act.setField('reg6', 5)), inst.writeMetadata(5n, 0xffffffffn), inst.gotoTable(4)]),
  f(20, { eth_type: 0x0800, ipv4_dst: '10.0.0.0/24', metadata: [5n, 0xffffffffn] }, [inst.apply(act.decNwTtl(), act.setField('eth_src', 'fa:16:3e:00:00:01'))]),
  f(20, { metadata: [5n, 0xffffffffn], ipv4_dst: '10.0.0.0/255.255.255.0', eth_type: 0x0800 }, [inst.apply(act.decNwTtl(), act.setField('eth_src', 'fa:16:3e:00:00:01'))]),
  f(20, { eth_type: 0x0800, ipv4_dst: '10.0.0.0/24', metadata: [5n, 0xffffffffn] }, [inst.apply(act.setField('eth_src', 'fa:16:3e:00:00:01'), act.decNwTtl())]),
  f(20, { eth_type: 0x0800, ipv4_dst: '10.0.0.0/24', metadata: [5n, 0xffffffffn] }, [inst.apply(act.decNwTtl(), act.setField('eth_src', 'fa:16:3e:00:00:02'))]),
  f(20, { eth_type: 0x0800, ipv4_dst: '10.0.0.0/25', metadata: [5n, 0xffffffffn] }, [inst.apply(act.decNwTtl(), act.setField('eth_src', 'fa:16:3e:00:00:01'))]),
  f(20, { eth_type: 0x0800, ipv4_dst: '10.0.0.7/32', metadata: [5n, 0xffffffffn] }, []),
  f(20, { eth_type: 0x0800, ipv4_dst: '10.0.0.7', metadata: [5n, 0xffffffffn] }, [inst.apply()]),
  f(30, { eth_dst: 'fa:16:3e:00:00:01', reg7: [0, 0] }, [inst.apply(act.toController())]),
  f(30, { eth_dst: 'fa:16:3e:00:00:01' }, [inst.apply(act.controller())]),
  f(30, { eth_dst: 'fa:16:3e:00:00:01' }, [inst.apply(act.controller({ userdata: new Uint8Array([1, 2]) }))]),
  f(30, { eth_dst: ['01:00:00:00:00:00', '01:00:00:00:00:00'] }, [inst.apply(act.group(0x01000001))]),
  f(30, { eth_dst: ['01:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff'] }, [inst.apply(act.group(0x01000001))]),
  f(40, { eth_type: 0x86dd, ip_proto: 58, icmpv6_type: 135, ipv6_nd_target: 'fd00::1' }, [inst.apply(act.output(0xfffffff8))]),
  f(40, { eth_type: 0x86dd, ip_proto: 58, icmpv6_type: 135, icmpv6_code: 0, ipv6_nd_target: 'fd00::1' }, [inst.apply(act.output(0xfffffff8))]),
  f(50, { vlan_vid: 0x1000 | 100 }, [inst.apply(act.popVlan(), act.resubmit(7)), inst.write(act.output(3)), inst.clear()]),
  f(50, { vlan_vid: [0x1000, 0x1000] }, [inst.apply(act.pushVlan(), act.setField('vlan_vid', 0x1000 | 7), act.resubmitPort(3))]),
  f(60, { reg6: 9 }, [inst.apply(act.ct({ commit: true, zone: 4, actions: [act.nat({ kind: 'src' })] }))]),
  f(60, { reg6: 9 }, [inst.apply(act.note('hello'), act.move({ field: 'reg6' }, { field: 'reg7' }, 16))]),
  f(60, { reg6: 9 }, [inst.apply(act.move({ field: 'reg6' }, { field: 'reg7' }, 16))]),
  f(60, { reg6: 9 }, [inst.apply(act.move({ field: 'reg6' }, { field: 'reg7' }, 8))]),
  f(60, { reg6: 9 }, [inst.apply(act.move({ field: 'reg6', ofs: 8 }, { field: 'reg7' }, 16))]),
  f(60, { reg6: 9 }, [inst.apply(act.move({ field: 'reg6' }, { field: 'reg7', ofs: 8 }, 16))]),
  f(60, { reg6: 9 }, [inst.apply(act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48), { type: 'set_nw_ttl', ttl: 64 })]),
  f(60, { reg6: 9 }, [inst.apply(act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48), { type: 'set_nw_ttl', ttl: 63 })]),
  f(60, { tunnel_id: 77n, tun_ipv4_dst: '192.0.2.2' }, [inst.meter(1), inst.apply(act.output(9))]),
];

/** The same flow as the switch would report it: through the wire and back. */
function roundTrip(x: F): F {
  const fm = decodeMessage(encodeMessage({ ...flowMod({ tableId: x.table, priority: x.priority, match: x.match, instructions: x.instructions }), xid: 1 })) as FlowMod;
  return { table: fm.tableId, priority: fm.priority, match: fm.match, instructions: fm.instructions };
}

describe('reconciler keys', () => {
  it('agree with the codec canonical forms on which flows are the same (identity and behaviour)', () => {
    const all = [...CORPUS, ...CORPUS.map(roundTrip)];
    let same = 0;
    for (const a of all) {
      for (const b of all) {
        const codecSameId = codecIdentity(a.table, a.priority, a.match) === codecIdentity(b.table, b.priority, b.match);
        const mineSameId = flowIdentity(a.table, a.priority, a.match) === flowIdentity(b.table, b.priority, b.match);
        expect(mineSameId, `${codecIdentity(a.table, a.priority, a.match)} vs ${codecIdentity(b.table, b.priority, b.match)}`).toBe(codecSameId);
        const codecSameActs = codecInstructions(a.instructions) === codecInstructions(b.instructions);
        const mineSameActs = instructionsKey(a.instructions) === instructionsKey(b.instructions);
        expect(mineSameActs, `${codecInstructions(a.instructions)} vs ${codecInstructions(b.instructions)}`).toBe(codecSameActs);
        if (mineSameId && mineSameActs && a !== b) same++;
      }
    }
    // the corpus does contain flows that differ only in encoding (so the test can fail)
    expect(same).toBeGreaterThan(CORPUS.length * 2);
  });

  it('names a flow the same after it went through the wire', () => {
    for (const x of CORPUS) {
      const y = roundTrip(x);
      expect(flowIdentity(y.table, y.priority, y.match)).toBe(flowIdentity(x.table, x.priority, x.match));
      expect(instructionsKey(y.instructions)).toBe(instructionsKey(x.instructions));
    }
  });
});
