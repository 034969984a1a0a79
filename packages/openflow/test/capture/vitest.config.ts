import { packageTestConfig } from '../../../../vitest.shared.js';

// Not part of `pnpm test`: regenerates test/fixtures from a real Open vSwitch.
// Run with `pnpm --filter @dragonflow/openflow capture-fixtures`.
export default packageTestConfig(new URL('../../vitest.config.ts', import.meta.url).href, {
  include: ['test/capture/*.capture.ts'],
  serial: true,
  testTimeout: 300_000,
});
