import { packageTestConfig } from '../../vitest.shared.js';

// Starts a real etcd and redis-server: files run one after another.
export default packageTestConfig(import.meta.url, { serial: true, testTimeout: 60_000, hookTimeout: 60_000 });
