import { isDfError } from '@dragonflow/base';
import { MemoryDriver, NbApi, NbErrorCode, type LogicalPort, type NbDriver, type TxnOp } from '@dragonflow/nb';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PORTS_PER_TXN, PortBatch } from './port-batch.js';

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c();
  closers = [];
});

/** An NB with one network of `n` ports; `commits` records every transaction's port writes. */
async function rig(n: number) {
  const driver: NbDriver = MemoryDriver.create();
  const commits: string[][] = [];
  const commit = driver.commit.bind(driver);
  driver.commit = (ops: readonly TxnOp[]) => {
    commits.push(ops.filter((o) => o.type === 'put' && o.table === 'logical_port').map((o) => o.id));
    return commit(ops);
  };
  const nb = await NbApi.open(driver);
  closers.push(async () => {
    await nb.close();
    await driver.close();
  });
  const net = await nb.create('logical_switch', { name: 'net1' });
  const sub = await nb.create('subnet', { networkId: net.id, cidr: '10.0.0.0/16', ipVersion: 4 });
  const ports: LogicalPort[] = [];
  for (let i = 0; i < n; i++) {
    ports.push(await nb.create('logical_port', { networkId: net.id, macAddress: `fa:16:3e:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, fixedIps: [{ subnetId: sub.id, ipAddress: `10.0.${i >> 8}.${(i & 255) + 2}` }] }));
  }
  commits.length = 0;
  // The binder's own NbApi: no mirror, reads go to the DB.
  return { nb, batch: new PortBatch(new NbApi(driver, { mirror: false })), ports, commits };
}

const settled = (ps: Promise<unknown>[]) => Promise.allSettled(ps);

describe('PortBatch', () => {
  it('writes the ports handed in during one turn in one transaction, read back in one getMany', async () => {
    const { nb, batch, ports, commits } = await rig(5);
    const read = await Promise.all(ports.map((p) => batch.read(p.id)));
    expect(read.map((r) => r?.port.id)).toEqual(ports.map((p) => p.id));
    await Promise.all(read.map((r) => batch.write({ ...r!.port, status: 'ACTIVE' })));
    expect(commits).toEqual([ports.map((p) => p.id)]);
    for (const p of ports) expect((await nb.get('logical_port', p.id))?.status).toBe('ACTIVE');
  });

  it('a port deleted meanwhile fails alone: the others are written', async () => {
    const { nb, batch, ports } = await rig(4);
    const read = await Promise.all(ports.map((p) => batch.read(p.id)));
    await nb.delete('logical_port', ports[1]!.id);
    const results = await settled(read.map((r) => batch.write({ ...r!.port, status: 'ACTIVE' })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(isDfError((results[1] as PromiseRejectedResult).reason, NbErrorCode.NOT_FOUND)).toBe(true);
    for (const i of [0, 2, 3]) expect((await nb.get('logical_port', ports[i]!.id))?.status).toBe('ACTIVE');
    expect(await nb.get('logical_port', ports[1]!.id)).toBeUndefined();
  });

  it("a port someone else wrote meanwhile gets the conflict alone, and keeps the other writer's change", async () => {
    const { nb, batch, ports } = await rig(3);
    const read = await Promise.all(ports.map((p) => batch.read(p.id)));
    await nb.modify('logical_port', ports[2]!.id, (p) => ({ ...p, name: 'renamed' }));
    const results = await settled(read.map((r) => batch.write({ ...r!.port, status: 'ACTIVE' })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(isDfError((results[2] as PromiseRejectedResult).reason, NbErrorCode.CONFLICT)).toBe(true);
    expect(await nb.get('logical_port', ports[2]!.id)).toMatchObject({ name: 'renamed', status: 'DOWN' });
  });

  it(`splits a large turn into transactions of ${MAX_PORTS_PER_TXN} ports; one port twice in a turn is written twice, in order`, async () => {
    const n = MAX_PORTS_PER_TXN * 2 + 5;
    const { nb, batch, ports, commits } = await rig(n);
    const read = await Promise.all(ports.map((p) => batch.read(p.id)));
    await Promise.all(read.map((r) => batch.write({ ...r!.port, status: 'ACTIVE' })));
    expect(commits.map((c) => c.length).sort((a, b) => b - a)).toEqual([MAX_PORTS_PER_TXN, MAX_PORTS_PER_TXN, 5]);
    commits.length = 0;
    const p0 = (await batch.read(ports[0]!.id))!.port;
    const first = batch.write({ ...p0, status: 'ERROR' });
    const second = batch.write({ ...p0, version: p0.version + 1, status: 'DOWN' });
    await Promise.all([first, second]);
    expect(commits).toEqual([[p0.id], [p0.id]]);
    expect((await nb.get('logical_port', p0.id))?.status).toBe('DOWN');
  });
});
