import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { NbApi } from '@dragonflow/nb';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyError, type FastifyServerOptions } from 'fastify';
import { authenticate, checkWriteAllowed } from './auth.js';
import { type ApiConfig, type ApiConfigInput, isLoopbackHost, parseApiConfig } from './config.js';
import { openDb } from './db.js';
import { KeystoneAuth } from './keystone/auth.js';
import { describeForLog } from './log-safe.js';
import { startNovaNotification } from './nova/service.js';
import { NeutronError, fromNbError } from './neutron/errors.js';
import { validationError } from './neutron/validation.js';
import type { ApiApp } from './resources/common.js';
import { registerAvailabilityZones } from './resources/availability-zones.js';
import { registerDiscovery } from './resources/discovery.js';
import { registerFloatingIps } from './resources/floating-ips.js';
import { registerIpAvailability } from './resources/ip-availability.js';
import { registerNetworks } from './resources/networks.js';
import { registerPorts } from './resources/ports.js';
import { registerProjects } from './resources/projects.js';
import { registerRbacPolicies } from './resources/rbac-policies.js';
import { registerQuotas } from './resources/quotas.js';
import { registerRouters } from './resources/routers.js';
import { registerSecurityGroups } from './resources/security-groups.js';
import { registerSubnets } from './resources/subnets.js';
import { registerTags } from './resources/tags.js';
import { Backend } from './services/backend.js';
import { GatewayPlacer } from './services/gateway-placement.js';

/**
 * Deepest JSON a request may nest. Neutron bodies need about five levels; a body of
 * thousands of '[' would otherwise reach recursive code (validation, error messages)
 * and overflow the stack.
 */
const MAX_JSON_DEPTH = 32;

/** How deep `text` nests arrays and objects (brackets inside strings do not count): one linear pass. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Routes that answer without a caller: version discovery, the OpenAPI document and liveness. */
const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/', '/openapi.json', '/healthz']);

const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface BuildOptions {
  config: ApiConfig;
  nb: NbApi;
  /** Logger: false for none, true/undefined for pino at config.logLevel, or fastify's logger options. */
  logger?: FastifyServerOptions['logger'];
  /** How often router gateways set while no gateway chassis was alive are looked at, and gateway ports' binding:host_id brought to the active chassis (ms; default 2000). */
  gatewayPlacementIntervalMs?: number;
}

/** Maps anything thrown while serving a request to a Neutron error. */
export function toNeutronError(err: unknown): NeutronError {
  const known = fromNbError(err);
  if (known) return known;
  const fe = err as FastifyError & { validation?: unknown[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation)) return validationError(fe.validation as never, fe.validationContext ?? 'body');
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new NeutronError(413, 'HTTPRequestEntityTooLarge', `Request Entity Too Large: the body is larger than the limit (${fe.message}).`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new NeutronError(415, 'HTTPUnsupportedMediaType', `Unsupported Content-Type: send application/json.`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new NeutronError(400, 'HTTPBadRequest', 'Resource body required: the request body is empty.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new NeutronError(400, 'HTTPBadRequest', `Malformed request body: ${fe.message}`);
    default:
      break;
  }
  if (fe instanceof SyntaxError || (fe?.statusCode === 400 && /JSON/i.test(fe.message))) return new NeutronError(400, 'HTTPBadRequest', `Malformed request body: ${fe.message}`);
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new NeutronError(fe.statusCode, 'HTTPBadRequest', fe.message);
  return new NeutronError(500, 'HTTPInternalServerError', 'Request Failed: internal server error while processing your request.');
}

/** The fastify app serving the Neutron v2.0 API on `nb`. Not listening yet. */
export async function buildApiServer(options: BuildOptions): Promise<ApiApp> {
  const { config, nb } = options;
  // First, so a Keystone that is unreachable or refuses our credentials stops start-up.
  const keystone = config.auth.keystone && config.auth.mode === 'keystone' ? await KeystoneAuth.start(config.auth.keystone) : undefined;
  const backend = new Backend(nb, config);
  const app = Fastify({
    logger: options.logger === undefined || options.logger === true ? { level: config.logLevel } : options.logger,
    bodyLimit: config.bodyLimit,
    genReqId: () => `req-${randomUUID()}`,
    // A long id or name in a path is a resource that does not exist (Neutron's 404), not a
    // framework 414: fastify's default caps a path parameter at 100 characters.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 },
    ajv: {
      // Validate bodies as sent: no coercion, no defaults, no silent removal of unknown attributes.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, verbose: true, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Schemas document answers (OpenAPI); answers are plain JSON, never reshaped by a schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Only JSON bodies: anything else (text/plain included, which fastify parses by default) is a 415.
  app.removeContentTypeParser('text/plain');
  // An empty body with a JSON content type (curl -X DELETE -H 'Content-Type: application/json') is no body.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    const body = typeof text === 'string' ? text : text.toString('utf8');
    if (body.trim() === '') return done(null, undefined);
    const depth = nestingDepth(body);
    if (depth > MAX_JSON_DEPTH) {
      return done(new NeutronError(400, 'HTTPBadRequest', `Malformed request body: JSON nested ${depth} levels deep, more than the ${MAX_JSON_DEPTH} a request may use.`, { field: 'request body' }), undefined);
    }
    try {
      done(null, JSON.parse(body));
    } catch (e) {
      done(new NeutronError(400, 'HTTPBadRequest', `Malformed request body: ${(e as Error).message}`), undefined);
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'df-api: Neutron v2.0 compatible networking API',
        version: VERSION,
        description:
          'The Neutron v2.0 API subset served by Dragonflow. Errors are {"NeutronError": {"type", "message", "detail"}}. ' +
          'List calls accept attribute filters (?name=a&name=b, fixed_ips=ip_address=…), fields=, limit/marker/page_reverse and sort_key/sort_dir.',
      },
      components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } } },
      security: config.auth.mode === 'noauth' ? [] : [{ token: [] }],
    },
  });

  app.decorateRequest('neutron', undefined);
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-openstack-request-id', req.id);
    // Decided on the route the router matched (it decodes and normalises the path),
    // never on the raw URL: '/%762.0/networks' is the networks route too. Everything
    // but the public routes needs a caller, also paths that match no route.
    const route = req.routeOptions.url ?? '';
    if (PUBLIC_ROUTES.has(route)) return;
    req.neutron = keystone ? await keystone.authenticate(req.headers) : authenticate(config.auth, req.headers);
    if (route !== '') checkWriteAllowed(req.neutron, req.method, route);
  });

  app.setErrorHandler((err, req, reply) => {
    const ne = toNeutronError(err);
    // The error object itself is not logged: DB errors carry endpoints, maybe with credentials.
    if (ne.status >= 500) req.log.error({ type: ne.type, status: ne.status }, `request failed: ${describeForLog(err)}`);
    else req.log.info({ type: ne.type, status: ne.status }, ne.message);
    void reply.code(ne.status).header('content-type', 'application/json; charset=utf-8').send(ne.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const ne = new NeutronError(404, 'HTTPNotFound', `The resource could not be found: ${req.method} ${req.url.split('?')[0]}`);
    void reply.code(404).send(ne.body);
  });

  const nova = config.nova ? await startNovaNotification(config.nova, nb.driver, keystone?.client, app.log) : undefined;
  // Nova's last events go out with the service token, which closing Keystone revokes: in this order.
  app.addHook('onClose', async () => {
    await nova?.stop();
    await keystone?.close();
  });

  registerDiscovery(app, backend);
  registerNetworks(app, backend);
  registerSubnets(app, backend);
  registerPorts(app, backend);
  registerRouters(app, backend);
  registerFloatingIps(app, backend);
  registerSecurityGroups(app, backend);
  registerQuotas(app, backend);
  registerProjects(app, backend);
  registerTags(app, backend);
  registerIpAvailability(app, backend);
  registerRbacPolicies(app, backend);
  registerAvailabilityZones(app, backend);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok', db: nb.driver.kind, revision: nb.reader.revision }));
  // Gateways set before any gateway chassis was alive are placed once one is.
  const placer = new GatewayPlacer(nb, app.log, options.gatewayPlacementIntervalMs);
  placer.start();
  app.addHook('onClose', async () => placer.stop());
  return app;
}

