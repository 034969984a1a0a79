import { Ipv4Address, IpNetwork, type MacAddress } from '@dragonflow/base';
import { packet } from '@dragonflow/core';

const { DhcpMessageType, DhcpOption, DHCP_FLAG_BROADCAST, dhcpDecode, dhcpEncode, dhcpMessage } = packet;
type DhcpMessage = packet.DhcpMessage;

/** What the server knows about the asking port: all of it comes from the NB. */
export interface LeaseFacts {
  /** The port's fixed IPv4 address on the subnet it asks about. */
  readonly address: Ipv4Address;
  readonly subnet: IpNetwork;
  /** Null: the subnet has no gateway (no router option, no default route). */
  readonly gateway: Ipv4Address | null;
  /** The network's DHCP port address on the subnet: the server id. */
  readonly serverIp: Ipv4Address;
  readonly serverMac: MacAddress;
  readonly dnsServers: readonly Ipv4Address[];
  /** IPv4 host routes of the subnet (option 121, with the default route when there is a gateway). */
  readonly hostRoutes: readonly packet.ClasslessRoute[];
  readonly mtu: number;
  readonly leaseSeconds: number;
  readonly domainName: string;
  readonly hostname: string;
  /** The port's extra_dhcp_opts (code → encoded value), sent when the client asks for them. */
  readonly extraOptions: ReadonlyMap<number, Uint8Array>;
}

export type DhcpOutcome =
  | { readonly kind: 'reply'; readonly type: 'OFFER' | 'ACK' | 'NAK'; readonly message: DhcpMessage; readonly dstIp: Ipv4Address; readonly dstMac: MacAddress }
  | { readonly kind: 'none'; readonly why: 'release' | 'decline' | 'other-server' | 'relayed' | 'not-a-request' | 'unknown-type' };

const BROADCAST = Ipv4Address.fromNumber(0xffff_ffff);
const ZERO = Ipv4Address.fromNumber(0);
const DEFAULT_ROUTE = IpNetwork.parse('0.0.0.0/0');

/**
 * A lease's encoded OFFER/ACK options by message type and the client's parameter
 * request list (a client asks with the same list every time): the caller keeps one
 * per lease and drops it when the lease's facts change.
 */
export type ReplyOptionsMemo = Map<string, ReadonlyMap<number, Uint8Array>>;
/** Distinct requests remembered per lease (a port has one client, or a few in turn). */
const MEMO_LIMIT = 8;

function messageType(m: DhcpMessage): number | undefined {
  const d = m.options.get(DhcpOption.MESSAGE_TYPE);
  return d?.length === 1 ? d[0] : undefined;
}

function optionalIp(m: DhcpMessage, code: number): Ipv4Address | undefined {
  const d = m.options.get(code);
  return d?.length === 4 ? dhcpDecode.ip(d) : undefined;
}

/** The options a lease carries, in the order dnsmasq sends them; extra ones only when asked for. */
function leaseOptions(f: LeaseFacts, type: number, requested: ReadonlySet<number>, inform: boolean): Map<number, Uint8Array> {
  const o = new Map<number, Uint8Array>();
  o.set(DhcpOption.MESSAGE_TYPE, dhcpEncode.u8(type));
  o.set(DhcpOption.SERVER_ID, dhcpEncode.ip(f.serverIp));
  // RFC 2131 §3.4: an ACK to an INFORM carries no lease time.
  if (!inform) {
    o.set(DhcpOption.LEASE_TIME, dhcpEncode.u32(f.leaseSeconds));
    o.set(DhcpOption.RENEWAL_TIME, dhcpEncode.u32(Math.floor(f.leaseSeconds / 2)));
    o.set(DhcpOption.REBINDING_TIME, dhcpEncode.u32(Math.floor((f.leaseSeconds * 7) / 8)));
  }
  o.set(DhcpOption.SUBNET_MASK, dhcpEncode.ip(f.subnet.netmask as Ipv4Address));
  o.set(DhcpOption.BROADCAST_ADDRESS, dhcpEncode.ip(f.subnet.broadcast as Ipv4Address));
  if (f.gateway) o.set(DhcpOption.ROUTER, dhcpEncode.ips([f.gateway]));
  if (f.dnsServers.length > 0) o.set(DhcpOption.DNS_SERVERS, dhcpEncode.ips(f.dnsServers));
  if (f.domainName) o.set(DhcpOption.DOMAIN_NAME, dhcpEncode.string(f.domainName));
  if (f.hostname) o.set(DhcpOption.HOSTNAME, dhcpEncode.string(f.hostname));
  o.set(DhcpOption.INTERFACE_MTU, dhcpEncode.u16(f.mtu));
  // RFC 3442: a client that gets option 121 ignores option 3, so the default route goes in it too.
  const routes = [...f.hostRoutes];
  if (f.gateway && !routes.some((r) => r.destination.prefixLength === 0)) routes.push({ destination: DEFAULT_ROUTE, nextHop: f.gateway });
  if (routes.length > 0 && (f.hostRoutes.length > 0 || requested.has(DhcpOption.CLASSLESS_STATIC_ROUTES))) {
    o.set(DhcpOption.CLASSLESS_STATIC_ROUTES, dhcpEncode.routes(routes));
  }
  for (const [code, data] of f.extraOptions) if (requested.has(code)) o.set(code, data);
  return o;
}

