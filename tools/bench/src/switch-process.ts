import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The parent's handle on an emulated switch run in a child process (the bench's own
 * script forked with `env` telling it to be the switch): one job sent, one report back.
 * The child inherits no `--cpu-prof` or other node flags: a profile is of the controller.
 */
export class SwitchProcess<Job, Report> {
  private constructor(private readonly child: ChildProcess) {}

  static async start<Job, Report>(scriptUrl: string, env: Record<string, string>): Promise<SwitchProcess<Job, Report>> {
    const child = fork(fileURLToPath(scriptUrl), [], { execArgv: [], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the emulated switch exited (${code})`)));
    });
    return new SwitchProcess<Job, Report>(child);
  }

  run(job: Job): Promise<Report> {
    return new Promise((resolve) => {
      this.child.once('message', (r) => resolve(r as Report));
      this.child.send(job as object);
    });
  }

  close(): void {
    this.child.kill();
  }
}
