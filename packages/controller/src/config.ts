import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DfError, isValidIp } from '@dragonflow/base';
import { parseDocument } from 'yaml';
import { z } from 'zod';

/**
 * The df-controller configuration file (YAML or JSON). Every key is checked; an
 * error names the file, the key and the reason. Example:
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
 * logLevel: info
 * metricsPort: 9100
 * ```
 */

const TUNNEL_TYPES = ['vxlan', 'geneve', 'gre'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const ipText = z.string().refine(isValidIp, 'must be an IPv4 or IPv6 address');
const port = z.number().int('must be an integer').min(1, 'must be 1..65535').max(65535, 'must be 1..65535');
const bridgeName = z
  .string()
  .min(1, 'must not be empty')
  .max(15, 'must be at most 15 characters (a Linux interface name)')
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, _ . -');

/** An OpenFlow/OVSDB endpoint: tcp:HOST:PORT, ptcp:PORT[:HOST], unix:PATH or punix:PATH. */
const endpoint = z.string().refine((s) => /^(tcp:[^:]+:\d+|tcp:\[[^\]]+\]:\d+|ptcp:\d+(:.+)?|unix:.+|punix:.+)$/.test(s), 'must be tcp:HOST:PORT, ptcp:PORT[:HOST], unix:PATH or punix:PATH');

const npmName = z.string().regex(/^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/, 'must be an npm package name');

const appEntry = z.union([npmName.transform((name) => ({ package: name, options: undefined as unknown })), z.object({ package: npmName, options: z.unknown().optional() }).strict()]);

const dbSection = z
  .object({
    driver: z.enum(['memory', 'etcd', 'redis']).default('memory'),
    /** etcd: http(s)://host:port URLs; redis: redis://host:port URLs; memory: none. */
    endpoints: z.array(z.string().url('must be a URL')).default([]),
  })
  .strict()
  .superRefine((db, ctx) => {
    if (db.driver !== 'memory' && db.endpoints.length === 0) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: `at least one endpoint is required for the ${db.driver} driver` });
    if (db.driver === 'memory' && db.endpoints.length > 0) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'the memory driver takes no endpoints' });
  });

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
      })
      .strict()
      .superRefine((c, ctx) => {
        if (c.tunnelTypes.length > 0 && !c.tunnelIp) ctx.addIssue({ code: 'custom', path: ['tunnelIp'], message: `is required when tunnelTypes is set (${c.tunnelTypes.join(', ')})` });
        if (new Set(c.tunnelTypes).size !== c.tunnelTypes.length) ctx.addIssue({ code: 'custom', path: ['tunnelTypes'], message: 'lists a tunnel type twice' });
      })
      .default(() => ({ name: hostname(), tunnelTypes: [] })),
    db: dbSection.default(() => ({ driver: 'memory' as const, endpoints: [] })),
    ovsdb: z.object({ endpoint: endpoint.default('unix:/var/run/openvswitch/db.sock') }).strict().default({ endpoint: 'unix:/var/run/openvswitch/db.sock' }),
    openflow: z.object({ listen: endpoint.default('tcp:127.0.0.1:6653') }).strict().default({ listen: 'tcp:127.0.0.1:6653' }),
    bridge: z
      .object({
        integration: bridgeName.default('br-int'),
        datapathType: z.enum(['system', 'netdev']).default('system'),
        /** Provider network name → the OVS bridge of its physical interface. */
        mappings: z.record(z.string().min(1).max(64), bridgeName).default({}),
      })
      .strict()
      .superRefine((b, ctx) => {
        for (const [net, br] of Object.entries(b.mappings)) {
          if (br === b.integration) ctx.addIssue({ code: 'custom', path: ['mappings', net], message: `must not be the integration bridge (${br})` });
        }
      })
      .default({ integration: 'br-int', datapathType: 'system', mappings: {} }),
    apps: z.array(appEntry).default([]),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    metricsPort: port.nullable().default(9100),
  })
  .strict();

export type ControllerConfig = z.output<typeof controllerConfigSchema>;
export type AppEntry = ControllerConfig['apps'][number];

export interface LoadedControllerConfig {
  readonly file: string;
  /** Where app package names resolve from: the config file's directory. */
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
  return { file: path, baseDir: dirname(path), config: parseControllerConfig(text, file) };
}