/** The options of an OFFER or ACK, from `memo` when this lease answered the same request before. */
function replyOptions(req: DhcpMessage, f: LeaseFacts, code: number, inform: boolean, memo: ReplyOptionsMemo | undefined): ReadonlyMap<number, Uint8Array> {
  const asked = req.options.get(DhcpOption.PARAMETER_REQUEST_LIST);
  // The list as one char per code (a cheaper key than a joined list: this runs per message).
  const key = memo ? `${code}${inform ? 'i' : ''}:${asked ? String.fromCharCode.apply(null, asked as unknown as number[]) : ''}` : '';
  const known = memo?.get(key);
  if (known) return known;
  const options = leaseOptions(f, code, new Set(asked ?? []), inform);
  if (memo) {
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(key, options);
  }
  return options;
}

function reply(req: DhcpMessage, f: LeaseFacts, type: 'OFFER' | 'ACK' | 'NAK', inform = false, memo?: ReplyOptionsMemo): DhcpOutcome {
  const code = DhcpMessageType[type];
  const options =
    type === 'NAK'
      ? new Map([
          [DhcpOption.MESSAGE_TYPE, dhcpEncode.u8(code)],
          [DhcpOption.SERVER_ID, dhcpEncode.ip(f.serverIp)],
          [DhcpOption.MESSAGE, dhcpEncode.string('address not assigned to this port')],
        ])
      : replyOptions(req, f, code, inform, memo);
  const message = dhcpMessage({
    op: 2,
    xid: req.xid,
    flags: req.flags,
    chaddr: req.chaddr,
    ciaddr: inform ? req.ciaddr : ZERO,
    yiaddr: type === 'NAK' || inform ? ZERO : f.address,
    siaddr: type === 'NAK' ? ZERO : f.serverIp,
    options,
  });
  // RFC 2131 §4.1: NAKs are broadcast; a client with an address (renewing, INFORM) gets
  // unicast to it; one without, unicast to the offered address unless it set the broadcast bit.
  let dstIp: Ipv4Address;
  if (type === 'NAK') dstIp = BROADCAST;
  else if (req.ciaddr.value !== 0) dstIp = req.ciaddr;
  else if (req.flags & DHCP_FLAG_BROADCAST) dstIp = BROADCAST;
  else dstIp = f.address;
  return { kind: 'reply', type, message, dstIp, dstMac: req.chaddr };
}

/**
 * The server's answer to one client message (RFC 2131 §4.3), for a port whose
 * address is fixed by the NB: DISCOVER → OFFER of that address; REQUEST → ACK when
 * it asks for that address (selecting, init-reboot, renewing, rebinding), NAK when
 * it asks for another; INFORM → ACK with configuration only; DECLINE and RELEASE
 * get no answer (the address stays the port's: it is not the server's to give away).
 * Relayed requests (giaddr set) are not served: the server is on the client's own link.
 */
export function respond(req: DhcpMessage, f: LeaseFacts, memo?: ReplyOptionsMemo): DhcpOutcome {
  if (req.op !== 1) return { kind: 'none', why: 'not-a-request' };
  if (req.giaddr.value !== 0) return { kind: 'none', why: 'relayed' };
  const server = optionalIp(req, DhcpOption.SERVER_ID);
  switch (messageType(req)) {
    case DhcpMessageType.DISCOVER:
      return reply(req, f, 'OFFER', false, memo);
    case DhcpMessageType.REQUEST: {
      // SELECTING: the client answers an offer; one naming another server declines ours.
      if (server && !server.equals(f.serverIp)) return { kind: 'none', why: 'other-server' };
      const asked = optionalIp(req, DhcpOption.REQUESTED_IP) ?? (req.ciaddr.value !== 0 ? req.ciaddr : undefined);
      return asked && asked.equals(f.address) ? reply(req, f, 'ACK', false, memo) : reply(req, f, 'NAK');
    }
    case DhcpMessageType.INFORM:
      return reply(req, f, 'ACK', true, memo);
    case DhcpMessageType.DECLINE:
      return { kind: 'none', why: 'decline' };
    case DhcpMessageType.RELEASE:
      return { kind: 'none', why: 'release' };
    default:
      return { kind: 'none', why: 'unknown-type' };
  }
}
