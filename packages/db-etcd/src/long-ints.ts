import { createRequire } from 'node:module';

/**
 * etcd ids (leases) are 64-bit. The etcd3 client decodes them through protobufjs
 * with `longs: String`, which is exact only when protobufjs found the `long`
 * library. Under module loaders that hand `require('long')` back as an ES module
 * namespace (vitest's, for one) protobufjs falls back to doubles and a lease id like
 * 7587899053558465029 comes back as 7587899053558465000 — a lease that does not
 * exist. Give protobufjs the real Long class when it did not get it.
 */
export function ensureExactInt64(): void {
  try {
    const fromEtcd = createRequire(createRequire(import.meta.url).resolve('etcd3'));
    const fromLoader = createRequire(fromEtcd.resolve('@grpc/proto-loader'));
    const protobuf = fromLoader('protobufjs') as { util: { Long?: unknown }; configure(): void };
    if (typeof protobuf.util.Long === 'function') return;
    const mod = fromLoader('long') as unknown;
    const Long = typeof mod === 'function' ? mod : (mod as { default?: unknown }).default;
    if (typeof Long !== 'function') return;
    protobuf.util.Long = Long;
    protobuf.configure();
  } catch {
    // Layout differs from the one we know: leave protobufjs as it is.
  }
}
