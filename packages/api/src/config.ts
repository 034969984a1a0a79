import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { DfError } from '@dragonflow/base';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { RESERVED_TUNNEL_KEYS } from '@dragonflow/nb';

/**
 * The df-api configuration file (YAML or JSON). Every key is checked; an error names
 * the file, the key and the reason. Every key has a default, so an empty file is a
 * working single-machine setup (memory DB, noauth, 127.0.0.1:9696). Example:
 *
 * ```yaml
 * listen: { host: 127.0.0.1, port: 9696 }
 * db:
 *   driver: memory                       # memory | etcd | redis
 *   file: /var/lib/dragonflow/nb.db      # memory: persist here (optional)
 *   serve: [unix:/run/dragonflow/nb.sock] # memory: share the DB with df-controllers
 *   grants:                              # who may connect to it (docs/security.md)
 *     - { role: admin, tokenFile: /etc/dragonflow/nb-admin.token }
 *     - { role: controller, chassis: compute-1, tokenFile: /etc/dragonflow/nb-compute-1.token }
 * auth:
 *   mode: token                          # noauth | token | keystone (docs/openstack.md)
 *   tokens:
 *     - { token: s3cret-admin, project: admin, roles: [admin] }
 *     - { token: s3cret-demo, project: demo }
 * network:
 *   tenantNetworkType: vxlan
 *   vxlanRanges: ['1:65535']
 *   vlanRanges: ['physnet1:100:199']   # or PHYSNET (provider only) or * (any)
 *   flatNetworks: [physnet1]
 *   physicalMtu: 1500
 *   macPrefix: 'fa:16:3e'
 * bodyLimit: 1048576
 * logLevel: info
 * ```
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const TENANT_NETWORK_TYPES = ['vxlan', 'geneve', 'gre', 'vlan'] as const;

const projectId = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .regex(/^[A-Za-z0-9_.:@-]+$/, 'may only hold letters, digits and _ . : @ -');

/** "MIN:MAX", as Neutron's ML2 vni_ranges (or an already parsed {min, max}). */
const tunnelRangeText = z.string().transform((s, ctx) => {
  const m = /^(\d+):(\d+)$/.exec(s.trim());
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2]) : NaN;
  if (!m || lo < 1 || hi < lo) {
    ctx.addIssue({ code: 'custom', message: `'${s}' is not a range MIN:MAX with 1 <= MIN <= MAX` });
    return z.NEVER;
  }
  if (lo <= RESERVED_TUNNEL_KEYS.max && RESERVED_TUNNEL_KEYS.min <= hi) {
    ctx.addIssue({ code: 'custom', message: `'${s}' overlaps ${RESERVED_TUNNEL_KEYS.min}:${RESERVED_TUNNEL_KEYS.max}, the tunnel keys reserved for the HA fallback's punts and centralized NAT's redirect` });
    return z.NEVER;
  }
  return { min: lo, max: hi };
});

function isRange(v: unknown): v is { min: number; max: number } {
  return typeof v === 'object' && v !== null && 'min' in v && 'max' in v;
}

/** Parsed ranges are turned back into text first, so a parsed config parses again to itself. */
const tunnelRange = z.preprocess((v) => (isRange(v) ? `${v.min}:${v.max}` : v), tunnelRangeText);

/**
 * A VLAN physical network, as Neutron's ML2 network_vlan_ranges: "PHYSNET:MIN:MAX"
 * (provider networks on PHYSNET, tenant networks allocated from MIN..MAX), "PHYSNET"
 * (provider networks only) or "*" (provider networks on any physical network).
 */
const vlanRangeText = z.string().transform((s, ctx) => {
  const t = s.trim();
  if (/^(\*|[A-Za-z0-9_.-]{1,64})$/.test(t)) return { physicalNetwork: t, min: null, max: null };
  const m = /^([A-Za-z0-9_.-]{1,64}):(\d+):(\d+)$/.exec(t);
  const lo = m ? Number(m[2]) : NaN;
  const hi = m ? Number(m[3]) : NaN;
  if (!m || lo < 1 || hi > 4094 || hi < lo) {
    ctx.addIssue({ code: 'custom', message: `'${s}' is not PHYSNET:MIN:MAX with 1 <= MIN <= MAX <= 4094, PHYSNET or *` });
    return z.NEVER;
  }
  return { physicalNetwork: m[1]!, min: lo as number | null, max: hi as number | null };
});
/** A parsed VLAN entry back as text, so a parsed config parses again to itself. */
function vlanText(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || !('physicalNetwork' in v)) return v;
  const e = v as { physicalNetwork: string; min: number | null; max: number | null };
  return e.min === null ? e.physicalNetwork : `${e.physicalNetwork}:${e.min}:${e.max}`;
}
const vlanRange = z.preprocess(vlanText, vlanRangeText);

