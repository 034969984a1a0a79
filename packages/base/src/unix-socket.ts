import { chmodSync, existsSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { type Server, createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { DfError } from './error.js';

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
const MAX_SUN_PATH = 107;

export interface UnixListenOptions {
  /** Permission bits of the socket file: 0o600 (owner only, the default) or 0o660 (owner and group). */
  mode?: number;
  /** Error code of a failure (default UNIX_SOCKET). */
  code?: string;
}

/**
 * Listens on a unix socket whose permissions never depend on the umask and are
 * never wider than asked, not even for an instant: the socket is bound inside a
 * fresh 0700 directory next to `path`, given its mode there, then renamed into
 * place. A socket at `path` that still answers is another live server (refused);
 * one that does not is a dead server's leftover and is replaced. Closing the
 * server does not remove the file (it was bound under another name): call
 * removeUnixSocket after close.
 */
export async function listenUnix(server: Server, path: string, options: UnixListenOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o600;
  const code = options.code ?? 'UNIX_SOCKET';
  if ((mode & ~0o770) !== 0) throw new DfError(code, `socket mode ${mode.toString(8)} for ${path} gives rights to other users (allowed: 600, 660)`, { context: { path, mode } });
  if (existsSync(path) && (await unixSocketAnswers(path))) {
    throw new DfError(code, `another process already serves ${path}`, { context: { path } });
  }
  let dir: string;
  try {
    dir = mkdtempSync(join(dirname(path), '.'));
  } catch (cause) {
    throw new DfError(code, `cannot create a socket in ${dirname(path)}: ${(cause as Error).message}`, { cause, context: { path } });
  }
  const staging = join(dir, 's');
  try {
    if (Buffer.byteLength(staging) > MAX_SUN_PATH || Buffer.byteLength(path) > MAX_SUN_PATH) {
      throw new DfError(code, `socket path ${path} is too long for a unix socket (its staging path ${staging} must fit in ${MAX_SUN_PATH} bytes)`, { context: { path } });
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new DfError(code, `cannot listen on ${path}: ${err.message}`, { cause: err, context: { path } }));
      server.once('error', onError);
      server.listen(staging, () => {
        server.off('error', onError);
        resolve();
      });
    });
    chmodSync(staging, mode);
    renameSync(staging, path);
  } catch (err) {
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    throw err instanceof DfError ? err : new DfError(code, `cannot listen on ${path}: ${(err as Error).message}`, { cause: err, context: { path } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Removes a socket file this process created (ignores one that is already gone). */
export function removeUnixSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** True when something accepts connections on the unix socket at `path`. */
export function unixSocketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
