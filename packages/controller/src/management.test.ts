import { mkdtempSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManagementServer, parseManagementListen } from './management.js';

function get(where: { socketPath: string } | { port: number }, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...('port' in where ? { host: '127.0.0.1', port: where.port } : where), path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('management endpoint', () => {
  it('parses its listen address', () => {
    expect(parseManagementListen('tcp:127.0.0.1:9100')).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseManagementListen('tcp:[::1]:9100')).toEqual({ host: '::1', port: 9100 });
    expect(parseManagementListen('unix:/run/x.sock')).toEqual({ path: '/run/x.sock' });
    expect(() => parseManagementListen('9100')).toThrow(/management\.listen: '9100' must be tcp:HOST:PORT or unix:PATH/);
  });

  it('serves /healthz (503 while starting), /sync and /metrics on a unix socket and on TCP', async () => {
    const registry = new Registry();
    new Counter({ name: 'df_test_total', help: 'a test counter', registers: [registry] }).inc(3);
    let status: 'starting' | 'ok' = 'starting';
    const handlers = { registry, health: () => ({ status: status === 'ok' ? 200 : 503, body: { status } }), sync: () => ({ syncedRevision: 7, desiredFlows: 3, installedFlows: 3 }) };
    const path = join(mkdtempSync(join(tmpdir(), 'df-mgmt-')), 'ctl.sock');
    const unix = await ManagementServer.start(`unix:${path}`, handlers);
    const tcp = await ManagementServer.start('tcp:127.0.0.1:0', handlers);
    try {
      expect(unix.where).toBe(`unix:${path}`);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(await get({ socketPath: path }, '/healthz')).toMatchObject({ status: 503, body: expect.stringContaining('"starting"') });
      status = 'ok';
      expect(await get({ socketPath: path }, '/healthz')).toMatchObject({ status: 200, type: 'application/json' });
      const port = Number(tcp.where.split(':').at(-1));
      const m = await get({ port }, '/metrics');
      expect(m.status).toBe(200);
      expect(m.body).toMatch(/^df_test_total 3$/m);
      const sync = await get({ port }, '/sync');
      expect(sync).toMatchObject({ status: 200, type: 'application/json' });
      expect(JSON.parse(sync.body)).toEqual({ syncedRevision: 7, desiredFlows: 3, installedFlows: 3 });
      expect((await get({ port }, '/nope')).status).toBe(404);
      await expect(ManagementServer.start(tcp.where, handlers)).rejects.toThrow(/cannot serve \/healthz and \/metrics on tcp:127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      await unix.close();
      await tcp.close();
    }
  });
});
