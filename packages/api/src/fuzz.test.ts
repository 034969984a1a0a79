import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../test/harness.js';

/*
 * A bounded fuzz run over every df-api route and method (taken from the OpenAPI
 * description, so a new route is fuzzed without touching this file): malformed,
 * random and oversized JSON bodies, random query strings, as an admin and as a
 * member of another project. Every answer must be a Neutron error or a success —
 * never a 5xx; a refused request writes nothing; an input error names the attribute
 * it is about; an oversized body is refused before it is parsed.
 */

const BODY_LIMIT = 64 * 1024;
const RUNS_PER_ROUTE = 40;
const SEED = 20261207;

type Route = { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; member: string | undefined; collection: string | undefined; attrs: string[] };
type Caller = Record<string, string>;

const ADMIN: Caller = {};
const MEMBER: Caller = { 'x-project-id': 'fuzzer' };

let h: Harness;
const ids: Record<string, string> = {};

/** Objects for the path parameters, so requests reach the handlers' checks rather than 404 at once. */
async function topology(): Promise<void> {
  const net = await h.network({ name: 'fuzz-net', shared: true });
  ids['networks'] = String(net['id']);
  ids['subnets'] = String((await h.subnet(ids['networks'], '10.77.0.0/24'))['id']);
  ids['ports'] = String((await h.port(ids['networks']))['id']);
  ids['routers'] = String((await h.router())['id']);
  const ext = String((await h.network({ name: 'fuzz-ext', 'router:external': true }))['id']);
  await h.subnet(ext, '172.31.0.0/24', { enable_dhcp: false });
  ids['floatingips'] = String((await h.create('floatingips', 'floatingip', { floating_network_id: ext }))['id']);
  const sg = await h.create('security-groups', 'security_group', { name: 'fuzz-sg' });
  ids['security-groups'] = String(sg['id']);
  ids['security-group-rules'] = String((sg['security_group_rules'] as { id: string }[])[0]!.id);
}

function routes(): Route[] {
  const doc = h.app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, { properties?: Record<string, unknown>; items?: { properties?: Record<string, unknown> } }> } }> } }>> };
  const out: Route[] = [{ method: 'GET', path: '/', member: undefined, collection: undefined, attrs: [] }, { method: 'GET', path: '/healthz', member: undefined, collection: undefined, attrs: [] }];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(methods)) {
      const method = m.toUpperCase() as Route['method'];
      if (!['GET', 'POST', 'PUT', 'DELETE'].includes(method)) continue;
      const props = op.requestBody?.content['application/json']?.schema.properties ?? {};
      const keys = Object.keys(props);
      const member = keys.find((k) => props[k]?.properties !== undefined);
      const collection = keys.find((k) => props[k]?.items !== undefined);
      const inner = member ? Object.keys(props[member]!.properties ?? {}) : keys;
      out.push({ method, path, member: member ?? (keys.length === 1 ? keys[0] : undefined), collection, attrs: inner });
    }
  }
  return out;
}

function urlOf(path: string): string {
  const collection = path.split('/')[2] ?? '';
  return path
    .replace('{id}', ids[collection] ?? (path.startsWith('/projects') ? 'fuzzer' : '00000000-0000-4000-8000-000000000000'))
    .replace('{project_id}', 'fuzzer')
    .replace('{alias}', 'router');
}

/** Values that pass the schema often enough to reach the semantic checks. */
const plausible = fc.constantFrom<unknown>('10.77.0.0/24', '10.77.0.5', '0.0.0.0/0', '::/0', 'fe80::1', 4, 6, '4', true, false, null, '', 'x'.repeat(300), -1, 2 ** 40, [], {}, [{}], [{ ip_address: '10.77.0.9' }], 'ingress', 'tcp', 'vxlan', 'fa:16:3e:00:00:01');
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), plausible, fc.constantFrom<unknown>(...Object.values({ a: 1 })));

function bodyFor(route: Route): fc.Arbitrary<string> {
  const key = fc.oneof(route.attrs.length > 0 ? fc.constantFrom(...route.attrs) : fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 }));
  const idValue = fc.constantFrom(...Object.values(ids));
  const attrs = fc.dictionary(key, fc.oneof(anyValue, idValue), { maxKeys: 6 });
  const shapes: fc.Arbitrary<string>[] = [
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 200 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ x: v }).slice(0, -1)),
    fc.integer({ min: 1, max: 50_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  ];
  if (route.member) shapes.push(attrs.map((a) => JSON.stringify({ [route.member!]: a })), attrs.map((a) => JSON.stringify({ [route.member!]: a })));
  if (route.collection) shapes.push(fc.array(attrs, { maxLength: 4 }).map((list) => JSON.stringify({ [route.collection!]: list })));
  return fc.oneof(...shapes);
}

