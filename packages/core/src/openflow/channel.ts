import type { MeterConfig } from '@dragonflow/openflow';
import type { BatchOutcome, SwitchChannel, SwitchRequest } from '../reconciler/switch.js';
import type { OfConnection } from './connection.js';

/** OFPM_ALL: every meter, in a meter-config request. */
const OFPM_ALL = 0xffff_ffff;

/**
 * The reconciler's SwitchChannel over a real OpenFlow connection: a batch is encoded
 * into one buffer with its barrier and written once; the switch's errors for
 * requests in the batch (which OpenFlow delivers before the barrier reply) come back
 * matched by xid to their index.
 */
export function switchChannel(conn: OfConnection): SwitchChannel {
  return {
    get datapathId() {
      return conn.datapathId;
    },
    async sendBatch(requests: readonly SwitchRequest[]): Promise<BatchOutcome> {
      const failed = await conn.sendBatch(requests);
      return { errors: failed.map(({ index, error }) => ({ index, request: requests[index]!, error })) };
    },
    send: (requests) => conn.sendAll(requests),
    dumpFlows: () => conn.flowStats(),
    dumpGroups: () => conn.groupDescs(),
    async dumpMeters(): Promise<readonly MeterConfig[]> {
      const bodies = await conn.multipart({ kind: 'meter_config', meterId: OFPM_ALL });
      return bodies.flatMap((b) => (b.kind === 'meter_config' ? b.meters : []));
    },
    async requestRole(role, generationId) {
      const reply = await conn.requestRole(role, generationId);
      return { role: reply.role, generationId: reply.generationId };
    },
    messages$: conn.messages$,
  };
}
