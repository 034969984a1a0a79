#!/usr/bin/env node
// `pnpm sdk-oracle`: runs openstacksdk's own network functional tests (Debian's
// python3-openstacksdk ships them) against a fresh df-api on a memory DB and prints one
// line per test. With --expect FILE (docs/openstack-conformance.md) it also judges the
// run: every test must pass unless the file's table lists it with the outcome it had,
// and every listed test must still have that outcome. Exit 0 when the run is as
// expected, 1 when not, 2 when the oracle could not run at all.
//
//   node scripts/sdk-oracle.mjs [--expect docs/openstack-conformance.md] [--json out.json] [-k PYTEST_EXPR]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3'; // Debian's python: the one with openstacksdk (a pyenv python on PATH has not)
const DF_API = join(root, 'packages/api/dist/bin.js');

/** The SDK's network tests: all of network/v2 and the network parts of cloud/. */
export const SDK_TEST_PATHS = [
  'network/v2',
  'cloud/test_network.py',
  'cloud/test_port.py',
  'cloud/test_router.py',
  'cloud/test_security_groups.py',
  'cloud/test_floating_ip.py',
  'cloud/test_floating_ip_pool.py',
  'cloud/test_qos_bandwidth_limit_rule.py',
  'cloud/test_qos_dscp_marking_rule.py',
  'cloud/test_qos_minimum_bandwidth_rule.py',
  'cloud/test_qos_policy.py',
  'cloud/test_quotas.py',
];

/** The projects behind the three clouds the tests use (static tokens until df-api speaks Keystone). */
const CLOUDS = [
  { cloud: 'devstack', project: 'demo', roles: ['member'] },
  { cloud: 'devstack-alt', project: 'alt_demo', roles: ['member'] },
  { cloud: 'devstack-admin', project: 'admin', roles: ['admin'] },
];

/** Services df-api is not: the SDK would otherwise send their calls to df-api (one endpoint for all without a catalog). */
const NOT_SERVED = ['compute', 'image', 'dns', 'volume', 'block_storage', 'object_store', 'orchestration', 'load_balancer', 'key_manager', 'placement', 'baremetal', 'clustering', 'container_infrastructure_management', 'shared_file_system', 'workflow', 'accelerator', 'instance_ha', 'database', 'message'];

function fail(message) {
  process.stderr.write(`sdk-oracle: ${message}\n`);
  process.exit(2);
}

function run(cmd, args, options) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function functionalDir() {
  const r = await run(PYTHON, ['-c', 'import openstack, os, pytest, oslotest; print(os.path.dirname(openstack.__file__))'], {});
  if (r.code !== 0) fail(`${PYTHON} lacks openstacksdk, pytest or oslotest (run ./scripts/setup): ${r.out.trim().split('\n').pop()}`);
  const dir = join(r.out.trim(), 'tests/functional');
  if (!existsSync(join(dir, 'network/v2'))) fail(`${dir}/network/v2 is missing: this openstacksdk does not ship its functional tests`);
  return dir;
}

