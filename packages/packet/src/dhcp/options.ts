import { DfError, Ipv4Address, IpNetwork } from '@dragonflow/base';
import { PacketDecodeError, PacketEncodeError } from '../errors.js';

/** DHCPv4 option codes the project reads or writes (RFC 2132, 3442, 3397). */
export const DhcpOption = {
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  INTERFACE_MTU: 26,
  BROADCAST_ADDRESS: 28,
  STATIC_ROUTES: 33,
  NTP_SERVERS: 42,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  DOMAIN_SEARCH: 119,
  CLASSLESS_STATIC_ROUTES: 121,
} as const;

/** How an option's value is written: the shape of its data (RFC 2132's kinds). */
export type DhcpOptionKind = 'ip' | 'ips' | 'u8' | 'u16' | 'u32' | 'string' | 'bool' | 'routes' | 'domains' | 'hex';

export interface ClasslessRoute {
  readonly destination: IpNetwork;
  readonly nextHop: Ipv4Address;
}

const fail = (message: string, option: number | string): never => {
  throw new PacketEncodeError(message, { option });
};

export const dhcpEncode = {
  ip: (a: Ipv4Address): Uint8Array => a.toBytes(),
  ips: (list: readonly Ipv4Address[]): Uint8Array => {
    const out = new Uint8Array(list.length * 4);
    list.forEach((a, i) => a.writeTo(out, i * 4));
    return out;
  },
  u8: (n: number): Uint8Array => Uint8Array.of(n & 0xff),
  u16: (n: number): Uint8Array => Uint8Array.of((n >>> 8) & 0xff, n & 0xff),
  u32: (n: number): Uint8Array => {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, n >>> 0);
    return out;
  },
  string: (s: string): Uint8Array => new TextEncoder().encode(s),
  bool: (b: boolean): Uint8Array => Uint8Array.of(b ? 1 : 0),
  /** RFC 3442: per route, the prefix length, the significant octets of the destination, the router. */
  routes: (routes: readonly ClasslessRoute[]): Uint8Array => {
    const parts: number[] = [];
    for (const r of routes) {
      if (r.destination.family !== 4) fail(`classless route ${r.destination.toString()} is not IPv4`, DhcpOption.CLASSLESS_STATIC_ROUTES);
      const prefix = r.destination.prefixLength;
      parts.push(prefix, ...r.destination.first.toBytes().subarray(0, Math.ceil(prefix / 8)), ...r.nextHop.toBytes());
    }
    return Uint8Array.from(parts);
  },
  /** RFC 1035 §3.1 names without compression (RFC 3397 allows it; clients accept none). */
  domains: (names: readonly string[]): Uint8Array => {
    const parts: number[] = [];
    for (const name of names) {
      for (const label of name.replace(/\.$/, '').split('.')) {
        const b = new TextEncoder().encode(label);
        if (b.length === 0 || b.length > 63) fail(`domain '${name}' has a label of ${b.length} bytes (1..63)`, DhcpOption.DOMAIN_SEARCH);
        parts.push(b.length, ...b);
      }
      parts.push(0);
    }
    return Uint8Array.from(parts);
  },
  hex: (s: string): Uint8Array => {
    const clean = s.replace(/[:\s]/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(clean)) fail(`'${s}' is not hex bytes`, 'hex');
    return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
  },
};

const need = (data: Uint8Array, n: number, what: string): void => {
  if (data.length !== n) throw new PacketDecodeError(`DHCP ${what} has ${data.length} bytes, expected ${n}`, 0, { option: what });
};

