// A progress bar on stderr while a scenario runs; on a pipe, a line every few seconds instead.
export class Progress {
  private lastLine = 0;
  constructor(private readonly scenario: string) {}

  update(fraction: number, label: string): void {
    const tty = process.stderr.isTTY;
    if (!tty && Date.now() - this.lastLine < 3000) return;
    this.lastLine = Date.now();
    const width = 30;
    const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
    const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
    const line = `${this.scenario.padEnd(13)} ${bar} ${label}`;
    process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  /** Shows progress of a phase that takes `ms`, until the returned stop is called. */
  timed(ms: number, label: string): () => void {
    const started = Date.now();
    const timer = setInterval(() => this.update((Date.now() - started) / ms, label), 200);
    return () => clearInterval(timer);
  }

  done(): void {
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
  }
}