const physnetName = z.string().regex(/^(\*|[A-Za-z0-9_.-]{1,64})$/, "must be a physical network name (letters, digits, _ . -) or '*'");

/** `unix:/path` or `tcp:HOST:PORT` (port 0 picks a free one). */
const serveEndpoint = z.string().refine((s) => /^(unix:.+|tcp:[^:]+:\d+)$/.test(s), 'must be unix:/PATH or tcp:HOST:PORT');

const nbGrant = z
  .object({
    role: z.enum(['admin', 'controller']),
    /** File holding the token (at least 16 characters; surrounding whitespace ignored). */
    tokenFile: z.string().min(1, 'must not be empty'),
    /** controller: the chassis (by name) whose rows it may write; absent: any chassis. */
    chassis: z.string().min(1).max(255).optional(),
  })
  .strict();

const token = z
  .object({
    token: z.string().min(8, 'must be at least 8 characters'),
    project: projectId,
    roles: z.array(z.string().min(1).max(255)).default([]),
  })
  .strict();

/**
 * keystone: where Keystone v3 is and the service's own credentials, with which df-api
 * validates the tokens clients send (as keystonemiddleware's auth_token does).
 */
const keystone = z
  .object({
    /** Keystone's v3 endpoint, e.g. http://controller:5000/v3. */
    url: z.string().url('must be a URL'),
    username: z.string().min(1, 'must not be empty'),
    /** The service user's password, or passwordFile (one of them). */
    password: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    userDomainId: z.string().min(1).default('default'),
    /** The project the service token is scoped to (a service user's usual `service` project). */
    projectName: z.string().min(1).default('service'),
    projectDomainId: z.string().min(1).default('default'),
    /** How long a validated token is trusted without asking Keystone again (a revocation takes effect within this). */
    cacheSeconds: z.number().int('must be an integer').min(0, 'must be 0 (no cache) or more').max(3600, 'must be at most 3600').default(30),
    /** Most validated tokens kept in the cache. */
    cacheSize: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Timeout of one request to Keystone. */
    timeoutMs: z.number().int().min(100).max(120_000).default(5000),
  })
  .strict()
  .superRefine((k, ctx) => {
    if ((k.password === undefined) === (k.passwordFile === undefined)) ctx.addIssue({ code: 'custom', path: ['password'], message: 'give exactly one of password and passwordFile' });
  });

const TUNNEL_DEFAULT = ['1:65535'];

const quotaLimit = z.number().int('must be an integer').min(-1, 'must be -1 (no limit) or more');

