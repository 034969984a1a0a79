import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DfError, isValidIp } from '@dragonflow/base';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { controllerTargetFor } from './switch-setup.js';

/**
 * The df-controller configuration file (YAML or JSON). Every key is checked; an
 * error names the file, the key and the reason. Example (docs/controller.md has
 * the full reference):
 *
 * ```yaml
 * chassis:
 *   name: compute-1
 *   tunnelIp: 192.0.2.11
 *   tunnelTypes: [vxlan]
 * db:
 *   driver: etcd
 *   endpoints: [http://192.0.2.1:2379]
 * ovsdb:
 *   endpoint: unix:/var/run/openvswitch/db.sock
 * openflow:
 *   listen: tcp:127.0.0.1:6653
 * bridge:
 *   integration: br-int
 *   datapathType: netdev
 *   mappings: { physnet1: br-phys }
 * apps:
 *   - '@dragonflow/app-l2'
 *   - package: '@dragonflow/app-dhcp'
 *     options: { leaseTime: 86400 }
 * management:
 *   listen: tcp:127.0.0.1:9100
 * logLevel: info
 * ```
 */

const TUNNEL_TYPES = ['vxlan', 'geneve', 'gre'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const ipText = z.string().refine(isValidIp, 'must be an IPv4 or IPv6 address');
const bridgeName = z
  .string()
  .min(1, 'must not be empty')
  .max(15, 'must be at most 15 characters (a Linux interface name)')
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, _ . -');

/** An OpenFlow/OVSDB endpoint: tcp:HOST:PORT, ptcp:PORT[:HOST], unix:PATH or punix:PATH. */
const endpoint = z.string().refine((s) => /^(tcp:[^:]+:\d+|tcp:\[[^\]]+\]:\d+|ptcp:\d+(:.+)?|unix:.+|punix:.+)$/.test(s), 'must be tcp:HOST:PORT, ptcp:PORT[:HOST], unix:PATH or punix:PATH');

const npmName = z.string().regex(/^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/, 'must be an npm package name');

const appEntry = z.union([npmName.transform((name) => ({ package: name, options: undefined as unknown })), z.object({ package: npmName, options: z.unknown().optional() }).strict()]);

/** `unix:/abs/path` (a unix socket). */
const UNIX_RE = /^unix:(\/\/)?\/.+/;

function dbEndpointProblem(driver: 'memory' | 'etcd' | 'redis', e: string): string | undefined {
  switch (driver) {
    case 'memory':
      return /^(unix:\/.+|tcp:[^:]+:\d+)$/.test(e) ? undefined : 'must be unix:/PATH or tcp:HOST:PORT (where df-api serves its memory DB)';
    case 'etcd':
      return /^https?:\/\/[^/]+(\/)?$/.test(e) || UNIX_RE.test(e) ? undefined : 'must be http(s)://HOST:PORT or unix:/PATH';
    case 'redis':
      return /^rediss?:\/\/[^/]+(\/\d+)?$/.test(e) || UNIX_RE.test(e) ? undefined : 'must be redis://HOST:PORT[/DB] or unix:/PATH';
  }
}

/** Where df-controller listens for br-int by default: a 0600 socket in a directory it creates 0700. */
export const DEFAULT_OPENFLOW_LISTEN = 'unix:/var/run/dragonflow/openflow/br-int.sock';

