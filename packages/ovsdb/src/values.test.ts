import { describe, expect, it } from 'vitest';
import { isDfError } from '@dragonflow/base';
import { encodeOperation } from './operations.js';
import { decodeColumn, defaultValue, parseSchema } from './schema.js';
import { TableCache } from './table-cache.js';
import { decodeValue, encodeValue, NamedUuid, Uuid, valuesEqual } from './values.js';

const U1 = '2f3d4a80-1111-4c2b-9d8e-000000000001';
const U2 = '2f3d4a80-1111-4c2b-9d8e-000000000002';

const SCHEMA = parseSchema({
  name: 'Test',
  version: '1.0.0',
  tables: {
    Thing: {
      isRoot: true,
      indexes: [['name']],
      columns: {
        name: { type: 'string' },
        count: { type: { key: { type: 'integer', minInteger: 0 } } },
        mode: { type: { key: { type: 'string', enum: ['set', ['secure', 'standalone']] }, min: 0, max: 1 } },
        tags: { type: { key: 'string', min: 0, max: 'unlimited' } },
        refs: { type: { key: { type: 'uuid', refTable: 'Thing', refType: 'weak' }, min: 0, max: 'unlimited' } },
        ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        ofport: { type: { key: 'integer', min: 0, max: 1 }, ephemeral: true },
      },
    },
  },
});
const THING = SCHEMA.tables.get('Thing')!;
const col = (name: string) => THING.columns.get(name)!;

