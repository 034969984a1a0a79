import { NeutronError, badAttribute } from './errors.js';

/** A Neutron resource as answered: attribute name → JSON value. */
export type Dict = Record<string, unknown>;

/** Query parameters as parsed by the HTTP layer: repeated parameters become arrays. */
export type RawQuery = Record<string, string | string[] | undefined>;

export interface SortKey {
  key: string;
  dir: 'asc' | 'desc';
}

export interface ListQuery {
  /** attribute → accepted values (a repeated parameter is an OR). */
  filters: Map<string, string[]>;
  fields: string[] | null;
  limit: number | null;
  marker: string | null;
  pageReverse: boolean;
  sort: SortKey[];
}

/** What a collection lets clients filter and sort by. */
export interface CollectionSpec {
  /** Attributes that can be filtered on (scalars, string lists, fixed_ips). */
  filterable: ReadonlySet<string>;
  /** Attributes that can be sorted on (scalars). */
  sortable: ReadonlySet<string>;
}

const PAGING = new Set(['fields', 'limit', 'marker', 'page_reverse', 'sort_key', 'sort_dir']);
const TAG_FILTERS = new Set(['tags', 'tags-any', 'not-tags', 'not-tags-any']);
/** Boolean attributes: their filter values are checked up front ('True', 'false', '1', …). */
const BOOLEAN_ATTRS = new Set(['admin_state_up', 'shared', 'router:external', 'port_security_enabled', 'enable_dhcp', 'stateful', 'l2_adjacency', 'distributed', 'ha']);

