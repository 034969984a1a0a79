import type { IpNetwork, Ipv6Address } from '@dragonflow/base';
import { packet } from '@dragonflow/core';

const { Dhcp6Option: O, Dhcp6Type: T, Dhcp6Status: S } = packet;

/** What the server tells one port: from the NB (its stateful address, its subnets' DNS servers) and the app's options. */
export interface V6LeaseFacts {
  readonly serverDuid: Uint8Array;
  /** The port's address on a dhcpv6-stateful subnet (IA_NA), or null: stateless configuration only. */
  readonly address: Ipv6Address | null;
  /** The port's IPv6 prefixes served here (a Confirm's addresses must be in one). */
  readonly prefixes: readonly IpNetwork[];
  readonly dnsServers: readonly Ipv6Address[];
  readonly domains: readonly string[];
  readonly leaseSeconds: number;
}

export type Dhcp6Outcome = { readonly kind: 'none'; readonly why: string } | { readonly kind: 'reply'; readonly message: packet.Dhcp6Message };

const none = (why: string): Dhcp6Outcome => ({ kind: 'none', why });
const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A DHCPv6 server's answer to one client message (RFC 8415 §18.3), or none: a
 * message the RFC says to discard (a missing client id, a server id that is not
 * ours where one is required, one where none may be), a server's own message,
 * a Confirm with no addresses. Solicit → Advertise (Reply with rapid commit when the
 * client asked for it); Request, Renew, Rebind → Reply with the port's address in
 * each IA_NA (an address the client holds that is not the port's comes back with
 * lifetimes 0); Confirm → Success or NotOnLink; Release, Decline → Success;
 * Information-request → the DNS servers and the domain search list only.
 */
export function respond6(req: packet.Dhcp6Message, facts: V6LeaseFacts): Dhcp6Outcome {
  const clientId = packet.dhcp6Option(req.options, O.CLIENTID);
  const serverId = packet.dhcp6Option(req.options, O.SERVERID);
  const ours = serverId !== undefined && equalBytes(serverId.data, facts.serverDuid);
  const iaNas = req.options.filter((o) => o.code === O.IA_NA).map((o) => packet.decodeIaNa(o.data));
  const reply = (type: number, body: packet.Dhcp6Opt[]): Dhcp6Outcome => ({
    kind: 'reply',
    message: {
      type,
      transactionId: req.transactionId,
      options: [{ code: O.SERVERID, data: facts.serverDuid }, ...(clientId ? [clientId] : []), ...body, ...configOptions(facts)],
    },
  });
  switch (req.type) {
    case T.SOLICIT: {
      if (!clientId || serverId) return none('a Solicit needs a client id and no server id');
      const rapid = packet.dhcp6Option(req.options, O.RAPID_COMMIT) !== undefined;
      if (facts.address === null && iaNas.length > 0) return reply(T.ADVERTISE, [packet.encodeStatus(S.NO_ADDRS_AVAIL, 'addresses on this network are not assigned by DHCPv6')]);
      const ias = iaNas.map((ia) => assigned(ia, facts, false));
      return rapid ? reply(T.REPLY, [{ code: O.RAPID_COMMIT, data: new Uint8Array(0) }, ...ias]) : reply(T.ADVERTISE, ias);
    }
    case T.REQUEST:
    case T.RENEW: {
      if (!clientId || !ours) return none(`a ${req.type === T.REQUEST ? 'Request' : 'Renew'} needs a client id and this server's id`);
      return reply(T.REPLY, iaNas.map((ia) => assigned(ia, facts, req.type === T.RENEW)));
    }
    case T.REBIND: {
      if (!clientId || serverId) return none('a Rebind needs a client id and no server id');
      return reply(T.REPLY, iaNas.map((ia) => assigned(ia, facts, true)));
    }
    case T.CONFIRM: {
      if (!clientId || serverId) return none('a Confirm needs a client id and no server id');
      const addresses = iaNas.flatMap((ia) => ia.options.filter((o) => o.code === O.IAADDR).map((o) => packet.decodeIaAddr(o.data).address));
      if (addresses.length === 0) return none('a Confirm without addresses gets no answer');
      const onLink = addresses.every((a) => facts.prefixes.some((p) => p.contains(a)));
      return reply(T.REPLY, [onLink ? packet.encodeStatus(S.SUCCESS, 'all addresses on link') : packet.encodeStatus(S.NOT_ON_LINK, 'an address is not on this link')]);
    }
    case T.RELEASE:
    case T.DECLINE: {
      // The port keeps its address in the NB whatever the client does: nothing to free or to mark.
      if (!clientId || !ours) return none('a Release or Decline needs a client id and this server\'s id');
      return reply(T.REPLY, [packet.encodeStatus(S.SUCCESS, req.type === T.RELEASE ? 'released' : 'declined')]);
    }
    case T.INFORMATION_REQUEST: {
      if (serverId && !ours) return none('an Information-request for another server');
      if (iaNas.length > 0) return none('an Information-request may not carry an IA');
      return reply(T.REPLY, []);
    }
    default:
      return none(`message type ${req.type} is not a client's to send`);
  }
}

/** The DNS servers and search list every answer carries (RFC 8415 §21.7: a server may send options not asked for). */
function configOptions(facts: V6LeaseFacts): packet.Dhcp6Opt[] {
  const out: packet.Dhcp6Opt[] = [];
  if (facts.dnsServers.length > 0) out.push(packet.encodeAddresses(O.DNS_SERVERS, facts.dnsServers));
  if (facts.domains.length > 0) out.push(packet.encodeDomainList(facts.domains));
  return out;
}

/** An IA_NA answered: the port's address with its lifetimes; on a renewal, what the client held and may not keep, with lifetimes 0. */
function assigned(ia: packet.IaNa, facts: V6LeaseFacts, renewal: boolean): packet.Dhcp6Opt {
  if (facts.address === null) return packet.encodeIaNa({ iaid: ia.iaid, t1: 0, t2: 0, options: [packet.encodeStatus(renewal ? S.NO_BINDING : S.NO_ADDRS_AVAIL, 'no address for this port')] });
  const lease = facts.leaseSeconds;
  const addrs: packet.Dhcp6Opt[] = [packet.encodeIaAddr({ address: facts.address, preferredLifetime: lease, validLifetime: lease, options: [] })];
  if (renewal) {
    for (const o of ia.options.filter((x) => x.code === O.IAADDR)) {
      const held = packet.decodeIaAddr(o.data).address;
      if (!held.equals(facts.address)) addrs.push(packet.encodeIaAddr({ address: held, preferredLifetime: 0, validLifetime: 0, options: [] }));
    }
  }
  // T1 and T2 as RFC 8415 §21.4 recommends: 0.5 and 0.8 of the preferred lifetime.
  return packet.encodeIaNa({ iaid: ia.iaid, t1: Math.floor(lease / 2), t2: Math.floor(lease * 0.8), options: addrs });
}
