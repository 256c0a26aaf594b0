// The service instances of a fault-suite run: the built binary, each on a port of its own that
// it keeps across restarts, so buyers always know where to find it.
import { closeSync, openSync } from "node:fs";
import type { CrashPoint } from "../src/core/crash-points";

type Running = {
  child: ReturnType<typeof Bun.spawn>;
  crashAt: CrashPoint | null;
  /** Resolves when the process ends without being told to (at a crash point). */
  diedOnItsOwn: Promise<void>;
  killedByUs: boolean;
};

export class Instance {
  private running: Running | null = null;
  readonly url: string;

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly binary: string,
    private readonly env: Record<string, string>,
    private readonly logPath: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get pid(): number | null {
    return this.running?.child.pid ?? null;
  }

  get armedWith(): CrashPoint | null {
    return this.running?.crashAt ?? null;
  }

  get alive(): boolean {
    return this.running !== null && this.running.child.exitCode === null && this.running.child.signalCode === null;
  }

  /**
   * Starts the binary (set to crash at `crashAt`) and waits until it answers, or until it dies
   * at its crash point: one in a worker can come before the first request (a due hold to expire).
   */
  async start(crashAt: CrashPoint | null = null): Promise<void> {
    const log = openSync(this.logPath, "a");
    const env: Record<string, string> = { ...this.env, PORT: String(this.port) };
    if (crashAt) env.TQ_CRASH_AT = crashAt;
    const child = Bun.spawn([this.binary, "serve"], { env, stdout: log, stderr: log });
    closeSync(log);
    const running: Running = { child, crashAt, killedByUs: false, diedOnItsOwn: Promise.resolve() };
    running.diedOnItsOwn = new Promise((resolve) => {
      void child.exited.then(() => {
        if (!running.killedByUs) resolve();
      });
    });
    this.running = running;
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      if (!this.alive) {
        if (crashAt) return;
        throw new Error(`instance ${this.index} exited while starting (see ${this.logPath})`);
      }
      if (await this.healthy()) return;
      await Bun.sleep(50);
    }
    throw new Error(`instance ${this.index} did not answer within 60 s (see ${this.logPath})`);
  }

  /** Resolves when the current process dies without being killed by us. */
  diedOnItsOwn(): Promise<void> {
    return this.running?.diedOnItsOwn ?? new Promise(() => {});
  }

  async kill9(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.killedByUs = true;
    running.child.kill("SIGKILL");
    await running.child.exited;
  }

  /** kill -9 (unless already dead) and start again. */
  async restart(crashAt: CrashPoint | null = null): Promise<void> {
    await this.kill9();
    await this.start(crashAt);
  }

  /** SIGTERM; returns how long the process took to exit and its exit code. */
  async terminate(): Promise<{ ms: number; code: number | null }> {
    const running = this.running;
    if (!running || !this.alive) return { ms: 0, code: null };
    running.killedByUs = true;
    const started = Date.now();
    running.child.kill("SIGTERM");
    const code = await Promise.race([running.child.exited, Bun.sleep(15_000).then(() => null)]);
    if (code === null) running.child.kill("SIGKILL");
    return { ms: Date.now() - started, code };
  }

  private async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok;
    } catch {
      return false;
    }
  }
}
