import { z } from 'zod';
import { baseFields } from './base.js';
import { timestampField, uuidField } from './fields.js';

/**
 * Proof that a chassis' controller is running: one record per chassis (same id),
 * bound to a lease the controller keeps alive. When the controller dies the lease
 * expires and the DB deletes the record, which reaches every subscriber as a
 * `deleted` change.
 */
export const chassisLivenessSchema = z
  .object({
    ...baseFields,
    /** When this controller incarnation registered. */
    startedAt: timestampField,
    /** Opaque incarnation id, new at each controller start. */
    incarnation: z.string().min(1),
    leaseTtlMs: z.number().int().positive(),
    /**
     * Routers whose gateway this chassis took over as their active gateway chassis
     * (docs/ha.md, "Gateway failover"). Bound to the lease like the rest of the
     * record: the claim ends with the chassis, and a chassis that comes back does not
     * take a gateway back from the live chassis holding it (no pre-emption).
     */
    activeGateways: z.array(uuidField).default([]),
    /**
     * The epoch of each claim in activeGateways (router id → epoch): a claim is made
     * with an epoch above every live claim on the router, so a claim made on BFD
     * evidence (the holder's switch is dead, its lease not yet expired) overrides the
     * holder's older claim. Absent: 0.
     */
    gatewayEpochs: z.record(uuidField, z.number().int().nonnegative()).default({}),
  })
  .strict();