const dbSection = z
  .object({
    driver: z.enum(['memory', 'etcd', 'redis']).default('memory'),
    /**
     * memory: where df-api serves its DB (unix:/PATH or tcp:HOST:PORT; none = an
     * embedded DB private to this process, for tests); etcd: http(s)://HOST:PORT or
     * unix:/PATH URLs; redis: redis://HOST:PORT[/DB] or unix:/PATH.
     */
    endpoints: z.array(z.string().min(1, 'must not be empty')).default([]),
    /** etcd/redis key prefix (the drivers' default when absent). */
    prefix: z.string().min(1, 'must not be empty').optional(),
    /** memory: file holding this controller's token, as granted in df-api's db.grants (role controller). */
    tokenFile: z.string().min(1, 'must not be empty').optional(),
    /** memory over tcp with TLS: the CA certificate (PEM file) that signed df-api's certificate. */
    caFile: z.string().min(1, 'must not be empty').optional(),
  })
  .strict()
  .superRefine((db, ctx) => {
    if (db.driver !== 'memory' && db.tokenFile !== undefined) ctx.addIssue({ code: 'custom', path: ['tokenFile'], message: 'only applies to the memory driver (etcd and redis carry credentials in their URLs)' });
    if (db.driver !== 'memory' && db.caFile !== undefined) ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'only applies to the memory driver' });
    if (db.driver === 'memory' && db.endpoints.length > 0 && db.tokenFile === undefined) ctx.addIssue({ code: 'custom', path: ['tokenFile'], message: 'is required with a memory endpoint: df-api serves its DB only to clients with a token' });
    if (db.driver !== 'memory' && db.endpoints.length === 0) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: `at least one endpoint is required for the ${db.driver} driver` });
    if (db.driver === 'memory' && db.endpoints.length > 1) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'the memory driver takes one endpoint (where df-api serves it)' });
    if (db.driver === 'memory' && db.prefix !== undefined) ctx.addIssue({ code: 'custom', path: ['prefix'], message: 'only applies to the etcd and redis drivers' });
    db.endpoints.forEach((e, i) => {
      const problem = dbEndpointProblem(db.driver, e);
      if (problem) ctx.addIssue({ code: 'custom', path: ['endpoints', i], message: `'${e}' ${problem}` });
    });
  });

const bfdInterval = z.number().int('must be an integer').min(10, 'must be at least 10 (ms)').max(60_000, 'must be at most 60000 (ms)');

export const GATEWAY_BFD_DEFAULTS = { enabled: true, minTxMs: 100, minRxMs: 100, stableMs: 2000 } as const;

/**
 * chassis.gatewayBfd: BFD sessions to the other gateway chassis of this chassis'
 * routers, on per-peer tunnel ports; the next gateway chassis takes a router over
 * when BFD to its active one goes down (docs/ha.md).
 */
const gatewayBfdSection = z
  .object({
    enabled: z.boolean().default(GATEWAY_BFD_DEFAULTS.enabled),
    /** OVS bfd:min_tx: how often this side sends (ms). */
    minTxMs: bfdInterval.default(GATEWAY_BFD_DEFAULTS.minTxMs),
    /** OVS bfd:min_rx: how often this side wants to receive (ms); the peer is down after 3 × the negotiated interval without a packet. */
    minRxMs: bfdInterval.default(GATEWAY_BFD_DEFAULTS.minRxMs),
    /** A BFD session must have been up this long before its going down counts (a flapping session moves nothing). */
    stableMs: z.number().int('must be an integer').min(0, 'must not be negative').max(600_000, 'must be at most 600000').default(GATEWAY_BFD_DEFAULTS.stableMs),
  })
  .strict();

/** Where the health and metrics endpoints listen: tcp:HOST:PORT or unix:PATH. */
const managementEndpoint = z.string().refine((s) => /^(tcp:[^:]+:\d+|tcp:\[[^\]]+\]:\d+|unix:.+)$/.test(s), 'must be tcp:HOST:PORT or unix:PATH');

