import { isAlive, stopPid } from './process.js';
import { removeDir } from './tmp.js';

/**
 * A server process this kit started in its own directory: stop it keeping its data,
 * kill it without a clean shutdown, start it again on the same port and data, or stop
 * it for good (removing the directory when the kit created it).
 */
export abstract class LocalServer {
  constructor(
    readonly dir: string,
    public pid: number,
    private readonly createdDir: boolean,
  ) {}

  /** Starts the server process on this instance's port and directory; returns its pid once it answers. */
  protected abstract launch(): Promise<number>;

  get alive(): boolean {
    return isAlive(this.pid);
  }

  /** Stops the server, keeping its data. */
  async stopProcess(): Promise<void> {
    await stopPid(this.pid);
  }

  /** Kills the server without a clean shutdown, keeping its data. */
  async kill(): Promise<void> {
    if (isAlive(this.pid)) process.kill(this.pid, 'SIGKILL');
    await stopPid(this.pid);
  }

  /** Starts the server again on the same port and directory. */
  async restart(): Promise<void> {
    await stopPid(this.pid);
    this.pid = await this.launch();
  }

  async stop(): Promise<void> {
    await stopPid(this.pid);
    if (this.createdDir) removeDir(this.dir);
  }
}
