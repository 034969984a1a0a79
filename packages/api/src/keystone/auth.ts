import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RequestContext } from '../auth.js';
import { NeutronError } from '../neutron/errors.js';
import { KeystoneClient, type KeystoneSettings, type TokenInfo } from './client.js';

export interface KeystoneAuthSettings extends KeystoneSettings {
  readonly cacheSeconds: number;
  readonly cacheSize: number;
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * Keystone's roles as Neutron's default policy reads them: `admin` may do anything
 * in any project; `member` may write in its own project; anything else (`reader`,
 * a custom role) may only read. Keystone's implied roles (admin ⇒ member ⇒ reader)
 * arrive expanded in the token, so a plain `admin` token also carries `member`.
 */
export function contextFromToken(info: TokenInfo): RequestContext {
  const isAdmin = info.roles.includes('admin');
  const canWrite = isAdmin || info.roles.includes('member');
  return { projectId: info.projectId!, roles: info.roles, isAdmin, readOnly: !canWrite };
}

function unauthorized(message: string): NeutronError {
  return new NeutronError(401, 'HTTPUnauthorized', message);
}

/**
 * `auth.mode: keystone`: X-Auth-Token is validated against Keystone v3 with the
 * service's own token. A valid token is trusted for `cacheSeconds` (never beyond its
 * own expiry) without asking again, so a revoked token is refused at the latest that
 * long after its revocation. Invalid tokens are not cached: each costs a request to
 * Keystone. Concurrent requests with one token share one validation.
 */
export class KeystoneAuth {
  readonly client: KeystoneClient;
  readonly #cacheMs: number;
  readonly #cache: LRUCache<string, RequestContext, string> | undefined;

  private constructor(settings: KeystoneAuthSettings) {
    this.client = new KeystoneClient(settings);
    this.#cacheMs = settings.cacheSeconds * 1000;
    this.#cache =
      this.#cacheMs > 0
        ? new LRUCache<string, RequestContext, string>({
            max: settings.cacheSize,
            ttl: this.#cacheMs,
            fetchMethod: async (_key, _stale, { options, context }) => {
              const info = await this.#validate(context);
              options.ttl = Math.max(1, Math.min(this.#cacheMs, info.expiresAt - Date.now()));
              return contextFromToken(info);
            },
          })
        : undefined;
  }

  /**
   * Connects: issues the service token now, so a wrong URL or wrong credentials stop
   * df-api at start-up with a message saying which, instead of failing every request.
   */
  static async start(settings: KeystoneAuthSettings): Promise<KeystoneAuth> {
    const auth = new KeystoneAuth(settings);
    await auth.client.serviceToken();
    return auth;
  }

  /** The caller of a request: 401 (Neutron's body) for a missing, invalid, expired or revoked token. */
  async authenticate(headers: Headers): Promise<RequestContext> {
    const raw = headers['x-auth-token'];
    const token = Array.isArray(raw) ? raw[0] : raw;
    if (!token) throw unauthorized('Authentication required: send a Keystone token in X-Auth-Token.');
    if (!this.#cache) return contextFromToken(await this.#validate(token));
    const key = createHash('sha256').update(token, 'utf8').digest('base64');
    const ctx = await this.#cache.fetch(key, { context: token });
    if (!ctx) throw unauthorized('The token in X-Auth-Token is not valid.');
    return ctx;
  }

  /** Forgets every validated token and revokes the service token. */
  async close(): Promise<void> {
    this.#cache?.clear();
    await this.client.close();
  }

  async #validate(token: string): Promise<TokenInfo> {
    let info: TokenInfo | null;
    try {
      info = await this.client.validate(token);
    } catch (e) {
      // Keystone down or refusing us: the client cannot be told whether its token is good.
      throw new NeutronError(503, 'HTTPServiceUnavailable', `The Keystone service is not available to validate the token: ${(e as Error).message}`);
    }
    if (info === null) throw unauthorized('The token in X-Auth-Token is not valid: it is unknown to Keystone, expired or revoked.');
    if (info.expiresAt <= Date.now()) throw unauthorized('The token in X-Auth-Token has expired.');
    if (info.projectId === null) throw unauthorized('The token in X-Auth-Token is not scoped to a project: request a project-scoped token.');
    return info;
  }
}
