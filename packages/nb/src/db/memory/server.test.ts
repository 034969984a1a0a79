import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { type Socket, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DfError, isDfError } from '@dragonflow/base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NbApi } from '../../api/nb-api.js';
import { ChassisRegistry } from '../../chassis/registry.js';
import { chassisIdFromName } from '../../model/ids.js';
import { MemoryClientDriver } from './client.js';
import { MemoryDriver } from './driver.js';
import { encodeFrame } from './protocol.js';
import { MemoryServer, type MemoryServerOptions } from './server.js';
import { MemoryStore } from './store.js';

const ADMIN = { token: 'admin-token-0123456789abcdef', role: 'admin' } as const;
const CTL1 = { token: 'chassis-1-token-0123456789abc', role: 'controller', chassis: 'chassis-1' } as const;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(extra: Partial<MemoryServerOptions> = {}): Promise<{ server: MemoryServer; store: MemoryStore; path: string; closed: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'df-nb-sec-'));
  const path = join(dir, 'nb.sock');
  const store = new MemoryStore();
  const closed: string[] = [];
  const server = await MemoryServer.start({ store, listen: [`unix:${path}`], grants: [ADMIN, CTL1], onPeerClosed: (e) => closed.push(e.reason), ...extra });
  cleanups.push(async () => {
    await server.close();
    store.close();
  });
  return { server, store, path, closed };
}

function raw(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    cleanups.push(() => void s.destroy());
  });
}

function closedSoon(s: Socket, ms = 5_000): Promise<boolean> {
  if (s.destroyed || s.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.on('error', () => undefined);
    s.resume();
  });
}

async function connect(path: string, token?: string): Promise<MemoryClientDriver> {
  const d = await MemoryClientDriver.connect({ endpoint: `unix:${path}`, ...(token ? { token } : {}), requestTimeoutMs: 3_000 });
  cleanups.push(() => d.close());
  return d;
}

/** A network with one port, written as df-api does (in process, full rights). */
async function topology(store: MemoryStore) {
  const nb = await NbApi.open(new MemoryDriver(store));
  cleanups.push(() => nb.close());
  await new ChassisRegistry(nb, { ttlMs: 60_000 }).register({ name: 'chassis-2', tunnelIp: '192.0.2.2', tunnelTypes: ['vxlan'], bridgeMappings: {}, gateway: false, externalIds: {} }).then((r) => cleanups.push(() => r.stop()));
  const ls = await nb.create('logical_switch', { name: 'net', projectId: 'p1' });
  const other = await nb.create('logical_switch', { name: 'other', projectId: 'p2' });
  const port = await nb.create('logical_port', { networkId: ls.id, macAddress: 'fa:16:3e:00:00:01', projectId: 'p1' });
  return { nb, ls, other, port };
}

async function forbidden(p: Promise<unknown>): Promise<DfError> {
  try {
    await p;
  } catch (e) {
    if (isDfError(e, 'NB_FORBIDDEN')) return e;
    throw e;
  }
  throw new Error('expected NB_FORBIDDEN, the call succeeded');
}

