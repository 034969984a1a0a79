import { describe, expect, test } from 'vitest';
import { runOpenflowDemo } from './demo.js';

describe('df demo --openflow-only', () => {
  test('installs a flow through our controller into a real Open vSwitch and shows it, then cleans up', async () => {
    const lines: string[] = [];
    const dump = await runOpenflowDemo({ out: (l) => lines.push(l) });
    expect(dump).toMatch(/cookie=0xdf0001, .*priority=100,ip,nw_dst=10\.0\.0\.0\/24 actions=dec_ttl,set_field:02:00:00:00:00:01->eth_dst,LOCAL/);
    expect(lines.join('\n')).toMatch(/switch connected: datapath id 00000000000d0f01/);
    expect(lines.at(-1)).toBe('• tearing down');
  }, 60_000);
});
