export { DfError, describeError, isDfError, type DfErrorContext, type DfErrorOptions } from './error.js';
export { MacAddress } from './mac.js';
export { IpNetwork, Ipv4Address, Ipv6Address, compareIp, isValidIp, offsetIp, parseIp, type IpAddress } from './ip.js';
export { ManualClock, systemClock, type Clock } from './clock.js';
export { redactUrl } from './redact.js';
export { Backoff, backoffDelay, type BackoffPolicy } from './backoff.js';
export { listenUnix, removeUnixSocket, unixSocketAnswers, type UnixListenOptions } from './unix-socket.js';
