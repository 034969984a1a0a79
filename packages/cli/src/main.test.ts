import { describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from './main.js';

describe('dfctl CLI', () => {
  it('lists its commands in --help', () => {
    const help = buildProgram().helpInformation();
    expect(help).toContain('Usage: dfctl');
    expect(help).toContain('version');
  });

  it('prints versions as JSON', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await main(['version', '--json'])).toBe(0);
    const out = JSON.parse(String(log.mock.calls[0]?.[0])) as { df: string; node: string };
    expect(out.df).toMatch(/^\d+\.\d+\.\d+$/);
    expect(out.node).toBe(process.versions.node);
    log.mockRestore();
  });

  it('rejects an unknown command with a non-zero exit code', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['no-such-command'])).not.toBe(0);
    err.mockRestore();
  });
});
