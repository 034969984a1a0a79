/**
 * Key layout under a prefix P (default `/dragonflow/nb/`):
 *   P d/<table>/<id>   a record (ids may contain '/', table names may not)
 *   P k/<namespace>    a unique-key counter
 * The change feed watches `P d/` only, so counters never show up in it.
 */
export class EtcdKeys {
  readonly data: string;
  readonly counters: string;
  private readonly dataBytes: Buffer;

  constructor(readonly prefix: string) {
    this.data = `${prefix}d/`;
    this.dataBytes = Buffer.from(this.data, 'utf8');
    this.counters = `${prefix}k/`;
  }

  record(table: string, id: string): Buffer {
    return Buffer.from(`${this.data}${table}/${id}`, 'utf8');
  }

  table(table: string): Buffer {
    return Buffer.from(`${this.data}${table}/`, 'utf8');
  }

  counter(namespace: string): Buffer {
    return Buffer.from(`${this.counters}${namespace}`, 'utf8');
  }

  /**
   * (table, id) of a record key, or undefined for keys outside the data prefix. Both
   * are decoded from their own bytes: a substring of the whole key would keep the
   * whole key alive with it (V8 slices), and a cache keeps the id of every object.
   */
  parse(key: Buffer): { table: string; id: string } | undefined {
    const data = this.dataBytes;
    if (key.length <= data.length || key.compare(data, 0, data.length, 0, data.length) !== 0) return undefined;
    const slash = key.indexOf(0x2f, data.length);
    if (slash <= data.length) return undefined;
    return { table: key.toString('utf8', data.length, slash), id: key.toString('utf8', slash + 1) };
  }
}

/** The smallest key greater than every key starting with `prefix` (etcd range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export function assertTableName(table: string): void {
  if (table.length === 0 || table.includes('/')) throw new Error(`table name '${table}' must be non-empty and contain no '/'`);
}
