#!/usr/bin/env node
// `pnpm sdk-oracle`: runs openstacksdk's own network functional tests (Debian's
// python3-openstacksdk ships them) against a fresh df-api on a memory DB, behind a real
// Keystone (Debian's keystone, started here in a temporary directory), and prints one
// line per test. With --expect FILE (docs/openstack-conformance.md) it also judges the
// run: every test must pass unless the file's table lists it with the outcome it had,
// and every listed test must still have that outcome. Exit 0 when the run is as
// expected, 1 when not, 2 when the oracle could not run at all.
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

const HELP = `usage: node scripts/sdk-oracle.mjs [options]   (pnpm build first)

Runs openstacksdk's network functional tests against a fresh df-api behind a real
Keystone, made as DevStack makes it (docs/openstack-conformance.md).

  --expect FILE     judge the run by FILE's table of expected outcomes (what CI does)
  --json FILE       write the outcomes as JSON
  -k EXPR           only the tests matching a pytest -k expression
  --static-tokens   no Keystone: df-api's static tokens (auth.mode token) and clouds with
                    auth_type admin_token; the tests that need the identity API fail
  -h, --help        this text
`;

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

/** The three clouds the tests use: who logs in, in which project, with which role (as DevStack makes them). */
const CLOUDS = [
  { cloud: 'devstack', user: 'demo', password: 'sdk-oracle-demo-pw', project: 'demo', roles: ['member'] },
  { cloud: 'devstack-alt', user: 'alt_demo', password: 'sdk-oracle-alt-demo-pw', project: 'alt_demo', roles: ['member'] },
  { cloud: 'devstack-admin', user: 'admin', password: '', project: 'admin', roles: ['admin'] },
];

/** df-api's service user, as DevStack makes neutron-server's: `neutron`, admin of project `service`. */
const SERVICE_USER = { name: 'neutron', password: 'sdk-oracle-neutron-pw', project: 'service' };

/** Services df-api is not: the SDK must not look for them. */
// With Keystone the catalog lists only identity and network; the flags also keep the
// static-token mode (one endpoint for everything) from sending them to df-api.
const NOT_SERVED = ['compute', 'image', 'dns', 'volume', 'block_storage', 'object_store', 'orchestration', 'load_balancer', 'key_manager', 'placement', 'baremetal', 'clustering', 'container_infrastructure_management', 'shared_file_system', 'workflow', 'accelerator', 'instance_ha', 'database', 'message'];

/** Set when a run is not as expected: its logs stay for a look; otherwise every temporary directory goes at exit. */
let keepLogs = false;

function fail(message) {
  process.stderr.write(`sdk-oracle: ${message}\n`);
  process.exit(2);
}

function run(cmd, args, options) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = () => child.kill('SIGTERM');
    process.on('exit', stop);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      process.off('exit', stop);
      resolve({ code: code ?? 1, out });
    });
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

/** df-api's auth section: Keystone's (with the service user), or one static token per cloud. */
function authConfig(keystone) {
  if (keystone) {
    const k = keystone.url;
    return ['auth:', '  mode: keystone', '  keystone:', `    url: '${k}'`, `    username: ${SERVICE_USER.name}`, `    password: ${SERVICE_USER.password}`, `    projectName: ${SERVICE_USER.project}`];
  }
  const tokenLines = CLOUDS.map((c) => `    - { token: ${staticToken(c.cloud)}, project: ${c.project}, roles: [${c.roles.join(', ')}] }`);
  return ['auth:', '  mode: token', '  tokens:', ...tokenLines];
}

const staticToken = (cloud) => `sdk-oracle-${cloud}-token`;

