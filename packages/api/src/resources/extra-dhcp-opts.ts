import { isDfError } from '@dragonflow/base';
import type { LogicalPort } from '@dragonflow/nb';
import { encodeExtraDhcpOption } from '@dragonflow/packet';
import { badAttribute } from '../neutron/errors.js';

type ExtraDhcpOpt = LogicalPort['extraDhcpOpts'][number];

/** How many extra DHCP options one port may carry (each is answered in every lease). */
export const MAX_EXTRA_DHCP_OPTS = 32;

export interface ExtraDhcpOptRequest {
  readonly opt_name: string;
  readonly opt_value?: string | null;
  readonly ip_version?: number | string | null;
}

function ipVersionOf(v: ExtraDhcpOptRequest['ip_version'], i: number): 4 | 6 {
  if (v === undefined || v === null) return 4;
  const n = typeof v === 'string' ? Number(v.trim()) : v;
  if (n !== 4 && n !== 6) throw badAttribute(`extra_dhcp_opts[${i}].ip_version`, `'${String(v)}' is not 4 or 6`);
  return n;
}

/**
 * Neutron's extra_dhcp_opt semantics: entries are keyed by (opt_name, ip_version); on
 * update an entry replaces the same key, and one with a null opt_value removes it.
 * IPv4 values must encode for their option (typed: addresses, integers, routes…), so a
 * value the DHCP server could not send is refused here, naming the entry.
 */
export function mergeExtraDhcpOpts(current: readonly ExtraDhcpOpt[], requested: readonly ExtraDhcpOptRequest[] | null | undefined): ExtraDhcpOpt[] {
  const out = new Map<string, ExtraDhcpOpt>(current.map((o) => [`${o.ipVersion}/${o.optName}`, o]));
  (requested ?? []).forEach((r, i) => {
    const name = r.opt_name.trim();
    if (name === '') throw badAttribute(`extra_dhcp_opts[${i}].opt_name`, 'must not be empty');
    const ipVersion = ipVersionOf(r.ip_version, i);
    const key = `${ipVersion}/${name}`;
    if (r.opt_value === null || r.opt_value === undefined) {
      out.delete(key);
      return;
    }
    if (ipVersion === 4) {
      try {
        encodeExtraDhcpOption(name, r.opt_value);
      } catch (err) {
        if (!isDfError(err)) throw err;
        const field = (err.context as { field?: string }).field === 'opt_name' ? 'opt_name' : 'opt_value';
        throw badAttribute(`extra_dhcp_opts[${i}].${field}`, err.message.replace(/^extra_dhcp_opts: /, ''));
      }
    }
    out.set(key, { optName: name, optValue: r.opt_value, ipVersion });
  });
  if (out.size > MAX_EXTRA_DHCP_OPTS) throw badAttribute('extra_dhcp_opts', `a port may carry at most ${MAX_EXTRA_DHCP_OPTS} options (${out.size} requested)`);
  return [...out.values()];
}

