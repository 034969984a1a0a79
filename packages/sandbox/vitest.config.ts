import { packageTestConfig } from '../../vitest.shared.js';

// These tests start real Open vSwitch, etcd and redis processes: one file at a time.
export default packageTestConfig(import.meta.url, { serial: true, testTimeout: 60_000, hookTimeout: 60_000 });
