// @dragonflow/nb/contract — the shared DB driver contract suite (needs vitest).
export { describeDriverContract, type DbUnderTest, type DriverHarness } from './driver-contract.js';
export { describeNbApiOnDriver } from './nb-api-contract.js';
export { TcpProxy } from './proxy.js';
