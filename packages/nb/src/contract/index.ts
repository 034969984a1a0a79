// @dragonflow/nb/contract — the shared DB driver contract suite (needs vitest).
export { describeDriverContract, type DbUnderTest, type DriverHarness } from './driver-contract.js';
export { TcpProxy } from './proxy.js';
