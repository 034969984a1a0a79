import { Command, CommanderError } from 'commander';
import { registerDb } from './commands/db.js';
import { registerDemo } from './commands/demo.js';
import { registerFlows } from './commands/flows.js';
import { registerPipeline } from './commands/pipeline.js';
import { registerSandbox } from './commands/sandbox.js';
import { registerStatus } from './commands/status.js';
import { registerTrace } from './commands/trace.js';
import { registerVersion } from './commands/version.js';

/** Builds the `dfctl` command tree. Each command group lives in its own module. */
export function buildProgram(): Command {
  const program = new Command('dfctl')
    .description('Dragonflow operator CLI: run a sandbox, inspect the database, the pipeline and the flows.')
    .showHelpAfterError('(run "dfctl --help" for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });
  registerVersion(program);
  registerPipeline(program);
  registerDemo(program);
  registerSandbox(program);
  registerStatus(program);
  registerFlows(program);
  registerTrace(program);
  registerDb(program);
  return program;
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : err.exitCode || 2;
    }
    process.stderr.write(`dfctl: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