function values(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function parseBool(field: string, s: string): boolean {
  const l = s.toLowerCase();
  if (l === 'true' || l === '1') return true;
  if (l === 'false' || l === '0') return false;
  throw badAttribute(field, `'${s}' is not a valid boolean value`);
}

/**
 * Parses Neutron list parameters: attribute filters (`?name=a&name=b`, `fixed_ips=ip_address=…`),
 * `fields`, `limit`/`marker`/`page_reverse` and `sort_key`/`sort_dir`. Unknown attributes are
 * refused (Neutron's filter-validation), naming the parameter.
 */
export function parseListQuery(query: RawQuery, spec: CollectionSpec): ListQuery {
  const filters = new Map<string, string[]>();
  for (const [k, v] of Object.entries(query)) {
    if (PAGING.has(k)) continue;
    if (TAG_FILTERS.has(k)) {
      filters.set(k, values(v).flatMap((s) => s.split(',')).filter(Boolean));
      continue;
    }
    if (!spec.filterable.has(k)) throw new NeutronError(400, 'HTTPBadRequest', `[${k}] is invalid attribute for filtering`, { field: k });
    if (BOOLEAN_ATTRS.has(k)) for (const s of values(v)) parseBool(k, s);
    filters.set(k, values(v));
  }
  const fields = query['fields'] === undefined ? null : values(query['fields']).flatMap((f) => f.split(',')).filter(Boolean);

  let limit: number | null = null;
  const limits = values(query['limit']);
  if (limits.length > 0) {
    const s = limits[limits.length - 1]!;
    if (!/^\d+$/.test(s)) throw badAttribute('limit', `'${s}' is not a non-negative integer`);
    limit = Number(s) === 0 ? null : Number(s);
  }
  const markers = values(query['marker']);
  const marker = markers.length > 0 ? markers[markers.length - 1]! : null;
  const reverse = values(query['page_reverse']);
  const pageReverse = reverse.length > 0 ? parseBool('page_reverse', reverse[reverse.length - 1]!) : false;

  const keys = values(query['sort_key']);
  const dirs = values(query['sort_dir']);
  if (dirs.length > 0 && dirs.length !== keys.length) {
    throw new NeutronError(400, 'HTTPBadRequest', 'The number of sort_keys and sort_dirs must be same', { field: 'sort_dir' });
  }
  const sort: SortKey[] = keys.map((key, i) => {
    if (!spec.sortable.has(key)) throw new NeutronError(400, 'HTTPBadRequest', `${key} is invalid attribute for sort_key`, { field: 'sort_key' });
    const dir = (dirs[i] ?? 'asc').toLowerCase();
    if (dir !== 'asc' && dir !== 'desc') throw new NeutronError(400, 'HTTPBadRequest', `${dirs[i]} is invalid value for sort_dir, valid values are 'asc' and 'desc'`, { field: 'sort_dir' });
    return { key, dir };
  });
  return { filters, fields, limit, marker, pageReverse, sort };
}

function matchesFixedIps(value: unknown, wanted: string[]): boolean {
  if (!Array.isArray(value)) return false;
  const ips: string[] = [];
  const subnets: string[] = [];
  const substrings: string[] = [];
  for (const w of wanted) {
    const eq = w.indexOf('=');
    const k = eq < 0 ? '' : w.slice(0, eq);
    const v = eq < 0 ? '' : w.slice(eq + 1);
    if (k === 'ip_address') ips.push(v);
    else if (k === 'subnet_id') subnets.push(v);
    else if (k === 'ip_address_substr') substrings.push(v);
    else throw badAttribute('fixed_ips', `'${w}' is not ip_address=…, subnet_id=… or ip_address_substr=…`);
  }
  return value.some((f) => {
    const { ip_address: ip, subnet_id: subnet } = f as { ip_address: string; subnet_id: string };
    return (ips.length === 0 || ips.includes(ip)) && (subnets.length === 0 || subnets.includes(subnet)) && substrings.every((s) => ip.includes(s));
  });
}

function matches(item: Dict, key: string, wanted: string[]): boolean {
  if (TAG_FILTERS.has(key)) {
    const have = new Set(Array.isArray(item['tags']) ? (item['tags'] as string[]) : []);
    const all = wanted.every((t) => have.has(t));
    const any = wanted.some((t) => have.has(t));
    // tags: all of them; tags-any: at least one; not-tags: not all of them; not-tags-any: none.
    return key === 'tags' ? all : key === 'tags-any' ? any : key === 'not-tags' ? !all : !any;
  }
  const value = item[key];
  if (key === 'fixed_ips') return matchesFixedIps(value, wanted);
  if (Array.isArray(value)) return value.some((v) => wanted.includes(String(v)));
  if (typeof value === 'boolean') return wanted.some((w) => parseBool(key, w) === value);
  if (value === null || value === undefined) return wanted.includes('');
  return wanted.includes(String(value));
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export interface ListEntry {
  view: Dict;
  /** Default order (creation time), used when no sort_key is given. */
  order: string;
}

export interface Listing {
  items: Dict[];
  links: { rel: 'next' | 'previous'; href: string }[];
}

/**
 * Filters, sorts, pages and trims a collection. Sorting always ends with `id` so
 * markers are unambiguous. Links are given when `limit` cut the listing.
 */
export function applyListQuery(entries: ListEntry[], q: ListQuery, link: { url: string; raw: RawQuery }, onMissingMarker: (id: string) => Error): Listing {
  let rows = entries.filter((e) => [...q.filters].every(([k, v]) => matches(e.view, k, v)));
  const keys = q.sort.length > 0 ? q.sort : [];
  rows.sort((x, y) => {
    for (const s of keys) {
      const c = compare(x.view[s.key], y.view[s.key]);
      if (c !== 0) return s.dir === 'asc' ? c : -c;
    }
    if (keys.length === 0) {
      const c = compare(x.order, y.order);
      if (c !== 0) return c;
    }
    return compare(x.view['id'], y.view['id']);
  });
  const links: Listing['links'] = [];
  if (q.marker !== null || q.limit !== null) {
    let start = 0;
    let end = rows.length;
    if (q.marker !== null) {
      const at = rows.findIndex((r) => r.view['id'] === q.marker);
      if (at < 0) throw onMissingMarker(q.marker);
      if (q.pageReverse) end = at;
      else start = at + 1;
    }
    if (q.limit !== null) {
      if (q.pageReverse) start = Math.max(start, end - q.limit);
      else end = Math.min(end, start + q.limit);
    }
    const before = start > 0;
    const after = end < rows.length;
    rows = rows.slice(start, end);
    if (q.limit !== null && rows.length > 0) {
      const first = String(rows[0]!.view['id']);
      const last = String(rows[rows.length - 1]!.view['id']);
      if (after) links.push({ rel: 'next', href: pageHref(link, last, false) });
      if (before) links.push({ rel: 'previous', href: pageHref(link, first, true) });
    }
  }
  const items = rows.map((r) => pick(r.view, q.fields));
  return { items, links };
}

function pageHref(link: { url: string; raw: RawQuery }, marker: string, reverse: boolean): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(link.raw)) {
    if (k === 'marker' || k === 'page_reverse') continue;
    for (const s of values(v)) params.append(k, s);
  }
  params.append('marker', marker);
  if (reverse) params.append('page_reverse', 'True');
  return `${link.url}?${params.toString()}`;
}

/** Keeps only `fields` (all when null). Unknown field names are ignored, as Neutron does. */
export function pick(view: Dict, fields: string[] | null): Dict {
  if (fields === null || fields.length === 0) return view;
  const out: Dict = {};
  for (const f of fields) if (f in view) out[f] = view[f];
  return out;
}
