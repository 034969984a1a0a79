import { NX_VENDOR_ID, ONF_VENDOR_ID } from './consts.js';
import type { ErrorMsg } from './messages.js';

/** OpenFlow 1.3 error types (OFPET_*) and, per type, every code's name, in code order. */
export const ERROR_TYPES: readonly { readonly name: string; readonly codes: readonly string[] }[] = [
  { name: 'OFPET_HELLO_FAILED', codes: ['OFPHFC_INCOMPATIBLE', 'OFPHFC_EPERM'] },
  {
    name: 'OFPET_BAD_REQUEST',
    codes: [
      'OFPBRC_BAD_VERSION',
      'OFPBRC_BAD_TYPE',
      'OFPBRC_BAD_MULTIPART',
      'OFPBRC_BAD_EXPERIMENTER',
      'OFPBRC_BAD_EXP_TYPE',
      'OFPBRC_EPERM',
      'OFPBRC_BAD_LEN',
      'OFPBRC_BUFFER_EMPTY',
      'OFPBRC_BUFFER_UNKNOWN',
      'OFPBRC_BAD_TABLE_ID',
      'OFPBRC_IS_SLAVE',
      'OFPBRC_BAD_PORT',
      'OFPBRC_BAD_PACKET',
      'OFPBRC_MULTIPART_BUFFER_OVERFLOW',
    ],
  },
  {
    name: 'OFPET_BAD_ACTION',
    codes: [
      'OFPBAC_BAD_TYPE',
      'OFPBAC_BAD_LEN',
      'OFPBAC_BAD_EXPERIMENTER',
      'OFPBAC_BAD_EXP_TYPE',
      'OFPBAC_BAD_OUT_PORT',
      'OFPBAC_BAD_ARGUMENT',
      'OFPBAC_EPERM',
      'OFPBAC_TOO_MANY',
      'OFPBAC_BAD_QUEUE',
      'OFPBAC_BAD_OUT_GROUP',
      'OFPBAC_MATCH_INCONSISTENT',
      'OFPBAC_UNSUPPORTED_ORDER',
      'OFPBAC_BAD_TAG',
      'OFPBAC_BAD_SET_TYPE',
      'OFPBAC_BAD_SET_LEN',
      'OFPBAC_BAD_SET_ARGUMENT',
    ],
  },
  {
    name: 'OFPET_BAD_INSTRUCTION',
    codes: [
      'OFPBIC_UNKNOWN_INST',
      'OFPBIC_UNSUP_INST',
      'OFPBIC_BAD_TABLE_ID',
      'OFPBIC_UNSUP_METADATA',
      'OFPBIC_UNSUP_METADATA_MASK',
      'OFPBIC_BAD_EXPERIMENTER',
      'OFPBIC_BAD_EXP_TYPE',
      'OFPBIC_BAD_LEN',
      'OFPBIC_EPERM',
    ],
  },
  {
    name: 'OFPET_BAD_MATCH',
    codes: [
      'OFPBMC_BAD_TYPE',
      'OFPBMC_BAD_LEN',
      'OFPBMC_BAD_TAG',
      'OFPBMC_BAD_DL_ADDR_MASK',
      'OFPBMC_BAD_NW_ADDR_MASK',
      'OFPBMC_BAD_WILDCARDS',
      'OFPBMC_BAD_FIELD',
      'OFPBMC_BAD_VALUE',
      'OFPBMC_BAD_MASK',
      'OFPBMC_BAD_PREREQ',
      'OFPBMC_DUP_FIELD',
      'OFPBMC_EPERM',
    ],
  },
  {
    name: 'OFPET_FLOW_MOD_FAILED',
    codes: ['OFPFMFC_UNKNOWN', 'OFPFMFC_TABLE_FULL', 'OFPFMFC_BAD_TABLE_ID', 'OFPFMFC_OVERLAP', 'OFPFMFC_EPERM', 'OFPFMFC_BAD_TIMEOUT', 'OFPFMFC_BAD_COMMAND', 'OFPFMFC_BAD_FLAGS'],
  },
  {
    name: 'OFPET_GROUP_MOD_FAILED',
    codes: [
      'OFPGMFC_GROUP_EXISTS',
      'OFPGMFC_INVALID_GROUP',
      'OFPGMFC_WEIGHT_UNSUPPORTED',
      'OFPGMFC_OUT_OF_GROUPS',
      'OFPGMFC_OUT_OF_BUCKETS',
      'OFPGMFC_CHAINING_UNSUPPORTED',
      'OFPGMFC_WATCH_UNSUPPORTED',
      'OFPGMFC_LOOP',
      'OFPGMFC_UNKNOWN_GROUP',
      'OFPGMFC_CHAINED_GROUP',
      'OFPGMFC_BAD_TYPE',
      'OFPGMFC_BAD_COMMAND',
      'OFPGMFC_BAD_BUCKET',
      'OFPGMFC_BAD_WATCH',
      'OFPGMFC_EPERM',
    ],
  },
  { name: 'OFPET_PORT_MOD_FAILED', codes: ['OFPPMFC_BAD_PORT', 'OFPPMFC_BAD_HW_ADDR', 'OFPPMFC_BAD_CONFIG', 'OFPPMFC_BAD_ADVERTISE', 'OFPPMFC_EPERM'] },
  { name: 'OFPET_TABLE_MOD_FAILED', codes: ['OFPTMFC_BAD_TABLE', 'OFPTMFC_BAD_CONFIG', 'OFPTMFC_EPERM'] },
  { name: 'OFPET_QUEUE_OP_FAILED', codes: ['OFPQOFC_BAD_PORT', 'OFPQOFC_BAD_QUEUE', 'OFPQOFC_EPERM'] },
  { name: 'OFPET_SWITCH_CONFIG_FAILED', codes: ['OFPSCFC_BAD_FLAGS', 'OFPSCFC_BAD_LEN', 'OFPSCFC_EPERM'] },
  { name: 'OFPET_ROLE_REQUEST_FAILED', codes: ['OFPRRFC_STALE', 'OFPRRFC_UNSUP', 'OFPRRFC_BAD_ROLE'] },
  {
    name: 'OFPET_METER_MOD_FAILED',
    codes: [
      'OFPMMFC_UNKNOWN',
      'OFPMMFC_METER_EXISTS',
      'OFPMMFC_INVALID_METER',
      'OFPMMFC_UNKNOWN_METER',
      'OFPMMFC_BAD_COMMAND',
      'OFPMMFC_BAD_FLAGS',
      'OFPMMFC_BAD_RATE',
      'OFPMMFC_BAD_BURST',
      'OFPMMFC_BAD_BAND',
      'OFPMMFC_BAD_BAND_VALUE',
      'OFPMMFC_OUT_OF_METERS',
      'OFPMMFC_OUT_OF_BANDS',
    ],
  },
  { name: 'OFPET_TABLE_FEATURES_FAILED', codes: ['OFPTFFC_BAD_TABLE', 'OFPTFFC_BAD_METADATA', 'OFPTFFC_BAD_TYPE', 'OFPTFFC_BAD_LEN', 'OFPTFFC_BAD_ARGUMENT', 'OFPTFFC_EPERM'] },
];