describe('OVSDB value notation', () => {
  it('encodes atoms, sets, maps and uuids', () => {
    expect(encodeValue('x')).toBe('x');
    expect(encodeValue(5)).toBe(5);
    expect(encodeValue(true)).toBe(true);
    expect(encodeValue(new Uuid(U1))).toEqual(['uuid', U1]);
    expect(encodeValue(new NamedUuid('row1'))).toEqual(['named-uuid', 'row1']);
    expect(encodeValue(['a', 'b'])).toEqual(['set', ['a', 'b']]);
    expect(encodeValue([])).toEqual(['set', []]);
    expect(encodeValue(new Map([['k', 'v']]))).toEqual(['map', [['k', 'v']]]);
    expect(encodeValue({ 'iface-id': 'p1' })).toEqual(['map', [['iface-id', 'p1']]]);
    expect(encodeValue([new Uuid(U1)])).toEqual(['set', [['uuid', U1]]]);
  });

  it('decodes without a schema and round-trips', () => {
    for (const wire of ['x', 1, false, ['uuid', U1], ['named-uuid', 'n'], ['set', [1, 2]], ['map', [['a', ['uuid', U2]]]]]) {
      expect(encodeValue(decodeValue(wire))).toEqual(wire);
    }
  });

  it('rejects what is not value notation with a typed error', () => {
    for (const bad of [null, {}, ['uuid', 'nope'], ['set', 3], ['map', [['only-key']]], ['pair', 'x'], ['set', [{}]]]) {
      let caught: unknown;
      try {
        decodeValue(bad);
      } catch (err) {
        caught = err;
      }
      expect(isDfError(caught, 'OVSDB_VALUE'), JSON.stringify(bad)).toBe(true);
    }
    expect(() => new NamedUuid('has space')).toThrow(/uuid-name/);
  });

  it('normalises by column kind: a lone atom in a set column is a set of one', () => {
    expect(decodeColumn(col('tags'), 'a', 'tags')).toEqual(['a']);
    expect(decodeColumn(col('ofport'), ['set', []], 'ofport')).toEqual([]);
    expect(decodeColumn(col('ofport'), 3, 'ofport')).toEqual([3]);
    expect(decodeColumn(col('ids'), ['set', []], 'ids')).toEqual(new Map());
    expect(decodeColumn(col('count'), 7, 'count')).toBe(7);
    expect(() => decodeColumn(col('ids'), 'x', 'ids')).toThrow(/is a map/);
    expect(() => decodeColumn(col('count'), ['set', [1, 2]], 'count')).toThrow(/exactly one/);
  });

  it('knows defaults and compares sets and maps structurally', () => {
    expect(defaultValue(col('name'))).toBe('');
    expect(defaultValue(col('count'))).toBe(0);
    expect(defaultValue(col('mode'))).toEqual([]);
    expect(defaultValue(col('ids'))).toEqual(new Map());
    expect(valuesEqual(['a', 'b'], ['b', 'a'])).toBe(true);
    expect(valuesEqual(['a'], ['a', 'b'])).toBe(false);
    expect(valuesEqual(new Map([['k', 'v']]), new Map([['k', 'w']]))).toBe(false);
    expect(valuesEqual(new Uuid(U1), new Uuid(U1.toUpperCase()))).toBe(true);
  });

  it('parses schema column kinds, enums and references', () => {
    expect(col('mode').kind).toBe('set');
    expect(col('mode').type.key.enum).toEqual(['secure', 'standalone']);
    expect(col('refs').type.key.refTable).toBe('Thing');
    expect(col('refs').type.key.refType).toBe('weak');
    expect(col('ids').kind).toBe('map');
    expect(col('ofport').ephemeral).toBe(true);
    expect(THING.columns.has('_uuid')).toBe(true);
    expect(THING.isRoot).toBe(true);
    expect(() => parseSchema({ name: 'x', tables: { T: { columns: { c: { type: 'float' } } } } })).toThrow(/unknown atomic type/);
  });

  it('encodes every operation kind', () => {
    expect(encodeOperation({ op: 'insert', table: 'Thing', row: { name: 'a', tags: ['x'] }, uuidName: 'new1' })).toEqual({
      op: 'insert',
      table: 'Thing',
      row: { name: 'a', tags: ['set', ['x']] },
      'uuid-name': 'new1',
    });
    expect(encodeOperation({ op: 'select', table: 'Thing', where: [['name', '==', 'a']], columns: ['_uuid'] })).toEqual({
      op: 'select',
      table: 'Thing',
      where: [['name', '==', 'a']],
      columns: ['_uuid'],
    });
    expect(encodeOperation({ op: 'mutate', table: 'Thing', where: [], mutations: [['ids', 'delete', ['k']], ['count', '+=', 1]] })).toEqual({
      op: 'mutate',
      table: 'Thing',
      where: [],
      mutations: [
        ['ids', 'delete', ['set', ['k']]],
        ['count', '+=', 1],
      ],
    });
    expect(encodeOperation({ op: 'wait', table: 'Thing', where: [], columns: ['name'], until: '==', rows: [], timeout: 0 })).toMatchObject({ op: 'wait', timeout: 0, rows: [] });
    expect(encodeOperation({ op: 'commit', durable: false })).toEqual({ op: 'commit', durable: false });
    expect(encodeOperation({ op: 'abort' })).toEqual({ op: 'abort' });
    expect(encodeOperation({ op: 'comment', comment: 'hi' })).toEqual({ op: 'comment', comment: 'hi' });
    expect(encodeOperation({ op: 'assert', lock: 'l' })).toEqual({ op: 'assert', lock: 'l' });
    expect(encodeOperation({ op: 'delete', table: 'Thing', where: [['_uuid', '==', new Uuid(U1)]] })).toEqual({
      op: 'delete',
      table: 'Thing',
      where: [['_uuid', '==', ['uuid', U1]]],
    });
  });
});

