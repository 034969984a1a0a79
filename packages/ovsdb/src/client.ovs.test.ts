// The client against a real ovsdb-server on a fresh Open_vSwitch database.
import { firstValueFrom, filter, toArray, take } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDfError } from '@dragonflow/base';
import { TestOvsdbServer } from '../test/ovs-server.js';
import { OvsdbClient } from './client.js';
import { OvsdbTransactionError } from './errors.js';
import type { RowChange } from './table-cache.js';
import { freeTcpPort } from '../test/ports.js';
import { NamedUuid, Uuid, setOf, valuesEqual, type Atom } from './values.js';

const DB = 'Open_vSwitch';

describe('OvsdbClient against a real ovsdb-server', () => {
  let server: TestOvsdbServer;
  let client: OvsdbClient;
  let tcpPort: number;

  beforeAll(async () => {
    tcpPort = await freeTcpPort();
    server = await TestOvsdbServer.start({ tcpPort });
    client = await OvsdbClient.connect({ remote: server.remote, initialBackoffMs: 50, maxBackoffMs: 200 });
  });

  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  it('lists databases and reads the schema', async () => {
    expect(await client.listDbs()).toContain(DB);
    const schema = await client.getSchema(DB);
    expect(schema.name).toBe(DB);
    const bridge = schema.tables.get('Bridge')!;
    expect(bridge.isRoot).toBe(false);
    expect(schema.tables.get('Open_vSwitch')!.isRoot).toBe(true);
    expect(bridge.columns.get('ports')!.type.key.refTable).toBe('Port');
    expect(bridge.columns.get('other_config')!.kind).toBe('map');
    expect(bridge.columns.get('fail_mode')!.kind).toBe('set');
  });

  it('echoes', async () => {
    expect(await client.echo(['a', 1])).toEqual(['a', 1]);
  });

  it('connects over TCP as well', async () => {
    const tcp = await OvsdbClient.connect({ remote: `tcp:127.0.0.1:${tcpPort}` });
    try {
      expect(await tcp.listDbs()).toContain(DB);
    } finally {
      await tcp.close();
    }
  });

  it('runs insert with named uuids, select, update, mutate and delete in transactions', async () => {
    const [root] = await client.transact(DB, [{ op: 'insert', table: 'Open_vSwitch', row: {} }]);
    expect(root!.uuid).toBeInstanceOf(Uuid);
    const results = await client.transact(DB, [
      { op: 'insert', table: 'Interface', row: { name: 'txn0', type: 'internal' }, uuidName: 'i0' },
      { op: 'insert', table: 'Port', row: { name: 'txn0', interfaces: [new NamedUuid('i0')] }, uuidName: 'p0' },
      {
        op: 'insert',
        table: 'Bridge',
        row: { name: 'txn0', ports: [new NamedUuid('p0')], protocols: ['OpenFlow13', 'OpenFlow15'], external_ids: { owner: 'df', x: '1' } },
        uuidName: 'b0',
      },
      { op: 'mutate', table: 'Open_vSwitch', where: [['_uuid', '==', root!.uuid!]], mutations: [['bridges', 'insert', [new NamedUuid('b0')]]] },
      { op: 'select', table: 'Bridge', where: [['name', '==', 'txn0']], columns: ['_uuid', 'name', 'ports', 'protocols', 'external_ids', 'fail_mode'] },
    ]);
    expect(results).toHaveLength(5);
    const bridgeUuid = results[2]!.uuid!;
    const row = results[4]!.rows![0]!;
    expect(row['_uuid']).toEqual(bridgeUuid);
    expect(setOf<Uuid>(row['ports'])[0]!.equals(results[1]!.uuid)).toBe(true);
    expect(valuesEqual(row['protocols']!, ['OpenFlow15', 'OpenFlow13'])).toBe(true);
    expect(row['external_ids']).toEqual(new Map([['owner', 'df'], ['x', '1']]));
    expect(row['fail_mode']).toEqual([]);

    const [upd, mut] = await client.transact(DB, [
      { op: 'update', table: 'Bridge', where: [['_uuid', '==', bridgeUuid]], row: { fail_mode: 'secure' } },
      { op: 'mutate', table: 'Bridge', where: [['_uuid', '==', bridgeUuid]], mutations: [['external_ids', 'delete', ['x']], ['external_ids', 'insert', { y: '2' }]] },
    ]);
    expect(upd!.count).toBe(1);
    expect(mut!.count).toBe(1);
    const [sel] = await client.transact(DB, [{ op: 'select', table: 'Bridge', where: [['external_ids', 'includes', { y: '2' }]], columns: ['fail_mode', 'external_ids'] }]);
    expect(sel!.rows).toEqual([{ fail_mode: ['secure'], external_ids: new Map<Atom, Atom>([['owner', 'df'], ['y', '2']]) }]);

    const [del] = await client.transact(DB, [
      { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['bridges', 'delete', [bridgeUuid]]] },
      { op: 'select', table: 'Bridge', where: [['name', '==', 'txn0']], columns: ['name'] },
    ]);
    expect(del!.count).toBe(1);
    // Unreferenced Bridge rows are garbage-collected at commit.
    const [after] = await client.transact(DB, [{ op: 'select', table: 'Bridge', where: [['name', '==', 'txn0']] }]);
    expect(after!.rows).toEqual([]);
  });

  it('reports a failing operation as OvsdbTransactionError and applies nothing', async () => {
    let caught: unknown;
    try {
      await client.transact(DB, [
        { op: 'insert', table: 'QoS', row: { type: 'linux-htb' } },
        { op: 'insert', table: 'Bridge', row: { name: 'bad', datapath_type: 'netdev' } },
        { op: 'insert', table: 'Bridge', row: { name: 'bad' } },
        { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['bridges', 'insert', [new Uuid('00000000-0000-0000-0000-000000000001')]]] },
      ]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OvsdbTransactionError);
    const e = caught as OvsdbTransactionError;
    expect(e.code).toBe('OVSDB_TXN_FAILED');
    expect(e.ovsdbError).toBe('referential integrity violation');
    expect(e.context['db']).toBe(DB);
    const [sel] = await client.transact(DB, [{ op: 'select', table: 'QoS', where: [] }]);
    expect(sel!.rows).toEqual([]);
  });

  it('fails a wait with timeout 0, aborts on request, and refuses an assert without the lock', async () => {
    await expect(client.transact(DB, [{ op: 'wait', table: 'Open_vSwitch', where: [], columns: ['_uuid'], until: '==', rows: [], timeout: 0 }])).rejects.toMatchObject({
      ovsdbError: 'timed out',
    });
    await expect(client.transact(DB, [{ op: 'comment', comment: 'x' }, { op: 'abort' }])).rejects.toMatchObject({ ovsdbError: 'aborted' });
    await expect(client.transact(DB, [{ op: 'assert', lock: 'nobody_holds_this' }])).rejects.toMatchObject({ ovsdbError: 'not owner' });
    const [c] = await client.transact(DB, [{ op: 'commit', durable: false }]);
    expect(c).toEqual({});
  });

  it('cancels a transaction blocked in a wait (RFC 7047 cancel)', async () => {
    const abort = new AbortController();
    const pending = client.transact(DB, [{ op: 'wait', table: 'Bridge', where: [['name', '==', 'never-created']], columns: ['name'], until: '!=', rows: [] }], {
      signal: abort.signal,
    });
    // ovsdb-server handles a connection's requests in order: once an echo sent behind the
    // transaction is answered, the transaction is in the server, blocked in its wait.
    expect(await client.echo(['behind the wait'])).toEqual(['behind the wait']);
    abort.abort();
    await expect(pending).rejects.toMatchObject({ code: 'OVSDB_CANCELED' });
    expect(await client.echo(['still fine'])).toEqual(['still fine']);
  });

  it.each(['monitor', 'monitor_cond'] as const)('%s: initial rows, then inserts, modifies and deletes', async (method) => {
    const monitor = await client.monitor(DB, { QoS: { columns: ['type', 'queues', 'other_config'] } }, method);
    const batches: RowChange[][] = [];
    const sub = monitor.changes$.subscribe((b) => batches.push([...b]));
    const [ins] = await client.transact(DB, [{ op: 'insert', table: 'QoS', row: { type: `tcp:127.0.0.1:7${method.length}` } }]);
    const uuid = ins!.uuid!.value;
    // The update precedes the transaction's reply, so the cache already shows the row.
    expect(monitor.row('QoS', uuid)?.['type']).toBe(`tcp:127.0.0.1:7${method.length}`);
    expect(monitor.row('QoS', uuid)?.['other_config']).toEqual(new Map());
    await client.transact(DB, [{ op: 'update', table: 'QoS', where: [['_uuid', '==', ins!.uuid!]], row: { type: 'linux-hfsc', other_config: { a: 'b' } } }]);
    expect(monitor.row('QoS', uuid)?.['type']).toBe('linux-hfsc');
    expect(monitor.row('QoS', uuid)?.['other_config']).toEqual(new Map([['a', 'b']]));
    await client.transact(DB, [{ op: 'delete', table: 'QoS', where: [['_uuid', '==', ins!.uuid!]] }]);
    expect(monitor.row('QoS', uuid)).toBeUndefined();
    expect(batches.map((b) => b.map((c) => c.kind))).toEqual([['insert'], ['modify'], ['delete']]);
    expect(batches[1]![0]!.old!['type']).toBe(`tcp:127.0.0.1:7${method.length}`);
    sub.unsubscribe();
    await monitor.cancel();
    // After monitor_cancel nothing more arrives.
    const [again] = await client.transact(DB, [{ op: 'insert', table: 'QoS', row: { type: 'tcp:127.0.0.1:9' } }]);
    expect(() => monitor.rows('QoS')).not.toThrow();
    expect(monitor.row('QoS', again!.uuid!.value)).toBeUndefined();
    await client.transact(DB, [{ op: 'delete', table: 'QoS', where: [] }]);
  });

  it('monitor_cond: follows only matching rows and changes conditions', async () => {
    await client.transact(DB, [
      { op: 'insert', table: 'QoS', row: { type: 'tcp:127.0.0.1:1001', external_ids: { group: 'a' } } },
      { op: 'insert', table: 'QoS', row: { type: 'tcp:127.0.0.1:1002', external_ids: { group: 'b' } } },
    ]);
    const monitor = await client.monitor(DB, { QoS: { columns: ['type', 'external_ids'], where: [['external_ids', 'includes', { group: 'a' }]] } }, 'monitor_cond');
    const targets = () => [...monitor.rows('QoS').values()].map((r) => r['type']).sort();
    expect(targets()).toEqual(['tcp:127.0.0.1:1001']);
    const next = firstValueFrom(monitor.changes$);
    await monitor.changeConditions({ QoS: [['external_ids', 'includes', { group: 'b' }]] });
    const batch = await next;
    expect(batch.map((c) => c.kind).sort()).toEqual(['delete', 'insert']);
    expect(targets()).toEqual(['tcp:127.0.0.1:1002']);
    await monitor.cancel();
    await client.transact(DB, [{ op: 'delete', table: 'QoS', where: [] }]);
  });

  it('rejects conditions on a plain monitor and unknown tables with typed errors', async () => {
    await expect(client.monitor(DB, { QoS: { where: [['type', '==', 'x']] } }, 'monitor')).rejects.toMatchObject({ code: 'OVSDB_INVALID_ARGUMENT' });
    await expect(client.monitor(DB, { NoSuchTable: {} })).rejects.toMatchObject({ code: 'OVSDB_SCHEMA' });
    await expect(client.getSchema('NoSuchDb')).rejects.toSatisfy((e: unknown) => isDfError(e, 'OVSDB_RPC_ERROR'));
  });

  it('reconnects after the server restarts and resyncs monitors to what changed meanwhile', async () => {
    const [a, b] = await client.transact(DB, [
      { op: 'insert', table: 'QoS', row: { type: 'tcp:127.0.0.1:2001' } },
      { op: 'insert', table: 'QoS', row: { type: 'tcp:127.0.0.1:2002' } },
    ]);
    const monitor = await client.monitor(DB, { QoS: { columns: ['type'] } });
    const v1 = await client.monitor(DB, { QoS: { columns: ['type'] } }, 'monitor');
    expect(monitor.rows('QoS').size).toBe(2);
    const states: string[] = [];
    const stateSub = client.state$.subscribe((s) => states.push(s));
    const resync = firstValueFrom(monitor.changes$);
    const resyncV1 = firstValueFrom(v1.changes$);

    await server.stopServer();
    // While the server is down, another writer changes the database file.
    await server.offlineTransact([
      { op: 'delete', table: 'QoS', where: [['_uuid', '==', ['uuid', a!.uuid!.value]]] },
      { op: 'update', table: 'QoS', where: [['_uuid', '==', ['uuid', b!.uuid!.value]]], row: { type: 'tcp:127.0.0.1:2222' } },
      { op: 'insert', table: 'QoS', row: { type: 'tcp:127.0.0.1:2003' } },
    ]);
    await expect(client.listDbs()).rejects.toMatchObject({ code: 'OVSDB_DISCONNECTED' });
    await server.startServer();
    await firstValueFrom(client.state$.pipe(filter((s) => s === 'connected')));

    for (const batch of [await resync, await resyncV1]) {
      const byKind = Object.fromEntries(batch.map((c) => [c.kind, c]));
      expect(batch).toHaveLength(3);
      expect(byKind['delete']!.uuid).toBe(a!.uuid!.value);
      expect(byKind['modify']!.row!['type']).toBe('tcp:127.0.0.1:2222');
      expect(byKind['modify']!.old!['type']).toBe('tcp:127.0.0.1:2002');
      expect(byKind['insert']!.row!['type']).toBe('tcp:127.0.0.1:2003');
    }
    expect([...monitor.rows('QoS').values()].map((r) => r['type']).sort()).toEqual(['tcp:127.0.0.1:2003', 'tcp:127.0.0.1:2222']);
    expect(states).toContain('backoff');
    expect(states).toContain('syncing');
    expect(states[states.length - 1]).toBe('connected');
    stateSub.unsubscribe();

    // And live updates keep flowing on the new session.
    const live = firstValueFrom(monitor.changes$.pipe(take(1), toArray()));
    await client.transact(DB, [{ op: 'delete', table: 'QoS', where: [] }]);
    expect((await live)[0]!.map((c) => c.kind)).toEqual(['delete', 'delete']);
    await monitor.cancel();
    await v1.cancel();
  });
});
