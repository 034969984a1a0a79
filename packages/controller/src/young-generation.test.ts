import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SMALL_YOUNG_GENERATION_FLAG, keepYoungGenerationSmall, restoreYoungGenerationGrowth } from './young-generation.js';

/** A child node that allocates ~30 MB of short-lived objects (a few survive) and prints its young generation's size in MB. */
function youngGenerationAfterGarbage(flags: string | undefined): number {
  const script = `
    const v8 = require('node:v8');
    ${flags ? `v8.setFlagsFromString(${JSON.stringify(flags)});` : ''}
    const kept = [];
    for (let r = 0; r < 20; r++) { const a = []; for (let i = 0; i < 30000; i++) a.push({ k: 'k' + i + ':' + r, v: [i] }); kept.push(a[r]); }
    process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576));`;
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

describe('keepYoungGenerationSmall', () => {
  it('leaves V8 alone when the operator sized the young generation (node flags or NODE_OPTIONS)', () => {
    expect(keepYoungGenerationSmall(['--max-semi-space-size=8'], undefined)).toBe('operator flags');
    expect(keepYoungGenerationSmall([], '--inspect --semi-space-growth-factor=2')).toBe('operator flags');
    expect(keepYoungGenerationSmall([], '--min-semi-space-size=4')).toBe('operator flags');
  });

  it('caps it otherwise', () => {
    expect(keepYoungGenerationSmall(['--enable-source-maps'], '--max-old-space-size=512')).toBe('kept small');
    restoreYoungGenerationGrowth();
  });

  it('the flag it sets at run time does keep the young generation small (V8 reads it at every growth step)', () => {
    // Without it the same garbage grows the young generation well past its initial 2 MB: the workload can tell.
    expect(youngGenerationAfterGarbage(undefined)).toBeGreaterThan(8);
    expect(youngGenerationAfterGarbage(SMALL_YOUNG_GENERATION_FLAG)).toBeLessThanOrEqual(4);
  });
});