export const dhcpDecode = {
  ip: (d: Uint8Array): Ipv4Address => (need(d, 4, 'address'), Ipv4Address.fromBytes(d)),
  ips: (d: Uint8Array): Ipv4Address[] => {
    if (d.length % 4 !== 0) throw new PacketDecodeError(`DHCP address list of ${d.length} bytes is not a multiple of 4`, 0);
    return Array.from({ length: d.length / 4 }, (_, i) => Ipv4Address.fromBytes(d, i * 4));
  },
  u8: (d: Uint8Array): number => (need(d, 1, 'u8'), d[0]!),
  u16: (d: Uint8Array): number => (need(d, 2, 'u16'), (d[0]! << 8) | d[1]!),
  u32: (d: Uint8Array): number => (need(d, 4, 'u32'), new DataView(d.buffer, d.byteOffset, 4).getUint32(0)),
  string: (d: Uint8Array): string => new TextDecoder().decode(d),
  routes: (d: Uint8Array): ClasslessRoute[] => {
    const out: ClasslessRoute[] = [];
    let i = 0;
    while (i < d.length) {
      const prefix = d[i]!;
      if (prefix > 32) throw new PacketDecodeError(`classless route prefix /${prefix} > 32`, i);
      const sig = Math.ceil(prefix / 8);
      if (i + 1 + sig + 4 > d.length) throw new PacketDecodeError('classless route truncated', i);
      const dest = new Uint8Array(4);
      dest.set(d.subarray(i + 1, i + 1 + sig));
      out.push({ destination: IpNetwork.of(Ipv4Address.fromBytes(dest), prefix), nextHop: Ipv4Address.fromBytes(d, i + 1 + sig) });
      i += 1 + sig + 4;
    }
    return out;
  },
};

/**
 * Options a tenant may set by name through Neutron's `extra_dhcp_opts`. Names are
 * dnsmasq's (what Neutron's reference DHCP agent accepts); a number (`"42"`) or
 * `option:NAME` works too. Values are text, encoded by the option's kind.
 */
export const EXTRA_DHCP_OPTIONS: Readonly<Record<string, { readonly code: number; readonly kind: DhcpOptionKind }>> = {
  netmask: { code: 1, kind: 'ip' },
  'time-offset': { code: 2, kind: 'u32' },
  router: { code: 3, kind: 'ips' },
  'dns-server': { code: 6, kind: 'ips' },
  'log-server': { code: 7, kind: 'ips' },
  'lpr-server': { code: 9, kind: 'ips' },
  hostname: { code: 12, kind: 'string' },
  'boot-file-size': { code: 13, kind: 'u16' },
  'domain-name': { code: 15, kind: 'string' },
  'swap-server': { code: 16, kind: 'ip' },
  'root-path': { code: 17, kind: 'string' },
  'extension-path': { code: 18, kind: 'string' },
  'ip-forward-enable': { code: 19, kind: 'bool' },
  'default-ttl': { code: 23, kind: 'u8' },
  mtu: { code: 26, kind: 'u16' },
  'broadcast': { code: 28, kind: 'ip' },
  'router-discovery': { code: 31, kind: 'bool' },
  'router-solicitation': { code: 32, kind: 'ip' },
  'nis-domain': { code: 40, kind: 'string' },
  'nis-server': { code: 41, kind: 'ips' },
  'ntp-server': { code: 42, kind: 'ips' },
  'vendor-encap': { code: 43, kind: 'hex' },
  'netbios-ns': { code: 44, kind: 'ips' },
  'netbios-dd': { code: 45, kind: 'ips' },
  'netbios-nodetype': { code: 46, kind: 'u8' },
  'netbios-scope': { code: 47, kind: 'string' },
  'x-windows-fs': { code: 48, kind: 'ips' },
  'x-windows-dm': { code: 49, kind: 'ips' },
  'lease-time': { code: 51, kind: 'u32' },
  'T1': { code: 58, kind: 'u32' },
  'T2': { code: 59, kind: 'u32' },
  'nis+-domain': { code: 64, kind: 'string' },
  'nis+-server': { code: 65, kind: 'ips' },
  'tftp-server': { code: 66, kind: 'string' },
  'bootfile-name': { code: 67, kind: 'string' },
  'mobile-ip-home': { code: 68, kind: 'ips' },
  'smtp-server': { code: 69, kind: 'ips' },
  'pop3-server': { code: 70, kind: 'ips' },
  'nntp-server': { code: 71, kind: 'ips' },
  'irc-server': { code: 74, kind: 'ips' },
  'user-class': { code: 77, kind: 'string' },
  'domain-search': { code: 119, kind: 'domains' },
  'classless-static-route': { code: 121, kind: 'routes' },
  'tftp-server-address': { code: 150, kind: 'ips' },
  'server-ip-address': { code: 150, kind: 'ips' },
  'ntp-servers': { code: 42, kind: 'ips' },
};

/** Options only the server decides; a tenant's extra_dhcp_opts cannot replace them. */
const RESERVED = new Set<number>([DhcpOption.MESSAGE_TYPE, DhcpOption.SERVER_ID, DhcpOption.REQUESTED_IP, DhcpOption.PARAMETER_REQUEST_LIST, DhcpOption.CLIENT_ID, 52, 0, 255]);

