import { createRequire } from 'node:module';
import type { Command } from 'commander';

const require = createRequire(import.meta.url);

export interface VersionInfo {
  df: string;
  node: string;
  openflow: string;
}

export function versionInfo(): VersionInfo {
  const pkg = require('../../package.json') as { version: string };
  return { df: pkg.version, node: process.versions.node, openflow: '1.3 (wire version 0x04)' };
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the versions of df, Node.js and the OpenFlow protocol spoken')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const info = versionInfo();
      if (opts.json) {
        console.log(JSON.stringify(info));
      } else {
        console.log(`df ${info.df}\nnode ${info.node}\nopenflow ${info.openflow}`);
      }
    });
}
