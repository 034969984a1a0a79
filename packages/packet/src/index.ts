export * from './types.js';
export { PacketDecodeError, PacketEncodeError } from './errors.js';
export { decodeEthernet } from './decode.js';
export { encodeEthernet, etherTypeOf, ipProtocolOf } from './encode.js';
export { checksumErrors } from './verify.js';
export { finishChecksum, internetChecksum, pseudoSumV4, pseudoSumV6, sum16 } from './checksum.js';
export {
  arp,
  arpReply,
  arpRequest,
  cloneFrame,
  ethernet,
  icmp,
  icmpEchoReply,
  icmpEchoRequest,
  icmpv6Echo,
  ip4,
  ip6,
  ipv4,
  ipv6,
  ipv6MulticastMac,
  mac,
  neighborAdvertisement,
  neighborSolicitation,
  solicitedNodeAddress,
  tcp,
  udp,
  type EchoOptions,
  type EthernetOptions,
  type Ipv4Like,
  type Ipv4Options,
  type Ipv6Like,
  type Ipv6Options,
  type MacLike,
} from './build.js';
export { describeFrame } from './describe.js';
export {
  DHCP_CLIENT_PORT,
  DHCP_FLAG_BROADCAST,
  DHCP_SERVER_PORT,
  DhcpMessageType,
  decodeDhcp,
  dhcpMessage,
  encodeDhcp,
  type DhcpMessage,
  type DhcpMessageTypeValue,
} from './dhcp/message.js';
export { DhcpOption, EXTRA_DHCP_OPTIONS, dhcpDecode, dhcpEncode, encodeExtraDhcpOption, type ClasslessRoute, type DhcpOptionKind } from './dhcp/options.js';
export {
  NdOption,
  decodeRouterAdvert,
  decodeRouterSolicit,
  encodeRouterAdvert,
  linkLocalAddress,
  routerAdvertisement,
  routerSolicitation,
  type PrefixInfo,
  type RouterAdvert,
  type RouterSolicit,
} from './nd/router-advert.js';
