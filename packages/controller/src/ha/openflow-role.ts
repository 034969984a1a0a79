import { DfError } from '@dragonflow/base';
import { OfSwitchError, type RoleAnswer, type SwitchChannel } from '@dragonflow/core/host';
import { ErrorType, type ControllerRole, type ErrorMsg } from '@dragonflow/openflow';

/** What Open vSwitch answers as generation id before any controller set one (UINT64_MAX). */
export const NO_GENERATION_ID = 0xffff_ffff_ffff_ffffn;
const OFPRRFC_STALE = 0;
const OFPBRC_IS_SLAVE = 10;

/** The switch refused a role request because its generation id is older than the one it knows. */
export function isStaleRoleError(err: unknown): boolean {
  return err instanceof OfSwitchError && err.error.errorType === ErrorType.ROLE_REQUEST_FAILED && err.error.code === OFPRRFC_STALE;
}

/** The switch refused a request because the connection is a slave. */
export function isSlaveRefusal(error: Pick<ErrorMsg, 'errorType' | 'code'>): boolean {
  return error.errorType === ErrorType.BAD_REQUEST && error.code === OFPBRC_IS_SLAVE;
}

function roleRequest(channel: SwitchChannel, role: ControllerRole, generationId: bigint): Promise<RoleAnswer> {
  if (!channel.requestRole) throw new DfError('HA_UNSUPPORTED', 'this switch channel cannot send role requests');
  return channel.requestRole(role, generationId);
}

/** The switch's current generation id (a NOCHANGE role request), undefined when none was set yet. */
export async function currentGeneration(channel: SwitchChannel): Promise<{ role: ControllerRole; generationId: bigint | undefined }> {
  const r = await roleRequest(channel, 'nochange', 0n);
  return { role: r.role, generationId: r.generationId === NO_GENERATION_ID ? undefined : r.generationId };
}

/** The generation after `g` (64-bit, wrapping as the switch compares: a signed difference). */
export function nextGeneration(g: bigint | undefined): bigint {
  return g === undefined ? 1n : BigInt.asUintN(64, g + 1n);
}

/**
 * Takes the switch over: reads the generation id it knows and claims MASTER with the
 * next one, so any controller still holding an older one is refused from now on
 * (OFPRRFC_STALE). Returns the generation claimed. Open vSwitch turns the previous
 * master, if still connected, into a slave.
 */
export async function claimMaster(channel: SwitchChannel): Promise<bigint> {
  const { generationId } = await currentGeneration(channel);
  const claim = nextGeneration(generationId);
  await roleRequest(channel, 'master', claim);
  return claim;
}

/**
 * Claims MASTER again with the generation this controller already holds (after the
 * switch reconnected): rejects with OFPRRFC_STALE (isStaleRoleError) when another
 * controller claimed a newer one meanwhile — this one is stale and must step down.
 */
export async function reassertMaster(channel: SwitchChannel, generationId: bigint): Promise<void> {
  await roleRequest(channel, 'master', generationId);
}

/**
 * Becomes SLAVE with the switch's current generation id (a slave request carries
 * one too, and an older one is refused): the switch then sends it no packet-ins
 * and refuses its flow-mods. A master claiming between the read and the request
 * makes it stale: read again (a few times).
 */
export async function becomeSlave(channel: SwitchChannel): Promise<bigint> {
  for (let attempt = 0; ; attempt++) {
    const { generationId } = await currentGeneration(channel);
    const g = generationId ?? 0n;
    try {
      await roleRequest(channel, 'slave', g);
      return g;
    } catch (err) {
      if (!isStaleRoleError(err) || attempt >= 3) throw err;
    }
  }
}