describe('TableCache', () => {
  const columns = new Map([['Thing', undefined]]);

  it('fills defaults that update2 leaves out and applies modify diffs per column kind', () => {
    const cache = new TableCache(SCHEMA, columns);
    const initial = cache.replaceAll({ Thing: { [U1]: { initial: { name: 'a', tags: ['set', ['x', 'y']], ids: ['map', [['k1', 'v1'], ['k2', 'v2']]] } } } }, 2);
    expect(initial).toHaveLength(1);
    const row = cache.rows('Thing').get(U1)!;
    expect(row['count']).toBe(0);
    expect(row['mode']).toEqual([]);
    expect(row['_uuid']).toEqual(new Uuid(U1));

    const changes = cache.applyUpdate2({
      Thing: {
        [U1]: {
          modify: {
            count: 4,
            // toggles: y removed, z added
            tags: ['set', ['y', 'z']],
            // k1 same value → removed; k2 new value → updated; k3 new → added
            ids: ['map', [['k1', 'v1'], ['k2', 'v9'], ['k3', 'v3']]],
            mode: 'secure',
          },
        },
      },
    });
    expect(changes).toHaveLength(1);
    expect(changes[0]!.kind).toBe('modify');
    const after = cache.rows('Thing').get(U1)!;
    expect(after['count']).toBe(4);
    expect(valuesEqual(after['tags']!, ['x', 'z'])).toBe(true);
    expect(after['ids']).toEqual(new Map([['k2', 'v9'], ['k3', 'v3']]));
    expect(after['mode']).toEqual(['secure']);
    expect(changes[0]!.old!['count']).toBe(0);

    expect(cache.applyUpdate2({ Thing: { [U1]: { delete: null } } })).toEqual([expect.objectContaining({ kind: 'delete', uuid: U1 })]);
    expect(cache.rows('Thing').size).toBe(0);
  });

  it('applies RFC 7047 update notifications (old/new)', () => {
    const cache = new TableCache(SCHEMA, new Map([['Thing', ['name', 'count']]]));
    cache.replaceAll({ Thing: { [U1]: { new: { name: 'a', count: 1 } } } }, 1);
    const mod = cache.applyUpdate({ Thing: { [U1]: { old: { count: 1 }, new: { name: 'a', count: 2 } } } });
    expect(mod[0]).toMatchObject({ kind: 'modify', uuid: U1 });
    expect(cache.rows('Thing').get(U1)!['count']).toBe(2);
    const del = cache.applyUpdate({ Thing: { [U1]: { old: { name: 'a', count: 2 } } } });
    expect(del[0]).toMatchObject({ kind: 'delete' });
  });

  it('reports only the difference when reloaded after a reconnect', () => {
    const cache = new TableCache(SCHEMA, columns);
    cache.replaceAll({ Thing: { [U1]: { initial: { name: 'a' } }, [U2]: { initial: { name: 'b' } } } }, 2);
    const diff = cache.replaceAll({ Thing: { [U2]: { initial: { name: 'b', count: 3 } } } }, 2);
    expect(diff.map((c) => [c.kind, c.uuid]).sort()).toEqual([
      ['delete', U1],
      ['modify', U2],
    ]);
    expect(cache.replaceAll({ Thing: { [U2]: { initial: { name: 'b', count: 3 } } } }, 2)).toEqual([]);
  });

  it('refuses malformed updates with a protocol error and keeps its content', () => {
    const cache = new TableCache(SCHEMA, columns);
    cache.replaceAll({ Thing: { [U1]: { initial: { name: 'a' } } } }, 2);
    for (const bad of [[], { Other: {} }, { Thing: { 'not-a-uuid': { insert: {} } } }, { Thing: { [U2]: { modify: { name: 'x' } } } }, { Thing: { [U1]: { modify: { nope: 1 } } } }, { Thing: { [U1]: { what: 1 } } }]) {
      let caught: unknown;
      try {
        cache.applyUpdate2(bad);
      } catch (err) {
        caught = err;
      }
      expect(isDfError(caught, 'OVSDB_PROTOCOL'), JSON.stringify(bad)).toBe(true);
    }
    expect(() => cache.replaceAll({ Thing: { [U2]: { initial: { count: 'x' } } } }, 2)).toThrow();
    expect([...cache.rows('Thing').keys()]).toEqual([U1]);
  });
});
