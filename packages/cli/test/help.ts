import type { Command } from 'commander';
import { vi } from 'vitest';
import { buildProgram } from '../src/main.js';

/** What `df COMMAND --help` prints: the usage, the options and the text after them. */
export function helpOf(...command: string[]): string {
  let cmd: Command = buildProgram();
  for (const name of command) {
    const sub = cmd.commands.find((c) => c.name() === name);
    if (!sub) throw new Error(`df has no command ${command.join(' ')}`);
    cmd = sub;
  }
  let out = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  try {
    cmd.outputHelp();
    return out;
  } finally {
    o.mockRestore();
  }
}