export interface StartOptions {
  /** The configuration (validated; defaults fill what is missing). */
  config?: ApiConfigInput | ApiConfig;
  /** Serve this NbApi instead of opening the configured DB (the caller keeps owning it). */
  nb?: NbApi;
  logger?: FastifyServerOptions['logger'];
}

export interface ApiServerHandle {
  /** http://HOST:PORT of the API (the bound port when the config said 0). */
  readonly url: string;
  readonly port: number;
  readonly nb: NbApi;
  readonly config: ApiConfig;
  /** Endpoints the memory DB is served on (db.serve), for df-controllers. */
  readonly dbEndpoints: readonly string[];
  readonly app: ApiApp;
  /** Stops listening and closes the DB it opened. */
  close(): Promise<void>;
}

/** Starts df-api: opens the DB (unless `nb` is given), listens, and returns a handle. */
export async function startApiServer(options: StartOptions = {}): Promise<ApiServerHandle> {
  const config = parseApiConfig(options.config ?? {});
  // The served DB may close a misbehaving client before the logger exists; later ones are logged.
  let logPeerClosed: ((e: { peer: string; reason: string }) => void) | undefined;
  const db = options.nb ? undefined : await openDb(config.db, (e) => logPeerClosed?.(e));
  const nb = options.nb ?? db!.nb;
  let app: ApiApp | undefined;
  try {
    app = await buildApiServer({ config, nb, ...(options.logger !== undefined ? { logger: options.logger } : {}) });
    if (config.auth.mode === 'noauth' && !isLoopbackHost(config.listen.host)) {
      // Allowed only by auth.allowInsecureNoauth (the config refuses it otherwise): say so loudly.
      const warning = `INSECURE: noauth on ${config.listen.host} (auth.allowInsecureNoauth: true): anyone who reaches port ${config.listen.port} can act as any project or as admin`;
      app.log.warn({ host: config.listen.host, key: 'auth.allowInsecureNoauth' }, warning);
      process.emitWarning(warning, { code: 'DF_API_INSECURE_NOAUTH' });
    }
    const log = app.log;
    logPeerClosed = (e) => log.warn({ peer: e.peer, reason: e.reason }, 'closed a connection to the served NB DB');
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (e) {
    await app?.close();
    await db?.close();
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : config.listen.port;
  const host = config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host === '::' ? '[::1]' : config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const running = app;
  let closed = false;
  return {
    url: `http://${host}:${port}`,
    port,
    nb,
    config,
    dbEndpoints: db?.servedAt ?? [],
    app: running,
    async close() {
      if (closed) return;
      closed = true;
      await running.close();
      await db?.close();
    },
  };
}
