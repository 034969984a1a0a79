import type { FlowStats } from '@dragonflow/openflow';
import { instructionsKey } from './keys.js';
import type { OwnerRecord } from './owner.js';
import type { SwitchRequest } from './switch.js';
import { deleteRequest, wireFlags, wireHard, wireIdle } from './wire.js';

/** What the reconciler compares to decide what to send for one flow. */
export interface FlowState {
  readonly cookie: bigint;
  /** instructionsKey: what the flow does, canonical. */
  readonly actions: string;
  readonly idle: number;
  readonly hard: number;
  readonly flags: number;
  /** The DELETE_STRICT of this flow. */
  deleteRequest(): SwitchRequest;
}

/**
 * A desired flow, compact: its identity and instructions keys (canonical strings)
 * and its wire form (see wire.ts), nothing else — no object graph per flow.
 * Installed flows that match what is desired share the same entry.
 */
export class DesiredEntry implements FlowState {
  constructor(
    readonly key: string,
    readonly actions: string,
    /** The ADD flow-mod with the owner's cookie, latin1. */
    readonly wire: string,
    readonly owner: OwnerRecord,
    readonly cookie: bigint,
  ) {}

  get idle(): number {
    return wireIdle(this.wire);
  }

  get hard(): number {
    return wireHard(this.wire);
  }

  get flags(): number {
    return wireFlags(this.wire);
  }

  get ephemeral(): boolean {
    return wireIdle(this.wire) !== 0 || wireHard(this.wire) !== 0;
  }

  deleteRequest(): SwitchRequest {
    return deleteRequest(this.wire);
  }
}

/** A flow read back from the switch (at a connect) that is not (yet) known to be a desired one. */
export class ReadBackFlow implements FlowState {
  readonly actions: string;
  constructor(readonly f: FlowStats) {
    this.actions = instructionsKey(f.instructions);
  }

  get cookie(): bigint {
    return this.f.cookie;
  }

  get idle(): number {
    return this.f.idleTimeout;
  }

  get hard(): number {
    return this.f.hardTimeout;
  }

  get flags(): number {
    return this.f.flags;
  }

  deleteRequest(): SwitchRequest {
    return {
      type: 'flow_mod',
      command: 'delete_strict',
      cookie: 0n,
      cookieMask: 0n,
      tableId: this.f.tableId,
      idleTimeout: 0,
      hardTimeout: 0,
      priority: this.f.priority,
      bufferId: 0xffffffff,
      outPort: 0xffffffff,
      outGroup: 0xffffffff,
      flags: 0,
      match: this.f.match,
      instructions: [],
    };
  }
}
