#!/usr/bin/env node
import { isDfError } from '@dragonflow/base';
import { Command } from 'commander';
import { loadApiConfig, parseApiConfig } from './config.js';
import { describeForLog, redactText } from './log-safe.js';
import { startApiServer } from './server.js';

const program = new Command()
  .name('df-api')
  .description(
    'Dragonflow northbound API: a Neutron v2.0-compatible REST server writing the northbound DB.\n' +
      'Use it with the stock openstack CLI, e.g.\n' +
      '  openstack --os-auth-type none --os-endpoint http://127.0.0.1:9696 network list\n' +
      '  openstack --os-auth-type admin_token --os-token TOKEN --os-endpoint http://127.0.0.1:9696 network list',
  )
  .option('-c, --config <file>', 'YAML or JSON config file (see packages/api/README.md); without it: memory DB, noauth, 127.0.0.1:9696')
  .option('--host <host>', 'listen address (overrides listen.host)')
  .option('--port <port>', 'listen port (overrides listen.port)', (v) => {
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new Error(`--port: '${v}' is not a port number`);
    return Number(v);
  })
  .option('--check', 'validate the config file and exit')
  .addHelpText(
    'after',
    `
Config example (every key is optional):
  listen: { host: 127.0.0.1, port: 9696 }
  db: { driver: memory, file: /var/lib/dragonflow/nb.db, serve: [unix:/run/dragonflow/nb.sock],
        grants: [{ role: controller, tokenFile: /etc/dragonflow/nb-controller.token }] }
  # db: { driver: etcd, endpoints: [http://127.0.0.1:2379] }
  auth: { mode: noauth, defaultProject: admin, adminByDefault: true }   # noauth: loopback only (auth.allowInsecureNoauth)
  # auth: { mode: token, tokens: [{ token: s3cret-token, project: demo, roles: [admin] }] }
  # auth: { mode: keystone, keystone: { url: http://controller:5000/v3, username: neutron, passwordFile: FILE } }
  # nova: { url: http://nova:8774/v2.1 }      # port events to Nova (docs/openstack.md)
  network: { tenantNetworkType: vxlan, vxlanRanges: ['1:65535'], vlanRanges: ['physnet1:100:199'], physicalMtu: 1500 }
  limits: { maxFixedIpsPerPort: 5, maxAllowedAddressPairs: 10, maxDnsNameservers: 5, maxSubnetHostRoutes: 20 }
  quotas: { network: 100, subnet: 100, port: 500, router: 10, floatingip: 50, security_group: 10 }
  bodyLimit: 1048576
  logLevel: info

Endpoints: GET / (versions), /v2.0/{networks,subnets,ports,routers,floatingips,security-groups,
security-group-rules,quotas}, /v2.0/extensions, /projects (lookup for clients without Keystone),
/openapi.json, /healthz.`,
  );

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<{ config?: string; host?: string; port?: number; check?: boolean }>();
  let config = opts.config ? loadApiConfig(opts.config) : parseApiConfig({}, '(defaults)');
  if (opts.host !== undefined || opts.port !== undefined) {
    config = parseApiConfig({ ...config, listen: { host: opts.host ?? config.listen.host, port: opts.port ?? config.listen.port } }, opts.config ?? '(defaults)');
  }
  if (opts.check) {
    console.log(`${opts.config ?? '(defaults)'}: ok`);
    return;
  }
  const server = await startApiServer({ config });
  server.app.log.info({ url: server.url, db: config.db.driver, auth: config.auth.mode, dbServedAt: server.dbEndpoints }, `df-api listening on ${server.url}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.app.log.info(`${signal}: stopping`);
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`df-api: error while stopping: ${describeForLog(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(`df-api: ${isDfError(e) ? redactText(e.message) : describeForLog(e)}`);
  process.exit(1);
});
