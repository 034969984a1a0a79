import { connect, type Socket } from 'node:net';
import { DfError } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';

/** An OVSDB remote in Open vSwitch's own syntax. */
export type Remote = { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** Parses `unix:PATH`, `tcp:HOST:PORT` or `tcp:[IPV6]:PORT` (the syntax of ovs-vsctl --db). */
export function parseRemote(text: string): Remote {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (path.length === 0) throw new DfError(OvsdbErrorCode.BAD_REMOTE, `'${text}' names no socket path`, { context: { remote: text } });
    return { kind: 'unix', path };
  }
  if (text.startsWith('tcp:')) {
    const rest = text.slice('tcp:'.length);
    const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(rest) ?? /^([^:[\]]+):(\d+)$/.exec(rest);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port > 0 && port < 65536)) {
      throw new DfError(OvsdbErrorCode.BAD_REMOTE, `'${text}' is not tcp:HOST:PORT`, { context: { remote: text } });
    }
    return { kind: 'tcp', host: m[1]!, port };
  }
  throw new DfError(OvsdbErrorCode.BAD_REMOTE, `'${text}' is not an OVSDB remote (expected unix:PATH or tcp:HOST:PORT)`, {
    context: { remote: text },
  });
}

export function formatRemote(remote: Remote): string {
  return remote.kind === 'unix' ? `unix:${remote.path}` : `tcp:${remote.host.includes(':') ? `[${remote.host}]` : remote.host}:${remote.port}`;
}

/** Opens a stream socket to the remote; rejects with OVSDB_CONNECT naming the remote. */
export function openSocket(remote: Remote, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = remote.kind === 'unix' ? connect({ path: remote.path }) : connect({ host: remote.host, port: remote.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DfError(OvsdbErrorCode.CONNECT, `connecting to ${formatRemote(remote)} timed out after ${timeoutMs} ms`, { context: { remote: formatRemote(remote) } }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      if (remote.kind === 'tcp') socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (cause) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new DfError(OvsdbErrorCode.CONNECT, `cannot connect to ${formatRemote(remote)}: ${cause.message}`, { cause, context: { remote: formatRemote(remote) } }));
    });
  });
}