export const apiConfigSchema = z
  .object({
    listen: z
      .object({
        host: z.string().min(1, 'must not be empty').default('127.0.0.1'),
        port: z.number().int('must be an integer').min(0, 'must be 0..65535').max(65535, 'must be 0..65535').default(9696),
      })
      .strict()
      .prefault({}),
    /** Base URL announced in version discovery and pagination links (default: from the request's Host). */
    publicUrl: z.string().url('must be a URL').nullable().default(null),
    db: z
      .object({
        driver: z.enum(['memory', 'etcd', 'redis']).default('memory'),
        /** memory: journal file to load and persist to. */
        file: z.string().min(1).nullable().default(null),
        /** memory: endpoints to serve the DB on, for df-controllers in other processes or namespaces. */
        serve: z.array(serveEndpoint).default([]),
        /** memory + serve: the tokens a connection may present, and each one's rights. */
        grants: z.array(nbGrant).default([]),
        /** memory + serve: mode of the unix sockets (600: df-api's user only; 660: and its group). */
        socketMode: z.enum(['600', '660']).default('600'),
        /** memory + serve: TLS for TCP endpoints (required for a non-loopback address). */
        tls: z.object({ keyFile: z.string().min(1), certFile: z.string().min(1) }).strict().nullable().default(null),
        /** memory + serve: largest request frame a client may send. */
        maxFrameBytes: z.number().int().min(64 * 1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
        /** memory + serve: most client connections at once. */
        maxConnections: z.number().int().min(1).max(65_536).default(128),
        /** etcd: http://host:port URLs; redis: redis://host:port URLs. */
        endpoints: z.array(z.string().url('must be a URL')).default([]),
        /** etcd/redis: key prefix of the northbound DB (the drivers' default when absent). */
        prefix: z.string().min(1).nullable().default(null),
      })
      .strict()
      .superRefine((db, ctx) => {
        if (db.driver !== 'memory' && db.endpoints.length === 0) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: `at least one endpoint is required for the ${db.driver} driver` });
        if (db.driver === 'memory' && db.endpoints.length > 0) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'the memory driver takes no endpoints (use serve to share it)' });
        if (db.driver !== 'memory' && db.file !== null) ctx.addIssue({ code: 'custom', path: ['file'], message: 'only applies to the memory driver' });
        if (db.driver !== 'memory' && db.serve.length > 0) ctx.addIssue({ code: 'custom', path: ['serve'], message: 'only applies to the memory driver' });
        if (db.serve.length > 0 && db.grants.length === 0) ctx.addIssue({ code: 'custom', path: ['grants'], message: 'serving the memory DB needs at least one grant (role and tokenFile); without one nobody could connect' });
        if (db.serve.length === 0 && db.grants.length > 0) ctx.addIssue({ code: 'custom', path: ['grants'], message: 'only applies when serve is set' });
      })
      .prefault({}),
    auth: z
      .object({
        mode: z.enum(['noauth', 'token', 'keystone']).default('noauth'),
        /** noauth: the project of requests without X-Project-Id. */
        defaultProject: projectId.default('admin'),
        /** noauth: requests without X-Roles are admin (true) or members (false). */
        adminByDefault: z.boolean().default(true),
        /**
         * noauth on a non-loopback listen address: refused unless this is true, since
         * anyone who reaches the port can then act as any project, or as admin.
         */
        allowInsecureNoauth: z.boolean().default(false),
        /** token: static tokens (X-Auth-Token) and the project and roles they stand for. */
        tokens: z.array(token).default([]),
        /** keystone: the Keystone endpoint and service credentials (docs/openstack.md). */
        keystone: keystone.nullable().default(null),
      })
      .strict()
      .superRefine((a, ctx) => {
        if (a.mode === 'token' && a.tokens.length === 0) ctx.addIssue({ code: 'custom', path: ['tokens'], message: 'at least one token is required in token mode' });
        if (a.mode === 'keystone' && a.keystone === null) ctx.addIssue({ code: 'custom', path: ['keystone'], message: 'keystone mode needs keystone: { url, username, password or passwordFile }' });
        if (a.mode !== 'keystone' && a.keystone !== null) ctx.addIssue({ code: 'custom', path: ['keystone'], message: 'only applies when mode is keystone' });
        const seen = new Set<string>();
        a.tokens.forEach((t, i) => {
          if (seen.has(t.token)) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'token'], message: 'is listed twice' });
          seen.add(t.token);
        });
      })
      .prefault({}),
    network: z
      .object({
        /** Type of networks created without provider attributes. */
        tenantNetworkType: z.enum(TENANT_NETWORK_TYPES).default('vxlan'),
        vxlanRanges: z.array(tunnelRange).prefault(TUNNEL_DEFAULT),
        geneveRanges: z.array(tunnelRange).prefault(TUNNEL_DEFAULT),
        greRanges: z.array(tunnelRange).prefault(TUNNEL_DEFAULT),
        vlanRanges: z.array(vlanRange).prefault(['*']),
        /** Physical networks flat networks may use ('*': any). */
        flatNetworks: z.array(physnetName).default(['*']),
        /** MTU of the physical network; a network's default MTU is this minus its encapsulation overhead. */
        physicalMtu: z.number().int('must be an integer').min(576, 'must be at least 576').max(9216, 'must be at most 9216').default(1500),
        /** Fixed leading octets of generated MACs (the rest is random), as Neutron's base_mac. */
        macPrefix: z
          .string()
          .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){0,4}$/, 'must be 1 to 5 octets, e.g. fa:16:3e')
          .refine((s) => (parseInt(s.slice(0, 2), 16) & 1) === 0, 'must start with a unicast octet (lowest bit 0)')
          .transform((s) => s.toLowerCase())
          .default('fa:16:3e'),
        /** Most static routes on one router. */
        maxRoutes: z.number().int().min(0).max(1000).default(30),
      })
      .strict()
      .superRefine((n, ctx) => {
        if (n.tenantNetworkType === 'vlan' && !n.vlanRanges.some((r) => r.min !== null)) {
          ctx.addIssue({ code: 'custom', path: ['vlanRanges'], message: 'needs a PHYSNET:MIN:MAX range when tenantNetworkType is vlan' });
        }
      })
      .prefault({}),
    /**
     * Most items one request may carry, as Neutron's limits (its option names in
     * brackets): each refusal is a 400 naming the attribute and the limit.
     */
    limits: z
      .object({
        /** Fixed IPs of one port (max_fixed_ips_per_port). */
        maxFixedIpsPerPort: z.number().int().min(1).max(100_000).default(5),
        /** Allowed address pairs of one port (max_allowed_address_pair). */
        maxAllowedAddressPairs: z.number().int().min(0).max(100_000).default(10),
        /** DNS servers of one subnet (max_dns_nameservers). */
        maxDnsNameservers: z.number().int().min(0).max(100_000).default(5),
        /** Host routes of one subnet (max_subnet_host_routes). */
        maxSubnetHostRoutes: z.number().int().min(0).max(100_000).default(20),
        /** Allocation pools of one subnet (Neutron has no such option; its checks are quadratic). */
        maxAllocationPools: z.number().int().min(1).max(100_000).default(100),
        /** Items of one bulk create (`{"networks": [...]}`); quotas still apply to the total. */
        maxBulkCreate: z.number().int().min(1).max(100_000).default(100),
      })
      .strict()
      .prefault({}),
    /**
     * Per-project quota defaults, Neutron's resource names and defaults (-1: no
     * limit); an admin overrides them per project with PUT /v2.0/quotas/{project}.
     */
    quotas: z
      .object({
        network: quotaLimit.default(100),
        subnet: quotaLimit.default(100),
        port: quotaLimit.default(500),
        router: quotaLimit.default(10),
        floatingip: quotaLimit.default(50),
        security_group: quotaLimit.default(10),
        security_group_rule: quotaLimit.default(100),
        rbac_policy: quotaLimit.default(10),
        subnetpool: quotaLimit.default(-1),
      })
      .strict()
      .prefault({}),
    /**
     * Notify Nova of port events (network-vif-plugged, …) as Neutron does (docs/openstack.md);
     * absent or null: no notifications.
     */
    nova: z
      .object({
        /** Nova's compute endpoint, e.g. http://nova:8774/v2.1; null: the catalog's (auth.mode keystone). */
        url: z.string().url('must be a URL').nullable().default(null),
        /** Which catalog endpoint to use. */
        interface: z.enum(['public', 'internal', 'admin']).default('public'),
        region: z.string().min(1).nullable().default(null),
        /** Events are gathered this long and sent in one request (Neutron's send_events_interval). */
        batchIntervalMs: z.number().int().min(0).max(60_000).default(2000),
        /** Attempts after a failed send (Neutron's http_retries). */
        retries: z.number().int().min(0).max(20).default(3),
        timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
      })
      .strict()
      .nullable()
      .default(null),
    /** Largest request body in bytes (413 above). */
    bodyLimit: z.number().int('must be an integer').min(1024, 'must be at least 1024').max(64 * 1024 * 1024, 'must be at most 64 MiB').default(1024 * 1024),
    logLevel: z.enum(LOG_LEVELS).default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.nova && c.nova.url === null && c.auth.mode !== 'keystone') {
      ctx.addIssue({ code: 'custom', path: ['nova', 'url'], message: "is required unless auth.mode is keystone (whose catalog names Nova's endpoint)" });
    }
    if (c.auth.mode === 'noauth' && !c.auth.allowInsecureNoauth && !isLoopbackHost(c.listen.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen', 'host'],
        message: `noauth (auth.mode) on ${c.listen.host} lets anyone who reaches it act as admin: listen on a loopback address, use auth.mode: token, or set auth.allowInsecureNoauth: true`,
      });
    }
  });