/** Error type numbers by name, e.g. ErrorType.BAD_MATCH === 4. */
export const ErrorType = {
  HELLO_FAILED: 0,
  BAD_REQUEST: 1,
  BAD_ACTION: 2,
  BAD_INSTRUCTION: 3,
  BAD_MATCH: 4,
  FLOW_MOD_FAILED: 5,
  GROUP_MOD_FAILED: 6,
  PORT_MOD_FAILED: 7,
  TABLE_MOD_FAILED: 8,
  QUEUE_OP_FAILED: 9,
  SWITCH_CONFIG_FAILED: 10,
  ROLE_REQUEST_FAILED: 11,
  METER_MOD_FAILED: 12,
  TABLE_FEATURES_FAILED: 13,
  EXPERIMENTER: 0xffff,
} as const;

/** Open vSwitch's Nicira experimenter error codes (experimenter 0x2320, OpenFlow 1.2+). */
const NX_ERRORS: Readonly<Record<number, string>> = {
  2: 'NXBRC_NXM_INVALID',
  3: 'NXBRC_NXM_BAD_TYPE',
  4: 'NXBRC_MUST_BE_ZERO',
  5: 'NXBRC_BAD_REASON',
  9: 'NXBRC_FM_BAD_EVENT',
  10: 'NXBRC_UNENCODABLE_ERROR',
  11: 'NXBAC_MUST_BE_ZERO',
  12: 'NXFMFC_HARDWARE',
  13: 'NXFMFC_BAD_TABLE_ID',
  15: 'NXBAC_BAD_CONJUNCTION',
  34: 'NXR_NOT_SUPPORTED',
  35: 'NXR_STALE',
  36: 'NXST_NOT_CONFIGURED',
  37: 'NXFMFC_INVALID_TLV_FIELD',
  42: 'NXBAC_CT_DATAPATH_SUPPORT',
  43: 'NXBMC_CT_DATAPATH_SUPPORT',
};

/** ONF experimenter error codes Open vSwitch sends in OpenFlow 1.3 (bundles, multipart timeouts). */
const ONF_ERRORS: Readonly<Record<number, string>> = {
  2300: 'OFPBFC_UNKNOWN',
  2301: 'OFPBFC_EPERM',
  2302: 'OFPBFC_BAD_ID',
  2303: 'OFPBFC_BUNDLE_EXIST',
  2304: 'OFPBFC_BUNDLE_CLOSED',
  2305: 'OFPBFC_OUT_OF_BUNDLES',
  2308: 'OFPBFC_MSG_BAD_LEN',
  2309: 'OFPBFC_MSG_BAD_XID',
  2310: 'OFPBFC_MSG_UNSUP',
  2313: 'OFPBFC_MSG_FAILED',
  2314: 'OFPBFC_TIMEOUT',
  2315: 'OFPBFC_BUNDLE_IN_PROGRESS',
  2360: 'OFPFMFC_BAD_PRIORITY',
  2370: 'OFPACFC_INVALID',
  2371: 'OFPACFC_UNSUPPORTED',
  2372: 'OFPACFC_EPERM',
  2640: 'OFPBRC_MULTIPART_REQUEST_TIMEOUT',
  2641: 'OFPBRC_MULTIPART_REPLY_TIMEOUT',
};

export function errorTypeName(errorType: number): string {
  if (errorType === 0xffff) return 'OFPET_EXPERIMENTER';
  return ERROR_TYPES[errorType]?.name ?? `OFPET_${errorType}`;
}

export function errorCodeName(errorType: number, code: number, experimenter?: number): string {
  if (errorType === 0xffff) {
    if (experimenter === NX_VENDOR_ID) return NX_ERRORS[code] ?? `NX_ERROR_${code}`;
    if (experimenter === ONF_VENDOR_ID) return ONF_ERRORS[code] ?? `ONF_ERROR_${code}`;
    return `EXPERIMENTER_0x${(experimenter ?? 0).toString(16)}_${code}`;
  }
  return ERROR_TYPES[errorType]?.codes[code] ?? `CODE_${code}`;
}

/** "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ" for an error message. */
export function describeOfError(e: Pick<ErrorMsg, 'errorType' | 'code' | 'experimenter'>): string {
  return `${errorTypeName(e.errorType)}/${errorCodeName(e.errorType, e.code, e.experimenter)}`;
}
