/**
 * @dragonflow/openflow — a pure OpenFlow 1.3 codec with the Open vSwitch (Nicira)
 * extensions the project uses. No I/O, no DI: bytes in, plain typed objects out.
 */
export { OfDecodeError, OfEncodeError, OfMatchError } from './errors.js';
export { Reader, Writer, bytesToHex, hexToBytes } from './wire.js';
export * from './consts.js';
export {
  OXM_FIELDS,
  OXM_CLASS_BASIC,
  OXM_CLASS_NXM0,
  OXM_CLASS_NXM1,
  OXM_CLASS_EXPERIMENTER,
  isOxmFieldName,
  oxmField,
  oxmFieldByHeader,
  oxmValueFromBigInt,
  oxmValueToBigInt,
  fieldAllOnes,
  type OxmFieldName,
  type OxmFieldSpec,
  type OxmKind,
  type OxmKindValue,
  type OxmPrereq,
  type OxmValue,
} from './oxm-fields.js';
export {
  match,
  matchFieldNames,
  matchGet,
  parseFieldInput,
  parseMatchSpec,
  readMatch,
  readOxmList,
  validateEntry,
  validateMatch,
  writeMatch,
  writeOxmList,
  type Match,
  type MatchEntry,
  type MatchInput,
  type MatchSpec,
  type RawOxm,
} from './match.js';
export { NXAST, readAction, readActionList, writeAction, writeActions, type Action, type ActionType, type ControllerAction, type CtAction, type FieldRef, type NatAction, type SetFieldAction } from './actions.js';
export { INSTRUCTION_ORDER, readInstruction, readInstructionList, writeInstruction, writeInstructions, type Instruction, type InstructionType } from './instructions.js';
export type * from './messages.js';
export { decodeMessage, encodeInto, encodeMessage, peekHeader, type EncodeOptions } from './codec.js';
export { act, flowMod, inst, type FlowModInit } from './builders.js';
export { ERROR_TYPES, ErrorType, describeOfError, errorCodeName, errorTypeName } from './error-codes.js';
export { OfFramer } from './framer.js';
export { actionsKey, canonicalAction, canonicalInstructions, canonicalMatch, flowIdentity, instructionsEqual, instructionsKey, matchKey, matchesEqual, type CanonicalEntry } from './canonical.js';
export { formatAction, formatActions, formatFlow, formatInstructions, formatMatch, formatMessage, ovsFieldName, type PrintableFlow } from './print.js';