const queryFor: fc.Arbitrary<string> = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom('fields', 'limit', 'marker', 'page_reverse', 'sort_key', 'sort_dir', 'name', 'id', 'fixed_ips', 'shared', 'project_id'), fc.string({ maxLength: 8 })), fc.string({ maxLength: 20 })), { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? '' : '?' + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')));

/** The attribute an input error names, if its message is one of the shapes that name one. */
function namedField(message: string): string | undefined {
  const m = /^Invalid input for ([^ ]+?)\. Reason:/.exec(message) ?? /^Unrecognized attribute\(s\) '(.+)'(?: \(\w+\))?$/s.exec(message) ?? /Required attribute '(.+)' not specified/s.exec(message);
  return m?.[1];
}

function topKeys(payload: string | undefined): Set<string> {
  const out = new Set<string>();
  if (payload === undefined) return out;
  try {
    const v = JSON.parse(payload) as unknown;
    const walk = (x: unknown, depth: number): void => {
      if (depth > 3 || x === null || typeof x !== 'object') return;
      for (const [k, child] of Object.entries(x)) {
        out.add(k);
        walk(child, depth + 1);
      }
    };
    walk(v, 0);
  } catch {
    // malformed: no keys
  }
  return out;
}

async function check(route: Route, caller: Caller, payload: string | undefined, query: string, stats: { named: number; errors: number; ok: number }): Promise<void> {
  const before = h.revision;
  const res = await h.app.inject({ method: route.method, url: urlOf(route.path) + query, headers: { ...caller, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(payload !== undefined ? { payload } : {}) });
  const where = `${route.method} ${route.path}${query} ${payload?.slice(0, 200) ?? ''}`;
  expect(res.statusCode, `${where} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
  if (res.statusCode < 400) {
    stats.ok++;
    return;
  }
  stats.errors++;
  expect(h.revision, `${where} was refused (${res.statusCode}) but wrote`).toBe(before);
  const body = JSON.parse(res.body) as { NeutronError?: { type: string; message: string; detail: string } };
  expect(body.NeutronError, where).toMatchObject({ type: expect.any(String), message: expect.any(String), detail: '' });
  const field = namedField(body.NeutronError!.message);
  if (res.statusCode === 400 && field !== undefined && !body.NeutronError!.message.startsWith('Failed to parse') && !/Required attribute/.test(body.NeutronError!.message)) {
    stats.named++;
    const params = new Set(['request body', 'If-Match', 'X-Project-Id', 'project_id', 'fields', 'limit', 'marker', 'page_reverse', 'sort_key', 'sort_dir']);
    for (const [k] of new URLSearchParams(query)) params.add(k);
    const holds = [...topKeys(payload), ...params].some((k) => field === k || field.startsWith(`${k}.`) || field.startsWith(`${k}[`) || field.startsWith(`${k} (`));
    expect(holds, `${where}: the error names '${field}', which the request does not hold`).toBe(true);
  }
}

describe('fuzzing every df-api route', () => {
  beforeAll(async () => {
    h = await Harness.start({ bodyLimit: BODY_LIMIT });
    await topology();
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers random, malformed and deep bodies and random queries with a Neutron 4xx or a success, never a 5xx, and a refused request writes nothing', { timeout: 120_000 }, async () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(40);
    const stats = { named: 0, errors: 0, ok: 0 };
    const heapBefore = process.memoryUsage().heapUsed;
    for (const route of all) {
      const arb = route.method === 'GET' ? fc.tuple(fc.constant(undefined), queryFor) : fc.tuple(bodyFor(route).map((s): string | undefined => s), fc.constant(''));
      await fc.assert(
        fc.asyncProperty(arb, fc.boolean(), async ([payload, query], asAdmin) => {
          await check(route, asAdmin ? ADMIN : MEMBER, payload, query, stats);
        }),
        { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
      );
    }
    // The run reached the handlers: errors of every kind, some naming attributes, some successes.
    expect(stats.errors).toBeGreaterThan(all.length * 10);
    expect(stats.named).toBeGreaterThan(100);
    expect(stats.ok).toBeGreaterThan(50);
    expect((await h.get('/healthz')).status).toBe(200);
    // Nothing grows without bound: thousands of requests leave the heap within a generous margin.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 * 1024 * 1024);
  });

  it('refuses an oversized body on every route with a body, before parsing it', async () => {
    const big = JSON.stringify({ network: { name: 'x'.repeat(BODY_LIMIT) } });
    for (const route of routes().filter((r) => r.method !== 'GET')) {
      const before = h.revision;
      const res = await h.app.inject({ method: route.method, url: urlOf(route.path), headers: { 'content-type': 'application/json' }, payload: big });
      expect(res.statusCode, `${route.method} ${route.path}`).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ NeutronError: { type: 'HTTPRequestEntityTooLarge' } });
      expect(h.revision).toBe(before);
    }
  });
});
