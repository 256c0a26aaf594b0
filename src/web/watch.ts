// Follows one token's status: the server's event stream when it can be opened, GET
// /reservation/status every two seconds when it cannot (no stream on this server, or a proxy
// that breaks them). It stops at a final status.
import { ApiError, api, isFinal, type StatusReading } from "./api";

export type WatchEvents = {
  status(answer: StatusReading): void;
  /** The service is busy or out of reach; the next try is in `seconds`. */
  waiting(seconds: number, error: ApiError): void;
  /** The service refused the token itself (404: not one of its tokens). */
  refused(error: ApiError): void;
};

const POLL_MS = 2000;
/** Errors before a stream's first message that make the page give up on streams for this token. */
const STREAM_TRIES = 2;

export class StatusWatch {
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** A stream delivered at least once: worth opening again after it fails. */
  private streamWorked = false;
  private streamFailures = 0;

  constructor(
    private readonly token: string,
    private readonly on: WatchEvents,
  ) {}

  start(): void {
    if (typeof EventSource === "function") this.openStream();
    else this.pollIn(0);
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    clearTimeout(this.timer);
  }

  /** Asks now, whichever way the status arrives otherwise (say, a countdown just ran out). */
  checkNow(): void {
    if (this.stopped) return;
    if (this.source) void this.poll(false);
    else this.pollIn(0);
  }

  private openStream(): void {
    const source = new EventSource(`/reservation/stream?token=${encodeURIComponent(this.token)}`);
    this.source = source;
    let heard = false;
    source.addEventListener("status", (event) => {
      heard = true;
      this.streamWorked = true;
      this.streamFailures = 0;
      this.deliver(JSON.parse((event as MessageEvent<string>).data) as StatusReading);
    });
    source.onerror = () => {
      if (this.stopped || this.source !== source) return;
      // A dropped stream that had delivered: the browser reconnects by itself (retry: advice).
      if (heard && source.readyState === EventSource.CONNECTING) return;
      if (!heard && source.readyState === EventSource.CONNECTING && ++this.streamFailures < STREAM_TRIES) return;
      // Refused (an HTTP error, no stream here) or failing again and again: polling takes over.
      source.close();
      this.source = null;
      this.pollIn(0);
    };
  }

  /** One GET of the status; then the next poll, or back to the stream when streams work here. */
  private async poll(schedule = true): Promise<void> {
    try {
      const answer = await api.status(this.token);
      this.deliver(answer);
      if (!schedule || this.stopped) return;
      if (this.streamWorked && !this.source) this.openStream();
      else if (!this.source) this.pollIn(POLL_MS);
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof ApiError && err.passing) {
        const seconds = err.retryAfter ?? POLL_MS / 1000;
        this.on.waiting(seconds, err);
        if (schedule && !this.source) this.pollIn(seconds * 1000);
      } else if (err instanceof ApiError && err.status === 404) {
        this.stop();
        this.on.refused(err);
      } else if (schedule && !this.source) {
        this.pollIn(POLL_MS);
      }
    }
  }

  private pollIn(ms: number): void {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(() => void this.poll(), ms);
  }

  private deliver(answer: StatusReading): void {
    if (this.stopped) return;
    if (isFinal(answer.status)) this.stop(); // the stream would close now; the browser must not reopen it
    this.on.status(answer);
  }
}