describe('served memory DB: who may do what', () => {
  it('refuses a client without a token or with a wrong one, and a raw commit before hello', async () => {
    const { store, path, closed } = await serve();
    const { port } = await topology(store);
    const rev = store.revision;
    expect((await forbidden(connect(path))).message).toMatch(/refused/);
    await forbidden(connect(path, 'not-a-token-not-a-token'));
    const s = await raw(path);
    const value = JSON.stringify({ ...JSON.parse(store.get('logical_port', port.id)!.value), projectId: 'p2' });
    s.write(encodeFrame({ id: 1, op: 'commit', args: [[{ type: 'put', table: 'logical_port', id: port.id, value }]] }));
    expect(await closedSoon(s)).toBe(true);
    expect(store.revision).toBe(rev);
    expect(closed).toContain("'commit' before authenticating");
  });

  it('a controller may bind its ports and register its chassis, but not move a port, turn off its port security, or touch anything else', async () => {
    const { store, path } = await serve();
    const { ls, other, port } = await topology(store);
    const ctl = new NbApi(await connect(path, CTL1.token), { mirror: false });
    cleanups.push(() => ctl.close());
    const rev = store.revision;

    await forbidden(ctl.update('logical_port', { ...port, projectId: 'p2' }));
    // A raw commit (what the review did) is checked just the same as one NbApi builds.
    const rec = store.get('logical_port', port.id)!;
    const moved = JSON.stringify({ ...JSON.parse(rec.value), networkId: other.id, deviceOwner: 'network:dhcp' });
    await forbidden(ctl.driver.commit([{ type: 'put', table: 'logical_port', id: port.id, value: moved, expectVersion: rec.version }]));
    await forbidden(ctl.update('logical_port', { ...port, portSecurityEnabled: false }));
    await forbidden(ctl.update('logical_port', { ...port, chassisId: chassisIdFromName('chassis-2') }));
    await forbidden(ctl.delete('logical_port', port.id));
    await forbidden(ctl.create('logical_switch', { name: 'mine', projectId: 'p1' }));
    await forbidden(ctl.update('logical_switch', { ...ls, name: 'renamed' }));
    await forbidden(ctl.driver.allocateKey('logical_switch'));
    expect(store.revision).toBe(rev);

    // What its controller does: register chassis-1 with a liveness lease, bind the port, mark it ACTIVE.
    const reg = await new ChassisRegistry(ctl, { ttlMs: 60_000 }).register({ name: 'chassis-1', tunnelIp: '192.0.2.1', tunnelTypes: ['vxlan'], bridgeMappings: {}, gateway: false, externalIds: {} });
    cleanups.push(() => reg.stop());
    const bound = await ctl.update('logical_port', { ...port, chassisId: chassisIdFromName('chassis-1'), bindingHost: 'chassis-1', status: 'ACTIVE' });
    expect(bound.chassisId).toBe(chassisIdFromName('chassis-1'));
    expect(JSON.parse(store.get('logical_port', port.id)!.value)).toMatchObject({ chassisId: chassisIdFromName('chassis-1'), status: 'ACTIVE', projectId: 'p1', portSecurityEnabled: true });
    // ... but not under another chassis' name, nor renew a lease it did not take.
    await forbidden(new ChassisRegistry(ctl, { ttlMs: 60_000 }).register({ name: 'chassis-2', tunnelIp: '192.0.2.9', tunnelTypes: ['vxlan'], bridgeMappings: {}, gateway: false, externalIds: {} }));
    const adminLease = store.grantLease(60_000);
    await forbidden(ctl.driver.grantLease(1000).then(() => (ctl.driver as MemoryClientDriver)['request']('keepAlive', [adminLease.id])));
  });

  it('an admin token keeps full rights', async () => {
    const { store, path } = await serve();
    const { port } = await topology(store);
    const admin = new NbApi(await connect(path, ADMIN.token), { mirror: false });
    cleanups.push(() => admin.close());
    const moved = await admin.update('logical_port', { ...port, portSecurityEnabled: false });
    expect(moved.portSecurityEnabled).toBe(false);
  });
});

