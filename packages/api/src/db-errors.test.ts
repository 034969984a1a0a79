import { Writable } from 'node:stream';
import { DfError } from '@dragonflow/base';
import { MemoryDriver, NbApi, NbErrorCode } from '@dragonflow/nb';
import { afterEach, describe, expect, it } from 'vitest';
import { parseApiConfig } from './config.js';
import type { ApiApp } from './resources/common.js';
import { buildApiServer } from './server.js';

const SECRET = 's3cret-pw';
const URL_WITH_CREDENTIALS = `redis://dfuser:${SECRET}@10.0.0.7:6379/0`;

let app: ApiApp | undefined;
let nb: NbApi | undefined;
afterEach(async () => {
  await app?.close();
  await nb?.close();
});

describe('a DB failure answered to a tenant', () => {
  it('is a generic 503; the log names the endpoint without its credentials', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    nb = await NbApi.open(MemoryDriver.create());
    app = await buildApiServer({ config: parseApiConfig({}), nb, logger: { level: 'info', stream } });
    await app.ready();
    // The DB driver fails the way a real one reports a lost server: with its URL in the message.
    for (const code of [NbErrorCode.UNAVAILABLE, NbErrorCode.CLOSED]) {
      nb.transaction = () => Promise.reject(new DfError(code, `${URL_WITH_CREDENTIALS}: connect ECONNREFUSED 10.0.0.7:6379`, { context: { endpoint: URL_WITH_CREDENTIALS } }));
      const r = await app.inject({ method: 'POST', url: '/v2.0/networks', headers: { 'content-type': 'application/json', 'x-project-id': 'tenant' }, payload: '{"network":{}}' });
      expect(r.statusCode).toBe(503);
      expect(JSON.parse(r.body)).toEqual({ NeutronError: { type: 'ServiceUnavailable', message: 'The northbound database is unavailable; try again later.', detail: '' } });
    }
    const log = lines.join('');
    expect(log).toContain('redis://10.0.0.7:6379/0');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain('dfuser');
  });
});
