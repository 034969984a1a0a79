// Shared vitest settings for every workspace package. Tests run against sources:
// workspace packages resolve through the "@dragonflow/source" export condition.
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const SOURCE_CONDITION = '@dragonflow/source';
const conditions = [SOURCE_CONDITION, 'node', 'import', 'module', 'default'];

export interface PackageTestOptions {
  /** Run test files one after another (suites that start real OVS, etcd or redis). */
  serial?: boolean;
  /** Per-test timeout in milliseconds. */
  testTimeout?: number;
  hookTimeout?: number;
  include?: string[];
  setupFiles?: string[];
}

export function packageTestConfig(metaUrl: string, options: PackageTestOptions = {}): ViteUserConfig {
  const root = dirname(fileURLToPath(metaUrl));
  const reportDir = process.env['DF_REPORT_DIR'];
  const reportName = basename(root) + '-' + basename(dirname(root));
  return defineConfig({
    root,
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: [SOURCE_CONDITION] } },
    oxc: {
      decorator: { legacy: true, emitDecoratorMetadata: false },
    },
    test: {
      include: options.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: options.testTimeout ?? 10_000,
      hookTimeout: options.hookTimeout ?? 30_000,
      setupFiles: options.setupFiles ?? [],
      fileParallelism: !options.serial,
      passWithNoTests: true,
      reporters: reportDir ? ['default', ['json', { outputFile: join(reportDir, `${reportName}.json`) }]] : ['default'],
    },
  }) as ViteUserConfig;
}
