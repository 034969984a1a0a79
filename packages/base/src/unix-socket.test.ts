import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listenUnix, unixSocketAnswers } from './index.js';

describe('listenUnix', () => {
  it('creates the socket with the asked mode whatever the umask, and leaves no staging directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-sock-'));
    const old = process.umask(0);
    const a = createServer();
    const b = createServer();
    try {
      await listenUnix(a, join(dir, 'a.sock'));
      await listenUnix(b, join(dir, 'b.sock'), { mode: 0o660 });
    } finally {
      process.umask(old);
    }
    try {
      expect(statSync(join(dir, 'a.sock')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'b.sock')).mode & 0o777).toBe(0o660);
      expect(readdirSync(dir).sort()).toEqual(['a.sock', 'b.sock']);
      expect(await unixSocketAnswers(join(dir, 'a.sock'))).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });

  it('refuses a live server, replaces a dead one, refuses world-accessible modes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-sock-'));
    const path = join(dir, 'x.sock');
    const first = createServer();
    await listenUnix(first, path);
    await expect(listenUnix(createServer(), path)).rejects.toThrow(/another process already serves/);
    first.close();
    writeFileSync(join(dir, 'y.sock'), '');
    const second = createServer();
    await listenUnix(second, join(dir, 'y.sock'));
    expect(await unixSocketAnswers(join(dir, 'y.sock'))).toBe(true);
    second.close();
    await expect(listenUnix(createServer(), join(dir, 'z.sock'), { mode: 0o666 })).rejects.toThrow(/gives rights to other users/);
  });
});
