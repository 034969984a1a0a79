import { DfError, backoffDelay } from '@dragonflow/base';
import type { KeystoneClient } from '../keystone/client.js';
import type { NovaEvent } from './events.js';

/** The `nova` section of the config. */
export interface NovaSettings {
  /** Nova's compute endpoint (…/v2.1); null: the `compute` endpoint of Keystone's catalog. */
  readonly url: string | null;
  readonly interface: 'public' | 'internal' | 'admin';
  readonly region: string | null;
  readonly batchIntervalMs: number;
  readonly retries: number;
  readonly timeoutMs: number;
}

export interface NotifierLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Nova's answer for one event: 200 delivered, 404 no such instance, 422 not applicable. */
export interface EventResult extends NovaEvent {
  readonly code: number;
}

/** The compute endpoint: as configured, else from the service catalog of our Keystone token. */
export function novaEndpoint(settings: NovaSettings, keystone: KeystoneClient | undefined): string {
  if (settings.url !== null) return settings.url.replace(/\/+$/, '');
  const found = keystone?.catalog.find((e) => e.type === 'compute' && e.interface === settings.interface && (settings.region === null || e.region === settings.region));
  if (!found) {
    throw new DfError('NOVA_ENDPOINT_UNKNOWN', `nova: Keystone's catalog has no compute endpoint for interface ${settings.interface}${settings.region ? ` in region ${settings.region}` : ''}: register Nova's or set nova.url`, {
      context: { interface: settings.interface, region: settings.region, key: 'nova.url' },
    });
  }
  return found.url.replace(/\/+$/, '');
}

/**
 * Posts port events to Nova's /os-server-external-events as Neutron's notifier does:
 * events are gathered for `batchIntervalMs` (Neutron's send_events_interval) and sent
 * in one request; a request that fails to connect, times out or gets a 5xx is tried
 * again up to `retries` times with growing pauses (Neutron's http_retries); a 401
 * re-issues the service token first. One batch is in flight at a time, so Nova sees
 * events in the order they happened.
 */
export class NovaNotifier {
  readonly #settings: NovaSettings;
  readonly #keystone: KeystoneClient | undefined;
  readonly #log: NotifierLog;
  readonly #url: string;
  #pending: NovaEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(settings: NovaSettings, keystone: KeystoneClient | undefined, log: NotifierLog) {
    this.#settings = settings;
    this.#keystone = keystone;
    this.#log = log;
    this.#url = `${novaEndpoint(settings, keystone)}/os-server-external-events`;
  }

  get url(): string {
    return this.#url;
  }

  /** Queues events for the next batch. */
  enqueue(events: readonly NovaEvent[]): void {
    if (this.#closed || events.length === 0) return;
    this.#pending.push(...events);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#settings.batchIntervalMs);
  }

  /** Sends what is queued now (after the batch in flight). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) this.#sending = this.#sending.then(() => this.#send(batch));
    return this.#sending;
  }

  /** Sends what is queued, then takes no more. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  async #send(events: NovaEvent[]): Promise<void> {
    const body = JSON.stringify({ events });
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'x-openstack-nova-api-version': '2.1' };
        if (this.#keystone) headers['x-auth-token'] = await this.#keystone.serviceToken();
        const res = await fetch(this.#url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.#settings.timeoutMs) });
        const text = await res.text();
        if (res.status === 200 || res.status === 207) return this.#answered(events, text);
        if (res.status === 404) {
          // Nova's 404: none of the instances exists (deleted meanwhile): nothing to deliver.
          this.#log.warn({ status: 404, events: events.length }, `Nova knows none of the instances of ${events.length} event(s): ${text.slice(0, 200)}`);
          return;
        }
        if (res.status === 401 && this.#keystone) this.#keystone.forgetServiceToken();
        else if (res.status < 500) {
          this.#log.error({ status: res.status, events: events.length }, `Nova refused ${events.length} event(s) with ${res.status}: ${text.slice(0, 300)}`);
          return;
        }
        failure = `HTTP ${res.status}`;
      } catch (e) {
        failure = (e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e)) || 'request failed';
      }
      if (attempt >= this.#settings.retries) {
        this.#log.error({ url: this.#url, events: events.length, attempts: attempt + 1 }, `gave up sending ${events.length} event(s) to Nova after ${attempt + 1} attempts: ${failure}`);
        return;
      }
      this.#log.warn({ url: this.#url, attempt: attempt + 1 }, `sending events to Nova failed (${failure}): trying again`);
      await new Promise((r) => setTimeout(r, backoffDelay(attempt + 1, { initialMs: 500, maxMs: 8000, jitter: 0.2 })));
    }
  }

  #answered(sent: NovaEvent[], text: string): void {
    let results: EventResult[];
    try {
      results = (JSON.parse(text) as { events: EventResult[] }).events;
    } catch {
      results = sent.map((e) => ({ ...e, code: 200 }));
    }
    for (const r of results) {
      if (r.code !== 200) this.#log.warn({ event: r.name, server: r.server_uuid, port: r.tag, code: r.code }, `Nova did not take ${r.name} for instance ${r.server_uuid} (code ${r.code})`);
    }
    this.#log.info({ events: results.length }, `sent ${results.length} event(s) to Nova`);
  }
}