export const controllerConfigSchema = z
  .object({
    chassis: z
      .object({
        name: z
          .string()
          .min(1, 'must not be empty')
          .max(255)
          .default(() => hostname()),
        tunnelIp: ipText.optional(),
        tunnelTypes: z.array(z.enum(TUNNEL_TYPES)).default([]),
        /** The chassis can act as a gateway (SNAT, external networks). */
        gateway: z.boolean().default(false),
        /** The availability zone of this chassis (df-api lists the zones of all chassis). */
        availabilityZone: z
          .string()
          .min(1, 'must not be empty')
          .max(255)
          .regex(/^[A-Za-z0-9_.:-]+$/, 'may only hold letters, digits and _ . : -')
          .default('nova'),
        /** Liveness lease ttl: other chassis see this one gone this long after its controller stops. */
        livenessTtlMs: z.number().int('must be an integer').min(1000, 'must be at least 1000 (etcd leases have a granularity of a second)').max(600_000, 'must be at most 600000').default(10_000),
        /** BFD between the gateway chassis of a router (docs/ha.md, "BFD"): used only when gateway is true and a tunnel type is set. */
        gatewayBfd: gatewayBfdSection.default(GATEWAY_BFD_DEFAULTS),
      })
      .strict()
      .superRefine((c, ctx) => {
        if (c.tunnelTypes.length > 0 && !c.tunnelIp) ctx.addIssue({ code: 'custom', path: ['tunnelIp'], message: `is required when tunnelTypes is set (${c.tunnelTypes.join(', ')})` });
        if (new Set(c.tunnelTypes).size !== c.tunnelTypes.length) ctx.addIssue({ code: 'custom', path: ['tunnelTypes'], message: 'lists a tunnel type twice' });
      })
      .default(() => ({ name: hostname(), tunnelTypes: [], gateway: false, availabilityZone: 'nova', livenessTtlMs: 10_000, gatewayBfd: { ...GATEWAY_BFD_DEFAULTS } })),
    db: dbSection.default(() => ({ driver: 'memory' as const, endpoints: [] })),
    ovsdb: z.object({ endpoint: endpoint.default('unix:/var/run/openvswitch/db.sock') }).strict().default({ endpoint: 'unix:/var/run/openvswitch/db.sock' }),
    // A unix socket by default: only its owner (and root's vswitchd) can connect, unlike any local user on a loopback port.
    openflow: z.object({ listen: endpoint.default(DEFAULT_OPENFLOW_LISTEN) }).strict().default({ listen: DEFAULT_OPENFLOW_LISTEN }),
    bridge: z
      .object({
        integration: bridgeName.default('br-int'),
        datapathType: z.enum(['system', 'netdev']).default('system'),
        /** Provider network name → the OVS bridge of its physical interface. */
        mappings: z.record(z.string().min(1).max(64), bridgeName).default({}),
        /**
         * The controller target set on the integration bridge (default: derived from
         * openflow.listen — unix:PATH for a unix socket, tcp:HOST:PORT for TCP, with
         * 127.0.0.1 for a wildcard address).
         */
        // ssl:HOST:PORT: OVS connects with TLS to a proxy in front of the controller's socket (docs/security.md).
        controllerTarget: z.string().refine((s) => /^((tcp|ssl):[^:]+:\d+|(tcp|ssl):\[[^\]]+\]:\d+|unix:.+)$/.test(s), 'must be tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH').optional(),
      })
      .strict()
      .superRefine((b, ctx) => {
        for (const [net, br] of Object.entries(b.mappings)) {
          if (br === b.integration) ctx.addIssue({ code: 'custom', path: ['mappings', net], message: `must not be the integration bridge (${br})` });
        }
      })
      .default({ integration: 'br-int', datapathType: 'system', mappings: {} }),
    /**
     * A hot-standby pair on one integration bridge (docs/ha.md "Standby controller"):
     * both controllers of the bridge name the same `activeSocket`; the one listening on
     * it is active (OpenFlow master), the other watches it and takes over the moment
     * it closes. `peerTargets` are the other controller's OpenFlow targets, kept in the
     * bridge's Controller list beside this one's. Absent: a single controller (OpenFlow
     * role equal, no role requests).
     */
    ha: z
      .object({
        activeSocket: z.string().regex(/^unix:\/.+/, 'must be unix:/ABSOLUTE/PATH (a unix socket both controllers of the bridge can reach)'),
        peerTargets: z.array(z.string().refine((s) => /^((tcp|ssl):[^:]+:\d+|(tcp|ssl):\[[^\]]+\]:\d+|unix:.+)$/.test(s), 'must be tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH')).min(1, 'must name the other controller of the bridge (its OpenFlow target)'),
      })
      .strict()
      .optional(),
    /**
     * The NB local cache: selective (the default) holds only what this chassis' ports
     * need; a fallback chassis (docs/ha.md "Fallback path") holds the whole topology.
     */
    topology: z.object({ selective: z.boolean().default(true) }).strict().default({ selective: true }),
    apps: z.array(appEntry).default([]),
    /** Where app package names resolve from, relative to the config file (default: the config file's directory). */
    appsFrom: z.string().min(1, 'must not be empty').optional(),
    /** GET /healthz and GET /metrics (Prometheus); null turns them off. */
    management: z
      .object({ listen: managementEndpoint.nullable().default('tcp:127.0.0.1:9100') })
      .strict()
      .default({ listen: 'tcp:127.0.0.1:9100' }),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    /**
     * smallYoungGeneration (default true): keep V8's young generation at its initial
     * size, trading a little CPU for resident memory (young-generation.ts);
     * collectAfterBurst (default true): one full garbage collection once a burst of
     * flow changes has settled (heap-trim.ts). docs/controller.md "Memory".
     */
    memory: z
      .object({ smallYoungGeneration: z.boolean().default(true), collectAfterBurst: z.boolean().default(true) })
      .strict()
      .default({ smallYoungGeneration: true, collectAfterBurst: true }),
  })
  .strict();

