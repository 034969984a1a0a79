import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What Nova's compute API reference says a "Create External Events" request is
 * (POST /v2.1/os-server-external-events, microversion 2.1): a body with exactly
 * `events`, a non-empty list; each event has exactly `name` (one of the listed
 * event names), `server_uuid` (a UUID) and optionally `tag` (a string) and `status`
 * (failed, completed or in-progress). Returns what is wrong, or null.
 */
export function novaEventsRequestProblem(method: string, path: string, contentType: string | undefined, body: unknown): string | null {
  if (method !== 'POST') return `method ${method}, not POST`;
  if (!/\/os-server-external-events$/.test(path)) return `path ${path} is not …/os-server-external-events`;
  if (!contentType?.startsWith('application/json')) return `content-type ${contentType}, not application/json`;
  if (typeof body !== 'object' || body === null || Object.keys(body).join() !== 'events') return `body keys ${JSON.stringify(Object.keys(body ?? {}))}, not exactly ["events"]`;
  const events = (body as { events: unknown }).events;
  if (!Array.isArray(events) || events.length === 0) return 'events is not a non-empty list';
  const names = ['network-changed', 'network-vif-plugged', 'network-vif-unplugged', 'network-vif-deleted', 'volume-extended', 'power-update', 'accelerator-request-bound'];
  for (const e of events as Record<string, unknown>[]) {
    const extra = Object.keys(e).filter((k) => !['name', 'server_uuid', 'tag', 'status'].includes(k));
    if (extra.length > 0) return `event has keys Nova does not take: ${extra.join(', ')}`;
    if (!names.includes(e['name'] as string)) return `event name ${String(e['name'])} is not one of Nova's`;
    if (typeof e['server_uuid'] !== 'string' || !/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(e['server_uuid'])) return `server_uuid ${String(e['server_uuid'])} is not a UUID`;
    if (e['tag'] !== undefined && typeof e['tag'] !== 'string') return 'tag is not a string';
    if (e['status'] !== undefined && !['failed', 'completed', 'in-progress'].includes(e['status'] as string)) return `status ${String(e['status'])} is not failed, completed or in-progress`;
  }
  return null;
}

export interface RecordedRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly events: Record<string, unknown>[];
}

/**
 * An HTTP endpoint standing in for Nova's: records every events request, refuses
 * (400, as Nova's schema check would) any that its API reference does not allow, and
 * answers as Nova does (200, each event with its code). `failNext` makes the next
 * requests fail with the given statuses first (retry tests).
 */
export class RecordingNova {
  readonly requests: RecordedRequest[] = [];
  readonly problems: string[] = [];
  failNext: number[] = [];
  /** Instances Nova does not know: their events get code 404. */
  readonly unknownServers = new Set<string>();
  url = '';
  #server: Server | undefined;

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const fail = this.failNext.shift();
        if (fail !== undefined) {
          res.writeHead(fail, { 'content-type': 'application/json' }).end('{"computeFault":{"code":503,"message":"try later"}}');
          return;
        }
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const problem = novaEventsRequestProblem(req.method ?? '', req.url ?? '', req.headers['content-type'], body);
        if (problem) {
          this.problems.push(problem);
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ badRequest: { code: 400, message: problem } }));
          return;
        }
        const events = (body as { events: Record<string, unknown>[] }).events;
        this.requests.push({ headers: req.headers, events });
        const answered = events.map((e) => ({ ...e, status: e['status'] ?? 'completed', code: this.unknownServers.has(e['server_uuid'] as string) ? 404 : 200 }));
        res.writeHead(answered.every((e) => e.code === 200) ? 200 : 207, { 'content-type': 'application/json' }).end(JSON.stringify({ events: answered }));
      });
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v2.1`;
    return this;
  }

  /** Every event received, in order. */
  get events(): Record<string, unknown>[] {
    return this.requests.flatMap((r) => r.events);
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((r) => this.#server?.close(r));
  }
}
