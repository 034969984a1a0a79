import { fieldAllOnes, oxmField, oxmValueToBigInt, type Action } from '@dragonflow/openflow';
import type { PacketState } from './packet-state.js';
import type { TraceResult } from './trace.js';

/**
 * Executes an action that only rewrites the packet or its pipeline fields.
 * Returns 'ttl-expired' when dec_ttl stops the packet, 'not-a-field-action' for
 * actions the datapath runs itself (output, group, ct, resubmit, …).
 */
export function applyFieldAction(state: PacketState, a: Action, trace: TraceResult): 'done' | 'ttl-expired' | 'not-a-field-action' {
  switch (a.type) {
    case 'set_field': {
      const spec = oxmField(a.field)!;
      const value = oxmValueToBigInt(spec, a.value);
      const mask = a.mask === undefined ? fieldAllOnes(spec) : oxmValueToBigInt(spec, a.mask);
      const old = state.get(a.field);
      if (old === undefined) {
        trace.drops.push(`set_field ${a.field} on a packet without that header (ignored)`);
        return 'done';
      }
      state.set(a.field, (old & ~mask) | (value & mask));
      return 'done';
    }
    case 'reg_load': {
      const old = state.get(a.dst.field);
      if (old === undefined) return 'done';
      const mask = ((1n << BigInt(a.dst.nBits)) - 1n) << BigInt(a.dst.ofs);
      state.set(a.dst.field, (old & ~mask) | ((a.value << BigInt(a.dst.ofs)) & mask));
      return 'done';
    }
    case 'move': {
      const src = state.get(a.src.field);
      const dst = state.get(a.dst.field);
      if (src === undefined || dst === undefined) return 'done';
      const bits = (src >> BigInt(a.src.ofs)) & ((1n << BigInt(a.nBits)) - 1n);
      const mask = ((1n << BigInt(a.nBits)) - 1n) << BigInt(a.dst.ofs);
      state.set(a.dst.field, (dst & ~mask) | (bits << BigInt(a.dst.ofs)));
      return 'done';
    }
    case 'push_vlan': {
      const outer = state.frame.vlans[0];
      state.frame.vlans.unshift({ tpid: a.ethertype, pcp: outer?.pcp ?? 0, dei: 0, vid: outer?.vid ?? 0 });
      return 'done';
    }
    case 'pop_vlan':
      state.frame.vlans.shift();
      return 'done';
    case 'dec_nw_ttl': {
      const ip = state.ip;
      if (!ip) return 'done';
      const ttl = ip.kind === 'ipv4' ? ip.ttl : ip.hopLimit;
      if (ttl <= 1) return 'ttl-expired';
      if (ip.kind === 'ipv4') ip.ttl = ttl - 1;
      else ip.hopLimit = ttl - 1;
      return 'done';
    }
    case 'set_nw_ttl': {
      const ip = state.ip;
      if (ip?.kind === 'ipv4') ip.ttl = a.ttl;
      else if (ip) ip.hopLimit = a.ttl;
      return 'done';
    }
    case 'set_queue':
    case 'note':
      return 'done';
    default:
      return 'not-a-field-action';
  }
}
