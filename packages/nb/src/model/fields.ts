import { IpNetwork, MacAddress, describeError, parseIp } from '@dragonflow/base';
import { z } from 'zod';

/**
 * Field schemas shared by the model. Values are stored as JSON-friendly strings in a
 * canonical form (lower-case MAC, compressed IPv6, CIDR with host bits zero); the
 * typed accessors in `accessors.ts` turn them into @dragonflow/base values.
 */

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const uuidField = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => UUID_RE.test(s), { message: 'must be a UUID (8-4-4-4-12 hex digits)' });

/** A project (tenant) id: Neutron uses 32 hex digits, Keystone-less setups any short token. */
export const projectIdField = z
  .string()
  .max(255, 'must be at most 255 characters')
  .regex(/^[A-Za-z0-9_.:@-]*$/, 'may only hold letters, digits and _ . : @ -');

export const nameField = z.string().max(255, 'must be at most 255 characters');
export const descriptionField = z.string().max(1024, 'must be at most 1024 characters');
/** Neutron's standard-attr-tag: free-form labels, each at most 255 characters, no duplicates. */
export const tagsField = z
  .array(z.string().min(1, 'must not be empty').max(255, 'must be at most 255 characters'))
  .max(1000, 'must hold at most 1000 tags')
  .refine((tags) => new Set(tags).size === tags.length, { message: 'must not repeat a tag' });

function canonical(parse: (s: string) => { toString(): string }) {
  return z.string().transform((s, ctx) => {
    try {
      return parse(s).toString();
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: describeError(e).replace(/ \(field=.*\)$/, '') });
      return z.NEVER;
    }
  });
}

/** A unicast Ethernet address, stored as aa:bb:cc:dd:ee:ff. */
export const macField = z.string().transform((s, ctx) => {
  if (!MacAddress.isValid(s)) {
    ctx.addIssue({ code: 'custom', message: `'${s}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)` });
    return z.NEVER;
  }
  const mac = MacAddress.parse(s);
  if (mac.isMulticast) {
    ctx.addIssue({ code: 'custom', message: `'${s}' is a multicast/broadcast MAC; a port needs a unicast one` });
    return z.NEVER;
  }
  return mac.toString();
});

export const ipField = canonical((s) => parseIp(s));
/** A CIDR with host bits zero (Neutron's rule for subnets and routes). */
export const cidrField = canonical((s) => IpNetwork.parse(s));
/** An address or a CIDR (allowed address pairs accept both). */
export const ipOrCidrField = canonical((s) => (s.includes('/') ? IpNetwork.parse(s, 'ip_address', false) : parseIp(s)));
export const timestampField = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'must be an ISO-8601 timestamp' });

/** The small integer id the pipeline uses in registers, metadata and tunnel keys. */
export const MAX_UNIQUE_KEY = 0xffffff;
export const uniqueKeyField = z.number().int('must be an integer').min(1, 'must be at least 1').max(MAX_UNIQUE_KEY, `must be at most ${MAX_UNIQUE_KEY}`);
