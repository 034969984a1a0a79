import { describeError, isDfError } from '@dragonflow/base';
import { Command } from 'commander';
import { checkRunnable, loadControllerConfig } from './config.js';
import { Controller } from './daemon.js';
import { controllerLogger } from './logger.js';
import { restoreYoungGenerationGrowth, type YoungGenerationChoice } from './young-generation.js';

const program = new Command()
  .name('df-controller')
  .description(
    'Dragonflow local controller: one per chassis. Registers the chassis in the northbound DB, keeps the\n' +
      'integration bridge and tunnel ports, binds the VM ports plugged on it (external_ids:iface-id) and\n' +
      'programs Open vSwitch with OpenFlow 1.3 from the apps it loads.',
  )
  .requiredOption('-c, --config <file>', 'YAML or JSON config file (reference: docs/controller.md)')
  .option('--check', 'validate the config file (and load its apps) and exit')
  .addHelpText(
    'after',
    `
Config example (docs/controller.md lists every key):
  chassis: { name: compute-1, tunnelIp: 192.0.2.11, tunnelTypes: [vxlan] }
  db: { driver: etcd, endpoints: [http://192.0.2.1:2379] }   # or memory (served by df-api), redis
  ovsdb: { endpoint: unix:/var/run/openvswitch/db.sock }
  openflow: { listen: unix:/var/run/dragonflow/openflow/br-int.sock }   # (default) br-int's controller target follows
  bridge: { integration: br-int, datapathType: system, mappings: { physnet1: br-ex } }
  apps: ['@dragonflow/app-l2']
  management: { listen: tcp:127.0.0.1:9100 }                  # GET /healthz, GET /metrics
  logLevel: info

Behaviour:
  - The DB or OVS not reachable yet: says so and retries with backoff (never exits for that).
  - SIGTERM/SIGINT: stops cleanly, leaving every flow in place (fail_mode=secure), so forwarding goes on.
  - Logs: one JSON object per line on stdout (pino).
Exit codes: 0 stopped by a signal, 1 bad config or an app that cannot load.`,
  );

async function main(youngGeneration: YoungGenerationChoice): Promise<void> {
  program.parse();
  const opts = program.opts<{ config: string; check?: boolean }>();
  const { config, baseDir, file } = loadControllerConfig(opts.config);
  checkRunnable(config, opts.config);
  const log = controllerLogger(config.logLevel, config.chassis.name);
  if (youngGeneration === 'kept small' && !config.memory.smallYoungGeneration) restoreYoungGenerationGrowth();
  log.debug({ youngGeneration: config.memory.smallYoungGeneration ? youngGeneration : 'off in config' }, 'V8 young generation');
  const controller = new Controller({ config, file: opts.config, baseDir, log });
  if (opts.check) {
    const { loadApps } = await import('@dragonflow/core/host');
    await loadApps(config.apps.map((a) => ({ package: a.package, ...(a.options !== undefined ? { options: a.options } : {}) })), { baseDir });
    console.log(`${file}: ok`);
    return;
  }
  let stopping = false;
  const stop = (why: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: why }, 'stopping');
    controller.stop().then(
      () => process.exit(code),
      (e: unknown) => {
        console.error(`df-controller: error while stopping: ${describeError(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  controller.onFatal(() => stop('fatal', 1));
  await controller.start();
}


/** The df-controller command; `youngGeneration` is what bin.ts decided before this module (and everything it loads) was loaded. */
export function runCli(youngGeneration: YoungGenerationChoice): void {
  main(youngGeneration).catch((e: unknown) => {
    console.error(`df-controller: ${isDfError(e) ? e.message : describeError(e)}`);
    process.exit(1);
  });
}
