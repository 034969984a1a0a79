import { mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal } from './journal.js';

describe('journal rewrite', () => {
  it('does not write through a file or symlink planted at its temp path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-journal-'));
    const file = join(dir, 'nb.journal');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, `${file}.tmp`);
    const j = new Journal(file);
    try {
      j.rewrite([{ t: 'snapshot', n: 1 }]);
    } finally {
      j.close();
    }
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(Journal.read(file)).toEqual([{ t: 'snapshot', n: 1 }]);
  });

  it('keeps the journal private to its owner after a rewrite', () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-journal-'));
    const file = join(dir, 'nb.journal');
    const j = new Journal(file);
    try {
      j.rewrite([{ t: 'snapshot', n: 1 }]);
    } finally {
      j.close();
    }
    expect(statSync(file).mode & 0o077).toBe(0);
  });
});