async function startDfApi(dir) {
  if (!existsSync(DF_API)) fail(`${DF_API} is missing: build the workspace first (pnpm build)`);
  const port = await freePort();
  const tokens = CLOUDS.map((c) => ({ ...c, token: `sdk-oracle-${c.cloud}-token` }));
  const config = join(dir, 'df-api.yaml');
  const tokenLines = tokens.map((t) => `    - { token: ${t.token}, project: ${t.project}, roles: [${t.roles.join(', ')}] }`);
  // The memory DB is served on a socket so that the oracle can register a chassis in it.
  const socket = join(dir, 'nb.sock');
  const dbToken = join(dir, 'nb-admin.token');
  writeFileSync(dbToken, 'sdk-oracle-nb-admin-token\n', { mode: 0o600 });
  const db = ['db:', '  driver: memory', `  serve: ['unix:${socket}']`, `  grants: [{ role: admin, tokenFile: '${dbToken}' }]`];
  writeFileSync(config, [`listen: { host: 127.0.0.1, port: ${port} }`, ...db, 'auth:', '  mode: token', '  tokens:', ...tokenLines, 'logLevel: warn', ''].join('\n'));
  const log = join(dir, 'df-api.log');
  const child = spawn(process.execPath, [DF_API, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  // fail() exits the process: df-api goes with it.
  process.on('exit', () => child.kill('SIGTERM'));
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) fail(`df-api exited (${child.exitCode}) before answering:\n${output}`);
    const ok = await fetch(`${url}/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 200) fail(`df-api did not answer on ${url} within 20 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () => {
    child.kill('SIGTERM');
    writeFileSync(log, output);
  };
  return { url, tokens, stop, log, db: { endpoint: `unix:${socket}`, token: 'sdk-oracle-nb-admin-token' } };
}

/**
 * A compute node, as DevStack has one: a live chassis record in availability zone
 * `nova` (what df-controller registers). No controller runs; the tests only read it.
 */
async function registerChassis(db) {
  const nbDist = join(root, 'packages/nb/dist/index.js');
  if (!existsSync(nbDist)) fail(`${nbDist} is missing: build the workspace first (pnpm build)`);
  const { ChassisRegistry, MemoryClientDriver, NbApi } = await import(pathToFileURL(nbDist).href);
  const driver = await MemoryClientDriver.connect(db);
  const nb = await NbApi.open(driver, { mirror: false });
  const registration = await new ChassisRegistry(nb, { ttlMs: 30_000 }).register({ name: 'devstack-compute', tunnelIp: '192.0.2.10', tunnelTypes: ['vxlan'], availabilityZone: 'nova' });
  return async () => {
    await registration.stop();
    await nb.close();
    await driver.close();
  };
}

/**
 * What DevStack makes before the tests run, which some of them rely on (a network to
 * put a port on, an external network for floating IPs): `public` (external), the demo
 * project's `private` behind `router1`, and `shared`.
 */
async function seedLikeDevstack(url, tokens) {
  const token = (cloud) => tokens.find((t) => t.cloud === cloud).token;
  const call = async (cloud, method, path, body) => {
    const r = await fetch(`${url}/v2.0/${path}`, { method, headers: { 'x-auth-token': token(cloud), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) fail(`seeding df-api like DevStack: ${method} /v2.0/${path} answered ${r.status} ${await r.text()}`);
    return r.json();
  };
  const pub = (await call('devstack-admin', 'POST', 'networks', { network: { name: 'public', 'router:external': true } })).network;
  await call('devstack-admin', 'POST', 'subnets', { subnet: { name: 'public-subnet', network_id: pub.id, ip_version: 4, cidr: '172.24.4.0/24', enable_dhcp: false } });
  const priv = (await call('devstack', 'POST', 'networks', { network: { name: 'private' } })).network;
  const privSubnet = (await call('devstack', 'POST', 'subnets', { subnet: { name: 'private-subnet', network_id: priv.id, ip_version: 4, cidr: '10.0.0.0/26' } })).subnet;
  const router = (await call('devstack', 'POST', 'routers', { router: { name: 'router1', external_gateway_info: { network_id: pub.id } } })).router;
  await call('devstack', 'PUT', `routers/${router.id}/add_router_interface`, { subnet_id: privSubnet.id });
  const shared = (await call('devstack-admin', 'POST', 'networks', { network: { name: 'shared', shared: true } })).network;
  await call('devstack-admin', 'POST', 'subnets', { subnet: { name: 'shared-subnet', network_id: shared.id, ip_version: 4, cidr: '192.168.233.0/24' } });
}

function cloudsYaml(url, tokens) {
  const lines = ['clouds:'];
  for (const t of tokens) {
    lines.push(`  ${t.cloud}:`, '    auth_type: admin_token', `    auth: { endpoint: '${url}', token: '${t.token}' }`, "    identity_api_version: '3'");
    for (const s of NOT_SERVED) lines.push(`    has_${s}: false`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The expectations in `file`: rows `| \`TEST\` | failed|skipped | why |` of its tables, where
 * TEST is a pytest id (path::Class::test) or a prefix of one ending in `*`.
 */
export function parseExpectations(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|\s*(failed|skipped)\s*\|\s*(.*?)\s*\|\s*$/.exec(line);
    if (m) rows.push({ pattern: m[1], outcome: m[2], why: m[3] });
  }
  return rows;
}

function matches(pattern, id) {
  return pattern.endsWith('*') ? id.startsWith(pattern.slice(0, -1)) : id === pattern;
}

/** What is not as expected: a list of messages, empty when the run matches the table. */
export function judge(results, expectations) {
  const problems = [];
  const used = new Set();
  for (const r of results) {
    const e = expectations.find((x) => matches(x.pattern, r.id));
    if (e) used.add(e);
    const want = e ? e.outcome : 'passed';
    if (r.outcome !== want) problems.push(`${r.id}: ${r.outcome}, expected ${want}${e ? ` (listed: ${e.why})` : ''}${r.reason ? ` — ${r.reason}` : ''}`);
  }
  for (const e of expectations) if (!used.has(e)) problems.push(`${e.pattern}: listed as ${e.outcome} but no such test ran (stale entry)`);
  return problems;
}

async function main() {
  const { values } = parseArgs({ options: { expect: { type: 'string' }, json: { type: 'string' }, k: { type: 'string', short: 'k' } } });
  const functional = await functionalDir();
  const dir = mkdtempSync(join(tmpdir(), 'df-sdk-oracle-'));
  const api = await startDfApi(dir);
  let unregister;
  try {
    unregister = await registerChassis(api.db);
    await seedLikeDevstack(api.url, api.tokens);
    writeFileSync(join(dir, 'clouds.yaml'), cloudsYaml(api.url, api.tokens));
    const json = join(dir, 'results.json');
    const args = ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-p', 'sdk_oracle_report', ...(values.k ? ['-k', values.k] : []), ...SDK_TEST_PATHS];
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', PYTHONPATH: join(root, 'scripts'), PYTHONDONTWRITEBYTECODE: '1', OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'), DF_SDK_ORACLE_JSON: json };
    const started = Date.now();
    const py = await run(PYTHON, args, { cwd: functional, env });
    if (!existsSync(json)) fail(`pytest wrote no results (exit ${py.code}):\n${py.out}`);
    const results = JSON.parse(readFileSync(json, 'utf8'));
    const mark = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' };
    for (const r of results) console.log(`${mark[r.outcome]} ${r.id}${r.reason ? ` — ${r.reason}` : ''}`);
    const count = (o) => results.filter((r) => r.outcome === o).length;
    console.log(`\n${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped of ${results.length} (${((Date.now() - started) / 1000).toFixed(1)} s, df-api ${api.url})`);
    if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 1));
    if (values.expect) {
      const expectations = parseExpectations(readFileSync(values.expect, 'utf8'));
      if (expectations.length === 0) fail(`${values.expect} lists no expected outcomes (rows | \`TEST\` | failed|skipped | why |)`);
      const problems = values.k ? judge(results, expectations).filter((p) => !p.endsWith('(stale entry)')) : judge(results, expectations);
      if (problems.length > 0) {
        console.log(`\nNOT AS EXPECTED by ${values.expect} (${problems.length}):`);
        for (const p of problems) console.log(`  ${p}`);
        process.exitCode = 1;
      } else console.log(`\nas expected by ${values.expect}`);
    }
  } finally {
    await unregister?.();
    api.stop();
    if (process.exitCode) console.log(`df-api's log: ${api.log}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
