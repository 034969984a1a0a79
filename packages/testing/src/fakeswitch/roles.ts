import { ErrorType, type ControllerRole, type ErrorMsg, type OfMessage } from '@dragonflow/openflow';
import { OfSwitchError, type RoleAnswer, type SwitchAsyncMessage } from '@dragonflow/core/host';

/** What a ROLE_REPLY carries when no controller has set a generation id yet (Open vSwitch: UINT64_MAX). */
export const NO_GENERATION_ID = 0xffff_ffff_ffff_ffffn;

/** OFPBRC_IS_SLAVE: a slave sent a request that changes the switch. */
export const OFPBRC_IS_SLAVE = 10;
/** OFPRRFC_STALE: a role request with a generation id older than the switch's. */
export const OFPRRFC_STALE = 0;

/** One controller connection's role, as the switch keeps it. */
export interface RoleHolder {
  role: Exclude<ControllerRole, 'nochange'>;
}

/**
 * OpenFlow controller roles as Open vSwitch implements them (ofproto/connmgr.c,
 * handle_role_request): every connection starts EQUAL; a MASTER or SLAVE request
 * carries a generation id that must not be older (signed 64-bit difference) than
 * the last one the switch took, else OFPRRFC_STALE; a new master turns the previous
 * master into a slave; a slave's flow-, group- and meter-mods and packet-outs are
 * refused with OFPBRC_IS_SLAVE; asynchronous messages other than port-status go to
 * masters and equals only.
 */
export class SwitchRoles {
  /** The last generation id taken (Open vSwitch's master_election_id), if any. */
  private electionId: bigint | undefined;

  constructor(private readonly datapathId: bigint) {}

  get generationId(): bigint | undefined {
    return this.electionId;
  }

  request(holder: RoleHolder, all: Iterable<RoleHolder>, role: ControllerRole, generationId: bigint, xid: number): RoleAnswer {
    if (role !== 'nochange') {
      if (role !== 'equal') {
        if (this.electionId !== undefined && BigInt.asIntN(64, generationId - this.electionId) < 0n) {
          const request: OfMessage = { type: 'role_request', xid, role, generationId };
          const error: ErrorMsg = { type: 'error', xid, errorType: ErrorType.ROLE_REQUEST_FAILED, code: OFPRRFC_STALE, data: new Uint8Array(0) };
          throw new OfSwitchError(request, error, this.datapathId);
        }
        this.electionId = BigInt.asUintN(64, generationId);
      }
      if (role === 'master') for (const other of all) if (other !== holder && other.role === 'master') other.role = 'slave';
      holder.role = role;
    }
    return { role: holder.role, generationId: this.electionId ?? NO_GENERATION_ID };
  }

  /** The error a slave gets for a request that changes the switch, or undefined when it may send it. */
  refuseSlave(holder: RoleHolder, xid: number): ErrorMsg | undefined {
    if (holder.role !== 'slave') return undefined;
    return { type: 'error', xid, errorType: ErrorType.BAD_REQUEST, code: OFPBRC_IS_SLAVE, data: new Uint8Array(0) };
  }

  /** Whether an asynchronous message goes to a connection with this role (OpenFlow 1.3 default async config). */
  static receives(holder: RoleHolder, m: SwitchAsyncMessage): boolean {
    return m.type === 'port_status' || holder.role !== 'slave';
  }
}
