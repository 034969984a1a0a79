/**
 * `pnpm dfctl sandbox up --db etcd|redis`: a real etcd or redis server, reached by
 * df-api over TCP on 127.0.0.1 and by the controllers in the chassis namespaces
 * over its unix socket; each with another tunnel type. VMs on two chassis become
 * ACTIVE and ping each other; `down` stops the DB server too and leaves nothing.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { apiPost, curlUnix, df, dfOk, ensureBuilt, leftovers, machineSnapshot, readServicesFile, readTopology, recordedPids, sandboxPlace } from './df-cli.js';

beforeAll(() => ensureBuilt(), 300_000);

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe.each([
  { db: 'etcd', tunnel: 'geneve' },
  { db: 'redis', tunnel: 'gre' },
] as const)('dfctl sandbox up --db $db --tunnel $tunnel', ({ db, tunnel }) => {
  test('a real server, two chassis, ACTIVE ports, ping across chassis, nothing left after down', async () => {
    const place = await sandboxPlace();
    const before = await machineSnapshot();
    let isDown = false;
    cleanup = async () => {
      if (!isDown) await df(['sandbox', 'down', '--dir', place.dir]);
      rmSync(dirname(place.dir), { recursive: true, force: true });
    };
    const out = await dfOk(['sandbox', 'up', '--dir', place.dir, '--api-port', String(place.apiPort), '--db', db, '--tunnel', tunnel]);
    expect(out).toMatch(new RegExp(`${db === 'etcd' ? 'etcd http' : 'redis redis'}://127\\.0\\.0\\.1:\\d+ \\+ unix:.* \\(pid \\d+\\)`));
    const s = readServicesFile(place.dir);
    expect(s.db.kind).toBe(db);
    expect(s.db.controllerEndpoint).toMatch(/^unix:\//);
    const { tag } = readTopology(place.dir);
    const pids = recordedPids(place.dir);
    expect(pids).toContain(s.db.pid);
    for (const c of s.controllers) {
      const h = JSON.parse(await curlUnix(c.management.replace(/^unix:/, ''), '/healthz')) as { status: string; db: { where: string }; chassis: { tunnelTypes: string[] } };
      expect(h.status).toBe('ok');
      expect(h.db.where).toBe(`${db} at ${s.db.controllerEndpoint}`);
      expect(h.chassis.tunnelTypes).toEqual([tunnel]);
    }

    const net = (await apiPost<{ network: { id: string; 'provider:network_type': string } }>(place.url, '/networks', { network: { name: 'n1', 'provider:network_type': tunnel } })).network;
    expect(net['provider:network_type']).toBe(tunnel);
    await apiPost(place.url, '/subnets', { subnet: { network_id: net.id, cidr: '10.30.0.0/24', ip_version: 4, name: 's1' } });
    const env = { DF_SANDBOX_DIR: place.dir };
    expect(await dfOk(['sandbox', 'vm', 'create', 'a', '--network', 'n1', '--chassis', '1'], { env })).toMatch(/ACTIVE/);
    expect(await dfOk(['sandbox', 'vm', 'create', 'b', '--network', 'n1', '--chassis', '2'], { env })).toMatch(/ACTIVE/);
    const bIp = readTopology(place.dir).vms.find((v) => v.name === 'b')!.ip.split('/')[0]!;
    const ping = await df(['sandbox', 'exec', 'a', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '2', bIp], { env });
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);

    expect(await dfOk(['sandbox', 'down', '--dir', place.dir])).toMatch(new RegExp(`stopped ${db} \\(pid ${s.db.pid}\\)`));
    isDown = true;
    expect(await leftovers(tag, place.dir, pids, before, true)).toEqual([]);
    expect(pids.some((p) => p === s.db.pid)).toBe(true);
  });
});
