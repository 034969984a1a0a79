// Contract suites (they define vitest tests, so they live apart from the main entry).
export { describeAppContract, type AppContractOptions } from './app-contract.js';
// The NB DB driver contract, for third-party driver authors (one import for all contract suites).
export { describeDriverContract, TcpProxy, type DbUnderTest, type DriverHarness } from '@dragonflow/nb/contract';