async function startDfApi(dir, keystone) {
  if (!existsSync(DF_API)) fail(`${DF_API} is missing: build the workspace first (pnpm build)`);
  const port = await freePort();
  const config = join(dir, 'df-api.yaml');
  // The memory DB is served on a socket so that the oracle can register a chassis in it.
  const socket = join(dir, 'nb.sock');
  const dbToken = join(dir, 'nb-admin.token');
  writeFileSync(dbToken, 'sdk-oracle-nb-admin-token\n', { mode: 0o600 });
  const db = ['db:', '  driver: memory', `  serve: ['unix:${socket}']`, `  grants: [{ role: admin, tokenFile: '${dbToken}' }]`];
  writeFileSync(config, [`listen: { host: 127.0.0.1, port: ${port} }`, ...db, ...authConfig(keystone), 'logLevel: warn', ''].join('\n'));
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
    if (i > 300) fail(`df-api did not answer on ${url} within 30 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () => {
    child.kill('SIGTERM');
    writeFileSync(log, output);
  };
  return { url, stop, log, db: { endpoint: `unix:${socket}`, token: 'sdk-oracle-nb-admin-token' } };
}

/**
 * A real Keystone (@dragonflow/sandbox's, the one the Keystone tests use) made as
 * DevStack makes it for these tests: projects `demo`, `alt_demo`, `admin` and
 * `service`; users `demo` and `alt_demo` (members of their projects), `admin` and
 * df-api's service user; the identity endpoint in the catalog (the network one is
 * added once df-api listens).
 */
async function startKeystone() {
  const sandboxDist = join(root, 'packages/sandbox/dist/index.js');
  if (!existsSync(sandboxDist)) fail(`${sandboxDist} is missing: build the workspace first (pnpm build)`);
  const { KeystoneServer } = await import(pathToFileURL(sandboxDist).href);
  let ks;
  try {
    ks = await KeystoneServer.start({ startTimeoutMs: 120_000 });
  } catch (e) {
    fail(`Keystone did not start (./scripts/setup installs Debian's keystone): ${e.message}`);
  }
  // fail() or a signal exits the process: Keystone (a detached daemon) goes with it.
  process.on('exit', () => {
    ks.kill();
    if (!keepLogs) rmSync(ks.dir, { recursive: true, force: true });
  });
  try {
    for (const project of ['demo', 'alt_demo', SERVICE_USER.project]) await ks.createProject(project);
    for (const c of CLOUDS) {
      if (c.user === 'admin') c.password = ks.admin.password;
      else await ks.createUser({ name: c.user, password: c.password, project: c.project }, c.roles[0]);
    }
    await ks.createUser(SERVICE_USER, 'admin');
  } catch (e) {
    fail(`making DevStack's projects and users in Keystone: ${e.message}`);
  }
  return ks;
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
async function seedLikeDevstack(url, keystone) {
  const tokens = new Map();
  const token = async (cloud) => {
    if (!keystone) return staticToken(cloud);
    if (!tokens.has(cloud)) {
      const c = CLOUDS.find((x) => x.cloud === cloud);
      tokens.set(cloud, await keystone.issueToken({ name: c.user, password: c.password, project: c.project }));
    }
    return tokens.get(cloud);
  };
  const call = async (cloud, method, path, body) => {
    const r = await fetch(`${url}/v2.0/${path}`, { method, headers: { 'x-auth-token': await token(cloud), 'content-type': 'application/json' }, body: JSON.stringify(body) });
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

/** The clouds the tests read: password logins at Keystone, or df-api's static tokens sent straight to it. */
function cloudsYaml(url, keystone) {
  const lines = ['clouds:'];
  for (const c of CLOUDS) {
    lines.push(`  ${c.cloud}:`);
    if (keystone) {
      lines.push('    auth_type: password', `    auth: { auth_url: '${keystone.url}', username: ${c.user}, password: ${c.password}, project_name: ${c.project}, user_domain_id: default, project_domain_id: default }`, '    region_name: RegionOne', '    interface: public');
    } else {
      lines.push('    auth_type: admin_token', `    auth: { endpoint: '${url}', token: '${staticToken(c.cloud)}' }`);
    }
    lines.push("    identity_api_version: '3'");
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
  const options = { expect: { type: 'string' }, json: { type: 'string' }, k: { type: 'string', short: 'k' }, 'static-tokens': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };
  let values;
  try {
    ({ values } = parseArgs({ options }));
  } catch (e) {
    process.stderr.write(`${e.message}\n\n${HELP}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const functional = await functionalDir();
  const dir = mkdtempSync(join(tmpdir(), 'df-sdk-oracle-'));
  process.on('exit', () => keepLogs || rmSync(dir, { recursive: true, force: true }));
  const setupStarted = Date.now();
  const keystone = values['static-tokens'] ? undefined : await startKeystone();
  const api = await startDfApi(dir, keystone);
  let unregister;
  try {
    if (keystone) await keystone.registerService('network', 'neutron', api.url);
    unregister = await registerChassis(api.db);
    await seedLikeDevstack(api.url, keystone);
    writeFileSync(join(dir, 'clouds.yaml'), cloudsYaml(api.url, keystone));
    const setupSeconds = (Date.now() - setupStarted) / 1000;
    const json = join(dir, 'results.json');
    const args = ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-p', 'sdk_oracle_report', ...(values.k ? ['-k', values.k] : []), ...SDK_TEST_PATHS];
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', PYTHONPATH: join(root, 'scripts'), PYTHONDONTWRITEBYTECODE: '1', OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'), DF_SDK_ORACLE_JSON: json };
    const started = Date.now();
    const py = await run(PYTHON, args, { cwd: functional, env });
    if (!existsSync(json)) fail(`pytest wrote no results (exit ${py.code}):\n${py.out}`);
    // Its tracebacks, for when a reason line is not enough (kept with the logs when the run is not as expected).
    writeFileSync(join(dir, 'pytest.log'), py.out);
    const results = JSON.parse(readFileSync(json, 'utf8'));
    const mark = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' };
    for (const r of results) console.log(`${mark[r.outcome]} ${r.id}${r.reason ? ` — ${r.reason}` : ''}`);
    const count = (o) => results.filter((r) => r.outcome === o).length;
    console.log(`\n${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped of ${results.length} (${((Date.now() - started) / 1000).toFixed(1)} s after ${setupSeconds.toFixed(1)} s of set-up; df-api ${api.url}, ${keystone ? `Keystone ${keystone.url}` : 'static tokens'})`);
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
    if (process.exitCode) {
      keepLogs = true;
      console.log(`df-api's log: ${api.log}; pytest's output: ${join(dir, 'pytest.log')}${keystone ? `; Keystone's log: ${keystone.dir}/keystone.log` : ''}`);
    }
    if (keepLogs) keystone?.kill();
    else await keystone?.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Killed (a CI timeout): exit through the 'exit' handlers, which stop df-api, Keystone and pytest.
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(2));
  await main();
}
