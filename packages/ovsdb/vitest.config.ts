import { packageTestConfig } from '../../vitest.shared.js';

// Suites start real ovsdb-server/ovs-vswitchd processes: run files one at a time.
export default packageTestConfig(import.meta.url, { serial: true, testTimeout: 30_000 });