/** A listen address only local processes can reach (a name other than localhost is not trusted to be one). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) return h === '::1' || /^(0{0,4}:){1,7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

export type ApiConfig = z.output<typeof apiConfigSchema>;
/** What a caller may pass: any subset, defaults fill the rest. */
export type ApiConfigInput = z.input<typeof apiConfigSchema>;

function keyOf(path: readonly PropertyKey[]): string {
  return (
    path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '') || '(top level)'
  );
}

/** Validates a config object; errors name `source` (a file or 'config'), the key and the reason. */
export function parseApiConfig(raw: unknown, source = 'config'): ApiConfig {
  const parsed = apiConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      key: keyOf(i.path),
      reason: i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(', ')}` : i.message,
    }));
    const first = issues[0]!;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more: ${issues
      .slice(1)
      .map((i) => `${i.key}: ${i.reason}`)
      .join('; ')})` : '';
    throw new DfError('CONFIG_INVALID', `${source}: ${first.key}: ${first.reason}${more}`, { context: { file: source, key: first.key, reason: first.reason, issues } });
  }
  return parsed.data;
}

/** Parses config text (YAML or JSON). */
export function parseApiConfigText(text: string, file: string): ApiConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0];
    throw new DfError('CONFIG_INVALID', `${file}${line ? `:${line.line}:${line.col}` : ''}: not valid YAML/JSON: ${e.message.split('\n')[0]}`, { context: { file } });
  }
  return parseApiConfig(doc.toJS() ?? {}, file);
}

/** Reads and validates a config file. */
export function loadApiConfig(file: string): ApiConfig {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch (cause) {
    throw new DfError('CONFIG_INVALID', `${file}: cannot read the config file (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause, context: { file } });
  }
  return parseApiConfigText(text, file);
}
