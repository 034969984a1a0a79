import { allocatePipeline, loadApps, type PipelineMap } from '@dragonflow/core/host';
import { loadControllerConfig } from '@dragonflow/controller/config';
import type { Command } from 'commander';

export interface PipelineReportOptions {
  /** Export conditions for resolving app packages (tests put '@dragonflow/source' first). */
  readonly conditions?: readonly string[];
}

/** Loads the apps a controller config lists and allocates their pipeline. */
export async function pipelineFromConfig(file: string, options: PipelineReportOptions = {}): Promise<PipelineMap> {
  const { config, baseDir } = loadControllerConfig(file);
  const apps = await loadApps(
    config.apps.map((a) => ({ package: a.package, ...(a.options !== undefined ? { options: a.options } : {}) })),
    { baseDir, ...(options.conditions ? { conditions: options.conditions } : {}) },
  );
  return allocatePipeline(apps.map((a) => ({ app: a.descriptor.name, package: a.package, tables: a.descriptor.tables ?? {}, registers: a.descriptor.registers ?? [] })));
}

export function registerPipeline(program: Command): void {
  program
    .command('pipeline')
    .description('print the OpenFlow table map (stages, tables, apps, cookie slots, registers) a controller config yields')
    .requiredOption('-c, --config <file>', 'df-controller config file (YAML or JSON)')
    .option('--json', 'print as JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const map = await pipelineFromConfig(opts.config);
      process.stdout.write(opts.json ? JSON.stringify(map.toJSON(), null, 2) + '\n' : map.format());
    });
}