export type ControllerConfig = z.output<typeof controllerConfigSchema>;
export type DbConfig = ControllerConfig['db'];
export type AppEntry = ControllerConfig['apps'][number];

export interface LoadedControllerConfig {
  readonly file: string;
  /** Where app package names resolve from: `appsFrom`, else the config file's directory. */
  readonly baseDir: string;
  readonly config: ControllerConfig;
}

function keyOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top level)';
}

/** Parses and validates config text; errors name `file`, the key and the reason. */
export function parseControllerConfig(text: string, file: string): ControllerConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0];
    throw new DfError('CONFIG_INVALID', `${file}${line ? `:${line.line}:${line.col}` : ''}: not valid YAML/JSON: ${e.message.split('\n')[0]}`, { context: { file } });
  }
  const raw: unknown = doc.toJS() ?? {};
  const parsed = controllerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ key: keyOf(i.path), reason: i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(', ')}` : i.message }));
    const first = issues[0]!;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more: ${issues.slice(1).map((i) => `${i.key}: ${i.reason}`).join('; ')})` : '';
    throw new DfError('CONFIG_INVALID', `${file}: ${first.key}: ${first.reason}${more}`, { context: { file, key: first.key, reason: first.reason, issues } });
  }
  const ha = parsed.data.ha;
  if (ha) {
    const own = parsed.data.bridge.controllerTarget ?? controllerTargetFor(parsed.data.openflow.listen);
    const i = ha.peerTargets.indexOf(own);
    if (i >= 0) throw new DfError('CONFIG_INVALID', `${file}: ha.peerTargets[${i}]: '${own}' is this controller's own target (openflow.listen); list the other controller's`, { context: { file, key: `ha.peerTargets[${i}]` } });
    if (`unix:${ha.activeSocket.replace(/^unix:/, '')}` === own) throw new DfError('CONFIG_INVALID', `${file}: ha.activeSocket: must not be the OpenFlow socket (${own})`, { context: { file, key: 'ha.activeSocket' } });
  }
  const packages = new Set<string>();
  parsed.data.apps.forEach((a, i) => {
    if (packages.has(a.package)) throw new DfError('CONFIG_INVALID', `${file}: apps[${i}]: package '${a.package}' is listed twice`, { context: { file, key: `apps[${i}]` } });
    packages.add(a.package);
  });
  return parsed.data;
}

/** Reads and validates a config file. */
export function loadControllerConfig(file: string): LoadedControllerConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new DfError('CONFIG_INVALID', `${file}: cannot read the config file (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause, context: { file } });
  }
  const config = parseControllerConfig(text, file);
  return { file: path, baseDir: config.appsFrom !== undefined ? resolve(dirname(path), config.appsFrom) : dirname(path), config };
}

/**
 * What running df-controller needs beyond a valid file (the pipeline tools read
 * configs without these): a tunnel IP and at least one tunnel type, which the
 * chassis record other chassis tunnel to is made of.
 */
export function checkRunnable(config: ControllerConfig, file: string): void {
  if (!config.chassis.tunnelIp) {
    throw new DfError('CONFIG_INVALID', `${file}: chassis.tunnelIp: is required to run df-controller (the underlay address other chassis tunnel to)`, { context: { file, key: 'chassis.tunnelIp' } });
  }
  if (config.chassis.tunnelTypes.length === 0) {
    throw new DfError('CONFIG_INVALID', `${file}: chassis.tunnelTypes: df-controller needs at least one tunnel type (vxlan, geneve or gre)`, { context: { file, key: 'chassis.tunnelTypes' } });
  }
}
