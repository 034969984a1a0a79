import { DfError } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';
import type { JsonValue } from './jsonrpc.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NAMED_UUID_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A row reference: `["uuid", "<36 chars>"]` on the wire. */
export class Uuid {
  readonly value: string;

  constructor(value: string) {
    const v = value.toLowerCase();
    if (!UUID_RE.test(v)) throw new DfError(OvsdbErrorCode.VALUE, `'${value}' is not a UUID`, { context: { value } });
    this.value = v;
  }

  equals(other: unknown): boolean {
    return other instanceof Uuid && other.value === this.value;
  }

  toString(): string {
    return this.value;
  }

  toJSON(): JsonValue {
    return ['uuid', this.value];
  }
}

/** A reference to a row inserted earlier in the same transaction: `["named-uuid", "name"]`. */
export class NamedUuid {
  readonly name: string;

  constructor(name: string) {
    if (!NAMED_UUID_RE.test(name)) throw new DfError(OvsdbErrorCode.VALUE, `'${name}' is not a valid uuid-name (letters, digits, _)`, { context: { name } });
    this.name = name;
  }

  equals(other: unknown): boolean {
    return other instanceof NamedUuid && other.name === this.name;
  }

  toString(): string {
    return this.name;
  }

  toJSON(): JsonValue {
    return ['named-uuid', this.name];
  }
}

export type Atom = string | number | boolean | Uuid | NamedUuid;
/** Sets are arrays; maps are `Map`s. A column's schema says which one a value is. */
export type OvsdbSet = readonly Atom[];
export type OvsdbMap = ReadonlyMap<Atom, Atom>;
export type OvsdbValue = Atom | OvsdbSet | OvsdbMap;
/** What callers may pass: also a plain object for a string-keyed map. */
export type OvsdbValueInput = OvsdbValue | Readonly<Record<string, Atom>>;

export function isAtom(v: unknown): v is Atom {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || v instanceof Uuid || v instanceof NamedUuid;
}

/** A string that identifies an atom by value (for set membership and map keys). */
export function atomKey(a: Atom): string {
  if (a instanceof Uuid) return `u:${a.value}`;
  if (a instanceof NamedUuid) return `n:${a.name}`;
  return `${typeof a}:${String(a)}`;
}

export function atomsEqual(a: Atom, b: Atom): boolean {
  return atomKey(a) === atomKey(b);
}

export function encodeAtom(a: Atom): JsonValue {
  if (a instanceof Uuid || a instanceof NamedUuid) return a.toJSON();
  if (typeof a === 'number' && !Number.isFinite(a)) throw new DfError(OvsdbErrorCode.VALUE, `${a} is not a valid OVSDB number`);
  return a;
}

/** Encodes a value in RFC 7047 §5.1 notation. Arrays become sets, Maps and plain objects maps. */
export function encodeValue(v: OvsdbValueInput): JsonValue {
  if (isAtom(v)) return encodeAtom(v);
  if (Array.isArray(v)) return ['set', (v as readonly Atom[]).map(encodeAtom)];
  if (v instanceof Map) return ['map', [...(v as OvsdbMap)].map(([k, val]) => [encodeAtom(k), encodeAtom(val)])];
  if (typeof v === 'object' && v !== null) {
    return ['map', Object.entries(v as Record<string, Atom>).map(([k, val]) => [k, encodeAtom(val)])];
  }
  throw new DfError(OvsdbErrorCode.VALUE, `cannot encode ${String(v)} as an OVSDB value`);
}

export function decodeAtom(json: unknown, where: string): Atom {
  if (typeof json === 'string' || typeof json === 'boolean') return json;
  if (typeof json === 'number') return json;
  if (Array.isArray(json) && json.length === 2 && typeof json[1] === 'string') {
    try {
      if (json[0] === 'uuid') return new Uuid(json[1]);
      if (json[0] === 'named-uuid') return new NamedUuid(json[1]);
    } catch (cause) {
      throw new DfError(OvsdbErrorCode.VALUE, `bad ${String(json[0])} at ${where}`, { cause, context: { where } });
    }
  }
  throw new DfError(OvsdbErrorCode.VALUE, `not an OVSDB atom at ${where}: ${JSON.stringify(json)?.slice(0, 100)}`, { context: { where } });
}

/** Decodes RFC 7047 value notation without a schema: a lone atom stays an atom. */
export function decodeValue(json: unknown, where = 'value'): OvsdbValue {
  if (Array.isArray(json) && json.length === 2 && json[0] === 'set') {
    if (!Array.isArray(json[1])) throw new DfError(OvsdbErrorCode.VALUE, `"set" needs an array at ${where}`, { context: { where } });
    return json[1].map((a, i) => decodeAtom(a, `${where}[${i}]`));
  }
  if (Array.isArray(json) && json.length === 2 && json[0] === 'map') {
    if (!Array.isArray(json[1])) throw new DfError(OvsdbErrorCode.VALUE, `"map" needs an array at ${where}`, { context: { where } });
    const out = new Map<Atom, Atom>();
    json[1].forEach((pair: unknown, i: number) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new DfError(OvsdbErrorCode.VALUE, `map entry must be [key, value] at ${where}[${i}]`, { context: { where } });
      }
      out.set(decodeAtom(pair[0], `${where}[${i}].key`), decodeAtom(pair[1], `${where}[${i}].value`));
    });
    return out;
  }
  return decodeAtom(json, where);
}

/** Structural equality of two values (sets compare as sets, maps as maps). */
export function valuesEqual(a: OvsdbValue, b: OvsdbValue): boolean {
  if (isAtom(a) || isAtom(b)) return isAtom(a) && isAtom(b) && atomsEqual(a, b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return false;
    const sa = new Set((a as readonly Atom[]).map(atomKey));
    const sb = new Set((b as readonly Atom[]).map(atomKey));
    return sa.size === sb.size && [...sa].every((k) => sb.has(k));
  }
  const ma = a as OvsdbMap;
  const mb = b as OvsdbMap;
  if (ma.size !== mb.size) return false;
  const byKey = new Map<string, Atom>();
  for (const [k, v] of mb) byKey.set(atomKey(k), v);
  for (const [k, v] of ma) {
    const other = byKey.get(atomKey(k));
    if (other === undefined || !atomsEqual(v, other)) return false;
  }
  return true;
}

/** A string-to-string map (external_ids, other_config, options, status) as a plain object. */
export function mapToRecord(v: OvsdbValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (v instanceof Map) for (const [k, val] of v) out[String(k)] = String(val);
  return out;
}

/** The single element of an optional (min 0, max 1) column, or undefined. */
export function optional<T extends Atom>(v: OvsdbValue | undefined): T | undefined {
  if (Array.isArray(v)) return (v as readonly Atom[])[0] as T | undefined;
  if (isAtom(v)) return v as T;
  return undefined;
}

/** The elements of a set column (a lone atom counts as a set of one). */
export function setOf<T extends Atom>(v: OvsdbValue | undefined): T[] {
  if (Array.isArray(v)) return [...(v as readonly T[])];
  if (isAtom(v)) return [v as T];
  return [];
}
