import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDriverContract, describeNbApiOnDriver, type DbUnderTest } from '../../contract/index.js';
import { MemoryClientDriver } from './client.js';
import { MemoryDriver } from './driver.js';
import { MemoryServer } from './server.js';
import { MemoryStore } from './store.js';

describeDriverContract({
  name: 'memory (in-process)',
  leaseTtlMs: 1_500,
  canDisconnect: false,
  canRestart: false,
  async freshDb(): Promise<DbUnderTest> {
    const store = new MemoryStore();
    return {
      connect: async () => new MemoryDriver(store),
      compact: async () => store.compact(store.revision + 1),
      dispose: async () => store.close(),
    };
  },
});

const ADMIN = { token: 'contract-admin-token-0123456789', role: 'admin' } as const;

/** A journaled store served on `listen`; restart = a new process on the same file and address. */
async function servedDb(transport: 'unix' | 'tcp'): Promise<DbUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'df-nb-served-'));
  const file = join(dir, 'nb.jsonl');
  let store = new MemoryStore({ file });
  let server = await MemoryServer.start({ store, listen: [transport === 'unix' ? `unix:${join(dir, 'nb.sock')}` : 'tcp:127.0.0.1:0'], grants: [ADMIN] });
  const endpoint = server.endpoints[0]!;
  return {
    connect: () => MemoryClientDriver.connect({ endpoint, token: ADMIN.token, requestTimeoutMs: 20_000 }),
    dropConnections: async () => server.dropConnections(),
    restartServer: async () => {
      await server.close();
      store.close();
      store = new MemoryStore({ file });
      server = await MemoryServer.start({ store, listen: [endpoint], grants: [ADMIN] });
    },
    compact: async () => store.compact(store.revision + 1),
    dispose: async () => {
      await server.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const servedUnix = {
  name: 'memory (served over a unix socket)',
  leaseTtlMs: 1_500,
  canDisconnect: true,
  canRestart: true,
  freshDb: () => servedDb('unix'),
};
describeDriverContract(servedUnix);
describeNbApiOnDriver(servedUnix);

describeDriverContract({
  name: 'memory (served over TCP)',
  leaseTtlMs: 1_500,
  canDisconnect: true,
  canRestart: true,
  freshDb: () => servedDb('tcp'),
});
