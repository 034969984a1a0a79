import { createHash, randomUUID } from 'node:crypto';

/** A random (version 4) UUID. */
export function newId(): string {
  return randomUUID();
}

/** Namespace of chassis ids (a fixed random UUID). */
const CHASSIS_NAMESPACE = '6f0d4a7e-53a4-4d5c-9a57-0f6b3c1c2f11';

/** A name-based (version 5, SHA-1) UUID of `name` in `namespace` (RFC 4122 §4.3). */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The id of the chassis called `name`: stable, so a restarted controller finds its own record. */
export function chassisIdFromName(name: string): string {
  return uuidV5(CHASSIS_NAMESPACE, name);
}
