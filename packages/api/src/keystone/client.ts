import { readFileSync } from 'node:fs';
import { DfError } from '@dragonflow/base';

/** The `auth.keystone` section of the config. */
export interface KeystoneSettings {
  readonly url: string;
  readonly username: string;
  readonly password?: string | undefined;
  readonly passwordFile?: string | undefined;
  readonly userDomainId: string;
  readonly projectName: string;
  readonly projectDomainId: string;
  readonly timeoutMs: number;
}

/** What Keystone says about a token (the parts df-api uses). */
export interface TokenInfo {
  readonly userId: string;
  readonly projectId: string | null;
  readonly roles: readonly string[];
  readonly expiresAt: number;
}

/** One endpoint of Keystone's service catalog. */
export interface CatalogEndpoint {
  readonly type: string;
  readonly interface: string;
  readonly region: string | null;
  readonly url: string;
}

interface TokenBody {
  token?: {
    expires_at?: string;
    user?: { id?: string };
    project?: { id?: string };
    roles?: { name?: string }[];
    catalog?: { type?: string; endpoints?: { interface?: string; region_id?: string | null; region?: string | null; url?: string }[] }[];
  };
}

/**
 * A service token is re-issued this long before it expires (or after three quarters
 * of its life, for short-lived tokens), so a validation never goes out with one
 * that lapses in flight.
 */
const REFRESH_MARGIN_MS = 120_000;

function needsRefresh(s: { issuedAt: number; info: TokenInfo }, now: number): boolean {
  const margin = Math.min(REFRESH_MARGIN_MS, (s.info.expiresAt - s.issuedAt) / 4);
  return s.info.expiresAt - now <= margin;
}

function parseToken(body: TokenBody, where: string): TokenInfo {
  const t = body.token;
  const expiresAt = Date.parse(t?.expires_at ?? '');
  if (!t || !t.user?.id || Number.isNaN(expiresAt)) throw new DfError('KEYSTONE_BAD_ANSWER', `Keystone's answer to ${where} has no token (user and expires_at)`, { context: { where } });
  return {
    userId: t.user.id,
    projectId: t.project?.id ?? null,
    roles: (t.roles ?? []).map((r) => (r.name ?? '').toLowerCase()).filter(Boolean),
    expiresAt,
  };
}

function parseCatalog(body: TokenBody): CatalogEndpoint[] {
  return (body.token?.catalog ?? []).flatMap((s) =>
    (s.endpoints ?? []).flatMap((e) => (s.type && e.url && e.interface ? [{ type: s.type, interface: e.interface, region: e.region_id ?? e.region ?? null, url: e.url }] : [])),
  );
}

/**
 * Talks to Keystone v3 for df-api: holds the service's own token (issued with the
 * configured credentials, re-issued before it expires) and validates the tokens
 * clients send with it (GET /v3/auth/tokens, X-Subject-Token).
 */
export class KeystoneClient {
  readonly #settings: KeystoneSettings;
  readonly #base: string;
  readonly #password: string;
  #service: { token: string; info: TokenInfo; issuedAt: number; catalog: CatalogEndpoint[] } | undefined;
  #issuing: Promise<string> | undefined;

  constructor(settings: KeystoneSettings) {
    this.#settings = settings;
    this.#base = settings.url.replace(/\/+$/, '');
    this.#password = settings.password ?? readPasswordFile(settings.passwordFile!);
  }

  get url(): string {
    return this.#base;
  }

  /** The service catalog of the service token (empty before the first token). */
  get catalog(): readonly CatalogEndpoint[] {
    return this.#service?.catalog ?? [];
  }

  /** A valid service token, issued or re-issued when the current one is near its end. */
  async serviceToken(): Promise<string> {
    const s = this.#service;
    if (s && !needsRefresh(s, Date.now())) return s.token;
    this.#issuing ??= this.#issue().finally(() => {
      this.#issuing = undefined;
    });
    return this.#issuing;
  }

  /** Drops the service token (a service answered 401 to it): the next call issues a new one. */
  forgetServiceToken(): void {
    this.#service = undefined;
  }

  /**
   * What Keystone says about `token`: its project and roles, or null when Keystone
   * does not know it (invalid, expired or revoked: Keystone's 404). A 401 means our
   * own token lapsed early (Keystone restarted with new keys, say): re-issued once.
   */
  async validate(token: string): Promise<TokenInfo | null> {
    for (let attempt = 0; ; attempt++) {
      const service = await this.serviceToken();
      const res = await this.#request('GET', '/auth/tokens?nocatalog', { 'x-auth-token': service, 'x-subject-token': token }, undefined, 'validating a token');
      if (res.status === 200) return parseToken((await res.json()) as TokenBody, 'GET /v3/auth/tokens');
      await res.body?.cancel();
      if (res.status === 404) return null;
      if (res.status === 401 && attempt === 0) {
        this.#service = undefined;
        continue;
      }
      throw new DfError('KEYSTONE_ERROR', `Keystone answered ${res.status} to a token validation at ${this.#base}/auth/tokens (the service user '${this.#settings.username}' needs the admin or service role)`, {
        context: { url: this.#base, status: res.status, user: this.#settings.username },
      });
    }
  }

  /** Revokes the service token (on shutdown), so it is not left valid for hours. */
  async close(): Promise<void> {
    const s = this.#service;
    this.#service = undefined;
    if (!s) return;
    try {
      const res = await this.#request('DELETE', '/auth/tokens', { 'x-auth-token': s.token, 'x-subject-token': s.token }, undefined, 'revoking the service token');
      await res.body?.cancel();
    } catch {
      // Keystone gone at shutdown: the token expires by itself.
    }
  }

  async #issue(): Promise<string> {
    const k = this.#settings;
    const body = {
      auth: {
        identity: { methods: ['password'], password: { user: { name: k.username, domain: { id: k.userDomainId }, password: this.#password } } },
        scope: { project: { name: k.projectName, domain: { id: k.projectDomainId } } },
      },
    };
    const res = await this.#request('POST', '/auth/tokens', { 'content-type': 'application/json' }, JSON.stringify(body), 'issuing the service token');
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) {
      const detail = await res.text().catch(() => '');
      const why = res.status === 401 ? 'the service credentials are wrong (user, password, domain or project)' : `Keystone answered ${res.status}`;
      throw new DfError('KEYSTONE_AUTH_FAILED', `cannot get a service token from Keystone at ${this.#base} as '${k.username}' in project '${k.projectName}': ${why}`, {
        context: { url: this.#base, user: k.username, project: k.projectName, status: res.status, answer: detail.slice(0, 300) },
      });
    }
    const parsed = (await res.json()) as TokenBody;
    this.#service = { token, info: parseToken(parsed, 'POST /v3/auth/tokens'), issuedAt: Date.now(), catalog: parseCatalog(parsed) };
    return token;
  }

  async #request(method: string, path: string, headers: Record<string, string>, body: string | undefined, what: string): Promise<Response> {
    try {
      return await fetch(`${this.#base}${path}`, { method, headers: { accept: 'application/json', ...headers }, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(this.#settings.timeoutMs) });
    } catch (cause) {
      const reason = cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
      throw new DfError('KEYSTONE_UNREACHABLE', `Keystone at ${this.#base} is unreachable while ${what}: ${reason}`, { cause, context: { url: this.#base, timeoutMs: this.#settings.timeoutMs } });
    }
  }
}

function readPasswordFile(file: string): string {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text === '') throw new Error('the file is empty');
    return text;
  } catch (cause) {
    throw new DfError('CONFIG_INVALID', `auth.keystone.passwordFile: cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause, context: { file } });
  }
}
