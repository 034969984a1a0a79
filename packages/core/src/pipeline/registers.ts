/**
 * Registers, metadata and cookie bits: declared here and nowhere else
 * (docs/pipeline.md, "Registers and metadata" and "Cookies").
 */
import type { OxmFieldName } from '@dragonflow/openflow';

/** reg4: pipeline flags (FLAG_* bits). */
export const REG_FLAGS = 'reg4' satisfies OxmFieldName;
/** reg5: unique key of the LogicalRouter routing the packet (l3 stage). */
export const REG_ROUTER = 'reg5' satisfies OxmFieldName;
/** reg6: unique key of the LogicalPort the packet came from (0 from a tunnel). */
export const REG_SRC_PORT = 'reg6' satisfies OxmFieldName;
/** reg7: unique key of the LogicalPort the packet goes to. */
export const REG_DST_PORT = 'reg7' satisfies OxmFieldName;

/** metadata low 32 bits: unique key of the packet's current LogicalSwitch; 0 = none. */
export const METADATA_NETWORK_MASK = 0xffff_ffffn;

/** Bits of REG_FLAGS. */
export const FLAG_FROM_TUNNEL = 0x1;
export const FLAG_FROM_PROVIDER = 0x2;
export const FLAG_ROUTED = 0x4;
/**
 * The packet's source was translated by a NAT app in the `l3` stage (a floating IP):
 * later NAT tables (the router's SNAT) leave it alone.
 */
export const FLAG_NAT_DONE = 0x8;

/**
 * reg15: the punt gate's origin (docs/ha.md "Fallback path"). When an app declares
 * a `puntGate` table (`@dragonflow/app-ha-fallback`), every other app's controller
 * action becomes `reg15 := PUNT_ORIGIN_MARK | <punting table id>; resubmit(,gate)`,
 * so one table decides where punts go (the controller while it is alive, a fallback
 * chassis otherwise) and a packet-in from the gate still reaches the punting app.
 */
export const REG_PUNT_ORIGIN = 'reg15' satisfies OxmFieldName;
/** Bit 31 of REG_PUNT_ORIGIN: the packet is being punted (reg15 is 0 on every other packet). */
export const PUNT_ORIGIN_MARK = 0x8000_0000;
/** The punting table's id in REG_PUNT_ORIGIN. */
export const PUNT_ORIGIN_TABLE_MASK = 0xff;

/** Registers handed to apps that declare a need, exclusively, in config order. */
export const SCRATCH_REGISTERS = [
  'reg0',
  'reg1',
  'reg2',
  'reg3',
  'reg8',
  'reg9',
  'reg10',
  'reg11',
  'reg12',
  'reg13',
  'reg14',
] as const satisfies readonly OxmFieldName[];
export type ScratchRegister = (typeof SCRATCH_REGISTERS)[number];

/** Registers and metadata with a fixed meaning, for `dfctl pipeline` and the docs. */
export const FIXED_REGISTERS: readonly { field: string; name: string; meaning: string }[] = [
  { field: 'metadata[0..31]', name: 'network key', meaning: 'unique key of the current LogicalSwitch; 0 = none' },
  { field: REG_FLAGS, name: 'flags', meaning: 'bit 0 FROM_TUNNEL, bit 1 FROM_PROVIDER, bit 2 ROUTED, bit 3 NAT_DONE' },
  { field: REG_ROUTER, name: 'router key', meaning: 'unique key of the LogicalRouter routing the packet' },
  { field: REG_SRC_PORT, name: 'source port key', meaning: 'unique key of the LogicalPort the packet came from' },
  { field: REG_DST_PORT, name: 'destination port key', meaning: 'unique key of the LogicalPort the packet goes to' },
  { field: REG_PUNT_ORIGIN, name: 'punt origin', meaning: 'bit 31 set while a punt passes the punt gate, bits 0–7 the punting table (only with a puntGate app)' },
];

// ---------- cookies ----------

/**
 * cookie = app slot (bits 63–56) | owner kind (bits 55–48) | owner tag (bits 31–0);
 * bits 47–32 are zero (reserved). Port, network and router keys come from separate
 * key spaces (one counter per NB table), so the tag alone is ambiguous: the kind
 * says which space it is from, and (app, kind, tag) names one owner.
 */
export const COOKIE_SLOT_SHIFT = 56n;
export const COOKIE_SLOT_MASK = 0xff00_0000_0000_0000n;
export const COOKIE_KIND_SHIFT = 48n;
export const COOKIE_KIND_MASK = 0x00ff_0000_0000_0000n;
export const COOKIE_TAG_MASK = 0xffff_ffffn;
/** The core's cookie slot; apps get 1.. in config order. */
export const CORE_SLOT = 0;
export const MAX_APP_SLOTS = 255;

/**
 * Owner kinds in the cookie: `hash` for owners named only by text (the tag is a
 * hash of the text); otherwise the kind of model object whose unique key is the tag
 * — the names are the owner-text prefixes apps use (`port:<id>`, `network:<id>`, …).
 * `object` is a keyed owner that did not say which kind of object its key is from.
 */
export const OWNER_KINDS = {
  hash: 0,
  port: 1,
  network: 2,
  router: 3,
  subnet: 4,
  'security-group': 5,
  'floating-ip': 6,
  chassis: 7,
  object: 0xff,
} as const;
export type OwnerKind = keyof typeof OWNER_KINDS;

const KIND_BY_NUMBER: ReadonlyMap<number, OwnerKind> = new Map(Object.entries(OWNER_KINDS).map(([k, v]) => [v, k as OwnerKind]));

/** The kind an owner text names by its prefix (`port:…` → port), if it is one of OWNER_KINDS' object kinds. */
export function ownerKindOf(ownerText: string): OwnerKind | undefined {
  const colon = ownerText.indexOf(':');
  if (colon <= 0) return undefined;
  const prefix = ownerText.slice(0, colon);
  // own keys only: 'constructor:…' or 'toString:…' must not find Object.prototype's members
  return prefix !== 'hash' && prefix !== 'object' && Object.hasOwn(OWNER_KINDS, prefix) ? (prefix as OwnerKind) : undefined;
}

export function makeCookie(slot: number, tag: number, kind: number = OWNER_KINDS.hash): bigint {
  return (BigInt(slot & 0xff) << COOKIE_SLOT_SHIFT) | (BigInt(kind & 0xff) << COOKIE_KIND_SHIFT) | BigInt(tag >>> 0);
}

export function cookieSlot(cookie: bigint): number {
  return Number((cookie & COOKIE_SLOT_MASK) >> COOKIE_SLOT_SHIFT);
}

/** The owner kind's number in a cookie (OWNER_KINDS). */
export function cookieKind(cookie: bigint): number {
  return Number((cookie & COOKIE_KIND_MASK) >> COOKIE_KIND_SHIFT);
}

/** The owner kind's name in a cookie, or undefined for a number no kind has. */
export function cookieKindName(cookie: bigint): OwnerKind | undefined {
  return KIND_BY_NUMBER.get(cookieKind(cookie));
}

export function cookieTag(cookie: bigint): number {
  return Number(cookie & COOKIE_TAG_MASK);
}

/** The cookie mask that selects every flow of one app slot (for flow-stats and deletes). */
export const COOKIE_APP_MASK = COOKIE_SLOT_MASK;

/**
 * A stable 32-bit tag for an owner string (FNV-1a), used when the owner is not a
 * single model object with a unique key.
 */
export function ownerHash(owner: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < owner.length; i++) {
    h ^= owner.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