/** Kinds by code, for an option named by number (`"42"`): the well-known kind, else raw text. */
const KIND_BY_CODE = new Map<number, DhcpOptionKind>(Object.values(EXTRA_DHCP_OPTIONS).map((o) => [o.code, o.kind]));

/**
 * Turns one Neutron `extra_dhcp_opt` (`opt_name`, `opt_value`) into a DHCPv4 option.
 * Throws a DfError naming the option when the name is unknown or the value does not
 * fit its kind (df-api calls this to refuse bad input before it is stored).
 */
export function encodeExtraDhcpOption(name: string, value: string): { code: number; data: Uint8Array } {
  const bare = name.startsWith('option:') ? name.slice('option:'.length) : name;
  let code: number;
  let kind: DhcpOptionKind;
  if (/^\d+$/.test(bare)) {
    code = Number(bare);
    kind = KIND_BY_CODE.get(code) ?? 'string';
  } else {
    const known = EXTRA_DHCP_OPTIONS[bare];
    if (!known) throw new DfError('DHCP_OPTION_UNKNOWN', `extra_dhcp_opts: unknown DHCP option '${name}' (use a number, or one of ${Object.keys(EXTRA_DHCP_OPTIONS).join(', ')})`, { context: { field: 'opt_name', value: name } });
    ({ code, kind } = known);
  }
  if (code < 1 || code > 254 || RESERVED.has(code)) throw new DfError('DHCP_OPTION_RESERVED', `extra_dhcp_opts: option ${name} (${code}) is set by the DHCP server and cannot be overridden`, { context: { field: 'opt_name', value: name } });
  const bad = (why: string): never => {
    throw new DfError('DHCP_OPTION_VALUE', `extra_dhcp_opts: option ${name} (${code}) ${why}: '${value}'`, { context: { field: 'opt_value', option: name } });
  };
  const int = (max: number): number => {
    if (!/^\d+$/.test(value.trim()) || Number(value) > max) bad(`needs an integer 0..${max}`);
    return Number(value);
  };
  const ip = (text: string): Ipv4Address => {
    try {
      return Ipv4Address.parse(text.trim());
    } catch {
      return bad('needs IPv4 addresses');
    }
  };
  let data: Uint8Array;
  switch (kind) {
    case 'ip':
      data = dhcpEncode.ip(ip(value));
      break;
    case 'ips':
      data = dhcpEncode.ips(value.split(',').map(ip));
      break;
    case 'u8':
      data = dhcpEncode.u8(int(0xff));
      break;
    case 'u16':
      data = dhcpEncode.u16(int(0xffff));
      break;
    case 'u32':
      data = dhcpEncode.u32(int(0xffff_ffff));
      break;
    case 'bool':
      if (!/^(0|1|true|false)$/i.test(value)) bad('needs 0/1 or true/false');
      data = dhcpEncode.bool(/^(1|true)$/i.test(value));
      break;
    case 'domains':
      data = dhcpEncode.domains(value.split(',').map((s) => s.trim()).filter(Boolean));
      break;
    case 'hex':
      try {
        data = dhcpEncode.hex(value);
      } catch {
        return bad('needs hex bytes (e.g. 01:02:0a)');
      }
      break;
    case 'routes': {
      // dnsmasq's form: destination,router[,destination,router…]
      const parts = value.split(',').map((s) => s.trim());
      if (parts.length % 2 !== 0) bad('needs destination/prefix,router pairs');
      const routes: ClasslessRoute[] = [];
      for (let i = 0; i < parts.length; i += 2) {
        let destination: IpNetwork;
        try {
          destination = IpNetwork.parse(parts[i]!, 'destination');
        } catch {
          return bad(`has '${parts[i]}', not an IPv4 prefix`);
        }
        if (destination.family !== 4) bad(`has '${parts[i]}', not an IPv4 prefix`);
        routes.push({ destination, nextHop: ip(parts[i + 1]!) });
      }
      data = dhcpEncode.routes(routes);
      break;
    }
    case 'string':
      data = dhcpEncode.string(value);
      break;
  }
  if (data.length > 1020) bad(`is ${data.length} bytes encoded; at most 1020`);
  return { code, data };
}
