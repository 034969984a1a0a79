import { packageTestConfig } from '../vitest.shared.js';

// End-to-end suites start real OVS, namespaces and databases: one file at a time.
export default packageTestConfig(import.meta.url, { serial: true, testTimeout: 60_000, hookTimeout: 120_000 });
