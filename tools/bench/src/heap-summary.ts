import { readFileSync } from 'node:fs';

/**
 * Self size per kind of object in a V8 heap snapshot (`v8.writeHeapSnapshot`): objects
 * by constructor name, the rest by node type ("(string)", "(closure)", ...). Two
 * summaries subtracted say what a step of a program added, by kind.
 */
export function heapSummary(file: string): Map<string, { bytes: number; count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const key = type === 'object' ? snap.strings[snap.nodes[i + nameAt]!]! : `(${type})`;
    const row = out.get(key) ?? { bytes: 0, count: 0 };
    row.bytes += snap.nodes[i + sizeAt]!;
    row.count++;
    out.set(key, row);
  }
  return out;
}

/** after − before, by kind, largest growth first. */
export function heapGrowth(before: Map<string, { bytes: number; count: number }>, after: Map<string, { bytes: number; count: number }>): { kind: string; bytes: number; count: number }[] {
  const rows: { kind: string; bytes: number; count: number }[] = [];
  for (const [kind, a] of after) {
    const b = before.get(kind) ?? { bytes: 0, count: 0 };
    rows.push({ kind, bytes: a.bytes - b.bytes, count: a.count - b.count });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}
