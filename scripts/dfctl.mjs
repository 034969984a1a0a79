#!/usr/bin/env node
// `pnpm dfctl <args>` (and its in-repo alias `pnpm df`): brings the CLI's build up to date (turbo caches, so this is
// quick when nothing changed), then runs the operator CLI with the given arguments.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.DF_SKIP_BUILD !== '1') {
  const build = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@dragonflow/cli...', '--output-logs=errors-only'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
  if (build.status !== 0) {
    process.stderr.write(build.stdout + build.stderr);
    process.stderr.write('dfctl: building the workspace failed (see above)\n');
    process.exit(1);
  }
}
const { main } = await import(pathToFileURL(join(root, 'packages/cli/dist/main.js')).href);
process.exitCode = await main(process.argv.slice(2));
