/**
 * Key layout under a prefix P (default `/dragonflow/nb/`):
 *   P d/<table>/<id>   a record (ids may contain '/', table names may not)
 *   P k/<namespace>    a unique-key counter
 * The change feed watches `P d/` only, so counters never show up in it.
 */
export class EtcdKeys {
  readonly data: string;
  readonly counters: string;

  constructor(readonly prefix: string) {
    this.data = `${prefix}d/`;
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

  /** (table, id) of a record key, or undefined for keys outside the data prefix. */
  parse(key: Buffer): { table: string; id: string } | undefined {
    const s = key.toString('utf8');
    if (!s.startsWith(this.data)) return undefined;
    const rest = s.slice(this.data.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) return undefined;
    return { table: rest.slice(0, slash), id: rest.slice(slash + 1) };
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
