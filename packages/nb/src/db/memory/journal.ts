import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { DfError } from '@dragonflow/base';
import { NbErrorCode } from '../../errors.js';

/**
 * An append-only JSON-lines file. Each record is written with one write(2) before
 * the store acknowledges the change, so a restarted process finds every
 * acknowledged change (it survives a process crash; not a power cut: no fsync per
 * write, by design for a demo store). A torn last line (crash mid-write) is ignored.
 */
export class Journal {
  private fd: number;
  private lines = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'a', 0o600);
  }

  /** Reads every complete record of `file` (none when it does not exist). */
  static read(file: string): unknown[] {
    if (!existsSync(file)) return [];
    const text = readFileSync(file, 'utf8');
    const out: unknown[] = [];
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        out.push(JSON.parse(line));
      } catch (cause) {
        if (i === lines.length - 1) return; // torn last line
        throw new DfError(NbErrorCode.SCHEMA, `${file}:${i + 1}: not a journal record`, { cause, context: { file, line: i + 1 } });
      }
    });
    return out;
  }

  get recordCount(): number {
    return this.lines;
  }

  set recordCount(n: number) {
    this.lines = n;
  }

  append(record: unknown): void {
    writeSync(this.fd, JSON.stringify(record) + '\n');
    this.lines++;
  }

  /** Replaces the whole file with `records` atomically (write a temp file, fsync, rename). */
  rewrite(records: readonly unknown[]): void {
    const tmp = `${this.file}.tmp`;
    // A temp file left by a crash (or a symlink someone planted) is removed, and the
    // new one created with O_EXCL: open never follows a link nor reuses a file it did not create.
    try {
      unlinkSync(tmp);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw new DfError(NbErrorCode.SCHEMA, `cannot remove the stale ${tmp}`, { cause, context: { file: tmp } });
    }
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      for (const r of records) writeSync(fd, JSON.stringify(r) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a', 0o600);
    this.lines = records.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}
