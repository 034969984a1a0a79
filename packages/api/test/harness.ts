import { MemoryDriver, type MemoryStore, NbApi } from '@dragonflow/nb';
import type { ApiConfigInput } from '../src/config.js';
import { parseApiConfig } from '../src/config.js';
import type { ApiApp } from '../src/resources/common.js';
import { buildApiServer } from '../src/server.js';

export interface Answer {
  status: number;
  body: Record<string, unknown> & { NeutronError?: { type: string; message: string; detail: string } };
  headers: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** df-api on an in-process memory DB, driven with fastify.inject. */
export class Harness {
  private constructor(
    readonly app: ApiApp,
    readonly nb: NbApi,
    readonly driver: MemoryDriver,
  ) {}

  /** With `store`, several harnesses share one DB, as several df-api processes share one. */
  static async start(config: ApiConfigInput = {}, store?: MemoryStore): Promise<Harness> {
    const driver = store ? new MemoryDriver(store) : MemoryDriver.create();
    const nb = await NbApi.open(driver);
    // placement and the gateway port's host follow liveness every 200 ms here (tests wait for it)
    const app = await buildApiServer({ config: parseApiConfig(config), nb, logger: false, gatewayPlacementIntervalMs: 200 });
    await app.ready();
    return new Harness(app, nb, driver);
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.nb.close();
    await this.driver.close();
  }

  /** Revision of the DB: unchanged after a refused request (nothing half-written). */
  get revision(): number {
    return this.driver.store.revision;
  }

  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await this.app.inject({
      method,
      url,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = res.body;
    return { status: res.statusCode, body: text ? (JSON.parse(text) as Answer['body']) : {}, headers: res.headers as Record<string, unknown> };
  }

  get(url: string, headers?: Record<string, string>): Promise<Answer> {
    return this.call('GET', url, undefined, headers);
  }

  post(url: string, body: unknown, headers?: Record<string, string>): Promise<Answer> {
    return this.call('POST', url, body, headers);
  }

  put(url: string, body: unknown, headers?: Record<string, string>): Promise<Answer> {
    return this.call('PUT', url, body, headers);
  }

  delete(url: string, headers?: Record<string, string>): Promise<Answer> {
    return this.call('DELETE', url, undefined, headers);
  }

  /** POST that must succeed; returns the created resource. */
  async create(collection: string, member: string, attrs: Json, headers?: Record<string, string>): Promise<Json> {
    const r = await this.post(`/v2.0/${collection}`, { [member]: attrs }, headers);
    if (r.status !== 201) throw new Error(`create ${member} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body[member] as Json;
  }

  network(attrs: Json = {}, headers?: Record<string, string>): Promise<Json> {
    return this.create('networks', 'network', { name: 'net', ...attrs }, headers);
  }

  subnet(networkId: string, cidr: string, attrs: Json = {}, headers?: Record<string, string>): Promise<Json> {
    return this.create('subnets', 'subnet', { network_id: networkId, cidr, ip_version: cidr.includes(':') ? 6 : 4, ...attrs }, headers);
  }

  port(networkId: string, attrs: Json = {}, headers?: Record<string, string>): Promise<Json> {
    return this.create('ports', 'port', { network_id: networkId, ...attrs }, headers);
  }

  router(attrs: Json = {}, headers?: Record<string, string>): Promise<Json> {
    return this.create('routers', 'router', { name: 'r', ...attrs }, headers);
  }
}

/** Expects a Neutron error answer and returns it. */
export function neutronError(a: Answer): { type: string; message: string } {
  const e = a.body.NeutronError;
  if (!e) throw new Error(`expected a NeutronError, got ${a.status} ${JSON.stringify(a.body)}`);
  if (e.detail !== '') throw new Error('NeutronError.detail must be a string');
  return e;
}
