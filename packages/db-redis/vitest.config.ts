import { packageTestConfig } from '../../vitest.shared.js';

// Starts a real redis-server: files run one after another, with room for restarts and lease expiry.
export default packageTestConfig(import.meta.url, { serial: true, testTimeout: 90_000, hookTimeout: 60_000 });
