/**
 * The table map of the first-party app set, loaded by package name from a
 * controller config exactly as `dfctl pipeline --config` does, against a golden file:
 * a change in any app's declared tables (or in the allocator) shows up here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadControllerConfig } from '@dragonflow/controller/config';
import { allocatePipeline, loadApps } from '@dragonflow/core/host';
import { expect, test } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

test('the first-party pipeline matches its golden table map', async () => {
  const { config, baseDir } = loadControllerConfig(join(here, 'first-party.yaml'));
  const apps = await loadApps(config.apps, { baseDir, conditions: ['@dragonflow/source', 'import', 'default'] });
  const map = allocatePipeline(apps.map((a) => ({ app: a.descriptor.name, package: a.package, tables: a.descriptor.tables ?? {}, registers: a.descriptor.registers ?? [] })));
  const golden = join(here, 'pipeline.golden.txt');
  if (process.env['DF_UPDATE_GOLDEN']) writeFileSync(golden, map.format());
  expect(map.format()).toBe(readFileSync(golden, 'utf8'));
  // dense numbering; the classify stage ends in a drop, and so does dispatch
  expect(map.tables.map((t) => t.id)).toEqual(map.tables.map((_, i) => i));
  expect(map.stageTables('classify').at(-1)!.miss).toBe('drop');
  expect(map.tables.at(-1)!.qualifiedName).toBe('core.dispatch');
});