describe('served memory DB: limits', () => {
  it('closes a connection announcing an oversized frame without buffering it', async () => {
    const { path, closed, server } = await serve({ maxFrameBytes: 1024 * 1024 });
    // Before authenticating, even 1 MiB is too much.
    const early = await raw(path);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1024 * 1024);
    early.write(head);
    expect(await closedSoon(early)).toBe(true);

    const s = await raw(path);
    s.write(encodeFrame({ id: 1, op: 'hello', args: [{ token: ADMIN.token }] }));
    head.writeUInt32BE(200 * 1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    s.write(head);
    for (let i = 0; i < 8 && !s.destroyed; i++) s.write(Buffer.alloc(1024 * 1024, 0x20));
    expect(await closedSoon(s)).toBe(true);
    expect(closed.filter((r) => /exceeds the \d+-byte limit/.test(r))).toHaveLength(2);
    expect(server.connectionCount).toBe(0);
    // Nothing of the 200 MiB frame is held: at most the few MiB in flight when it was cut.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
  });

  it('holds its connection cap', async () => {
    // A hello timeout that cannot fire during the test: which connections are closed is the cap's doing alone.
    const { path, server, closed } = await serve({ maxConnections: 3, helloTimeoutMs: 120_000 });
    const socks = await Promise.all(Array.from({ length: 5 }, () => raw(path)));
    for (const s of socks) s.on('error', () => undefined).resume(); // read, so a server's close is seen
    // The server names why it closed a connection: wait for that, not for a pause.
    await vi.waitFor(() => expect(closed.filter((r) => r === 'connection cap of 3 reached')).toHaveLength(2), { timeout: 8_000 });
    await vi.waitFor(() => expect(socks.filter((s) => s.destroyed || s.closed)).toHaveLength(2), { timeout: 8_000 });
    expect(server.connectionCount).toBe(3);
    expect(closed).toHaveLength(2);
  });

  it('closes connections that never authenticate, freeing their slots', async () => {
    const { path, server, closed } = await serve({ maxConnections: 3, helloTimeoutMs: 300 });
    const socks = await Promise.all(Array.from({ length: 3 }, () => raw(path)));
    expect((await Promise.all(socks.map((s) => closedSoon(s, 8_000)))).every(Boolean)).toBe(true);
    expect(closed.filter((r) => r === 'no hello with a valid token in time')).toHaveLength(3);
    // the server forgets a connection at its own 'close', which can come after the peer's
    await vi.waitFor(() => expect(server.connectionCount).toBe(0), { timeout: 8_000 });
    const ok = await connect(path, ADMIN.token);
    expect(await ok.currentRevision()).toBe(0);
  });

  it('creates its socket 0600 (0660 when asked) and refuses TCP beyond loopback without TLS', async () => {
    const { path } = await serve();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const group = await serve({ socketMode: 0o660 });
    expect(statSync(group.path).mode & 0o777).toBe(0o660);
    const store = new MemoryStore();
    cleanups.push(() => store.close());
    await expect(MemoryServer.start({ store, listen: ['tcp:0.0.0.0:0'], grants: [ADMIN] })).rejects.toThrow(/beyond loopback only with TLS/);
    await expect(MemoryServer.start({ store, listen: ['tcp:127.0.0.1:0'], grants: [] })).rejects.toThrow(/at least one token/);
  });

  it('serves TCP with TLS (then any address is allowed); a client that trusts the certificate authenticates with its token', async () => {
    const tls = { key: readFileSync(new URL('../../../test/tls/server-key.pem', import.meta.url)), cert: readFileSync(new URL('../../../test/tls/server-cert.pem', import.meta.url)) };
    const store = new MemoryStore();
    const server = await MemoryServer.start({ store, listen: ['tcp:0.0.0.0:0'], grants: [ADMIN], tls });
    cleanups.push(async () => {
      await server.close();
      store.close();
    });
    const port = Number(server.endpoints[0]!.split(':').at(-1));
    const client = await MemoryClientDriver.connect({ endpoint: `tcp:127.0.0.1:${port}`, token: ADMIN.token, tls: { ca: tls.cert } });
    cleanups.push(() => client.close());
    expect(await client.currentRevision()).toBe(0);
    // A wrong token is told so (the refusal reaches it before the connection closes), not left to time out.
    await expect(MemoryClientDriver.connect({ endpoint: `tcp:127.0.0.1:${port}`, token: 'a-wrong-token-0123456789', tls: { ca: tls.cert }, requestTimeoutMs: 5_000 })).rejects.toThrow(/refused this client/);
    // Plain TCP to a TLS endpoint gets nowhere.
    await expect(MemoryClientDriver.connect({ endpoint: `tcp:127.0.0.1:${port}`, token: ADMIN.token, requestTimeoutMs: 1_000 })).rejects.toThrow(/not reachable/);
  });
});
