import type { ErrorMsg } from '@dragonflow/openflow';
import type { BatchError, BatchOutcome, SwitchChannel, SwitchRequest } from '../reconciler/switch.js';
import type { OfConnection } from './connection.js';

/**
 * The reconciler's SwitchChannel over a real OpenFlow connection: a batch is sent in
 * order, followed by a barrier; the switch's errors for requests in the batch
 * (which OpenFlow delivers before the barrier reply) are matched back by xid.
 */
export function switchChannel(conn: OfConnection): SwitchChannel {
  return {
    get datapathId() {
      return conn.datapathId;
    },
    async sendBatch(requests: readonly SwitchRequest[]): Promise<BatchOutcome> {
      const byXid = new Map<number, number>();
      const errors: BatchError[] = [];
      const sub = conn.errors$.subscribe(({ error }: { error: ErrorMsg }) => {
        const index = byXid.get(error.xid);
        if (index !== undefined) errors.push({ index, request: requests[index]!, error });
      });
      try {
        for (const [index, request] of requests.entries()) {
          const xid = conn.nextXid();
          byXid.set(xid, index);
          await conn.send({ ...request, xid });
        }
        await conn.barrier();
      } finally {
        sub.unsubscribe();
      }
      return { errors };
    },
    dumpFlows: () => conn.flowStats(),
    dumpGroups: () => conn.groupDescs(),
    messages$: conn.messages$,
  };
}
