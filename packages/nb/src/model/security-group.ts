import { IpNetwork } from '@dragonflow/base';
import { z } from 'zod';
import { baseFields, issue } from './base.js';
import { uniqueKeyField, uuidField } from './fields.js';

/** Protocol names accepted in rules, with their IP protocol numbers. */
export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  'ipv6-icmp': 58,
  sctp: 132,
};
const PORTED = new Set([6, 17, 132]);
const ICMP = new Set([1, 58]);

/** The IP protocol number a rule's protocol names (null: any protocol). */
export function protocolNumber(protocol: string | null): number | null {
  if (protocol === null) return null;
  return PROTOCOL_NUMBERS[protocol] ?? Number(protocol);
}

const protocolField = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .refine((s) => s in PROTOCOL_NUMBERS || (/^\d{1,3}$/.test(s) && Number(s) <= 255), {
    message: `must be a protocol name (${Object.keys(PROTOCOL_NUMBERS).join(', ')}) or a number 0..255`,
  });

const portNumber = z.number().int('must be an integer').min(0, 'must be at least 0').max(65535, 'must be at most 65535');

export const securityGroupRuleSchema = z
  .object({
    id: uuidField,
    direction: z.enum(['ingress', 'egress']),
    ethertype: z.enum(['IPv4', 'IPv6']).default('IPv4'),
    protocol: protocolField.nullable().default(null),
    /** tcp/udp/sctp: first port; icmp: the type. */
    portRangeMin: portNumber.nullable().default(null),
    /** tcp/udp/sctp: last port; icmp: the code. */
    portRangeMax: portNumber.nullable().default(null),
    remoteIpPrefix: z
      .string()
      .transform((s, ctx) => {
        try {
          return IpNetwork.parse(s, 'remoteIpPrefix', false).toString();
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
          return z.NEVER;
        }
      })
      .nullable()
      .default(null),
    remoteGroupId: uuidField.nullable().default(null),
    description: z.string().max(1024).default(''),
  })
  .strict()
  .superRefine((r, ctx) => {
    const proto = protocolNumber(r.protocol);
    if (r.remoteIpPrefix !== null && r.remoteGroupId !== null) issue(ctx, ['remoteGroupId'], 'cannot be combined with remoteIpPrefix');
    if (r.remoteIpPrefix !== null) {
      const fam = IpNetwork.parse(r.remoteIpPrefix).family;
      if (`IPv${fam}` !== r.ethertype) issue(ctx, ['remoteIpPrefix'], `${r.remoteIpPrefix} does not match ethertype ${r.ethertype}`);
    }
    if (proto !== null && ICMP.has(proto)) {
      if ((proto === 1) !== (r.ethertype === 'IPv4')) issue(ctx, ['protocol'], `${r.protocol} does not match ethertype ${r.ethertype}`);
      if (r.portRangeMin !== null && r.portRangeMin > 255) issue(ctx, ['portRangeMin'], 'is the ICMP type and must be 0..255');
      if (r.portRangeMax !== null && r.portRangeMax > 255) issue(ctx, ['portRangeMax'], 'is the ICMP code and must be 0..255');
      if (r.portRangeMax !== null && r.portRangeMin === null) issue(ctx, ['portRangeMax'], 'an ICMP code needs an ICMP type in portRangeMin');
    } else if (proto !== null && PORTED.has(proto)) {
      if (r.portRangeMin !== null && r.portRangeMin < 1) issue(ctx, ['portRangeMin'], 'must be 1..65535');
      if (r.portRangeMax !== null && r.portRangeMax < 1) issue(ctx, ['portRangeMax'], 'must be 1..65535');
      if ((r.portRangeMin === null) !== (r.portRangeMax === null)) {
        issue(ctx, [r.portRangeMin === null ? 'portRangeMin' : 'portRangeMax'], 'a port range needs both portRangeMin and portRangeMax');
      } else if (r.portRangeMin !== null && r.portRangeMax !== null && r.portRangeMin > r.portRangeMax) {
        issue(ctx, ['portRangeMin'], `${r.portRangeMin} is greater than portRangeMax ${r.portRangeMax}`);
      }
    } else if (r.portRangeMin !== null || r.portRangeMax !== null) {
      issue(ctx, [r.portRangeMin !== null ? 'portRangeMin' : 'portRangeMax'], `port ranges only apply to tcp, udp, sctp and icmp, not ${r.protocol ?? 'any protocol'}`);
    }
  });

/** The fields that make two rules the same rule (Neutron refuses duplicates). */
export function ruleIdentity(r: z.output<typeof securityGroupRuleSchema>): string {
  return [r.direction, r.ethertype, protocolNumber(r.protocol) ?? '*', r.portRangeMin ?? '*', r.portRangeMax ?? '*', r.remoteIpPrefix ?? '*', r.remoteGroupId ?? '*'].join('|');
}

/** `key` identifies the group in flows (conjunction ids, remote-group matches). */
export const securityGroupSchema = z
  .object({
    ...baseFields,
    key: uniqueKeyField,
    stateful: z.boolean().default(true),
    rules: z.array(securityGroupRuleSchema).default([]),
  })
  .strict()
  .superRefine((g, ctx) => {
    const ids = new Map<string, number>();
    const same = new Map<string, number>();
    g.rules.forEach((r, i) => {
      const prevId = ids.get(r.id);
      if (prevId !== undefined) issue(ctx, ['rules', i, 'id'], `rule id ${r.id} is used twice (also rules[${prevId}])`);
      ids.set(r.id, i);
      const k = ruleIdentity(r);
      const prev = same.get(k);
      if (prev !== undefined) issue(ctx, ['rules', i], `duplicates rules[${prev}]`);
      same.set(k, i);
    });
  });
