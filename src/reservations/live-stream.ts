// One open stream: its body (an SSE stream), the last answer it was sent, and what the hub
// needs to decide when to look it up again. No timer of its own: the hub's one tick drives
// every stream, so an open stream costs memory only.
import type { FieldsOf, StatusAnswer } from "../api/schemas";
import type { TokenParts } from "../domain/tokens";
import { sse } from "../streams/sse";

export class LiveStream {
  /** The last answer sent (one is sent only when it differs from this). */
  answer: StatusAnswer | null = null;
  private json = "";
  /** Its queue place, read once while queued: the hub computes positions from it. */
  place: number | null = null;
  /** The served mark its last look-up was asked at: a reached place is looked up once per move of the mark. */
  servedSeen = -1;
  /** A reserved answer's deadline, ms. */
  deadline = 0;
  positionSentAt = 0;
  /** A look-up failed (Redis or PostgreSQL away): the tick tries again from retryAt. */
  failed = false;
  /** Not before this, ms: time-driven look-ups of one stream are at least a second apart. */
  retryAt = 0;
  lookingUp = false;
  /** A look-up was asked for while one was running: run another after it. */
  lookAgain = false;
  closed = false;
  private goneHooks: (() => void)[] = [];
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;

  constructor(
    readonly parts: TokenParts,
    readonly token: string,
    private eventId: number,
    retryMs: number,
    private readonly onGone: (stream: LiveStream) => void,
  ) {
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        controller.enqueue(sse.retry(retryMs));
      },
      cancel: () => this.gone(), // the client went away
    });
  }

  /** Sends `answer` when it differs from the last one sent; returns whether it did. */
  send(answer: StatusAnswer, now: number): boolean {
    const json = JSON.stringify(answer);
    if (json === this.json || this.closed) return false;
    this.answer = answer;
    this.json = json;
    const { position, expires_at }: FieldsOf<StatusAnswer> = answer;
    if (position !== undefined) this.positionSentAt = now;
    this.deadline = expires_at ? Date.parse(expires_at) : 0;
    this.write(sse.event(++this.eventId, "status", json));
    return true;
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    try {
      this.controller.enqueue(bytes);
    } catch {
      this.gone(); // closed under us
    }
  }

  close(): void {
    if (this.closed) return;
    try {
      this.controller.close();
    } catch {} // already closed by the client
    this.gone();
  }

  /** Runs `hook` once the stream is gone, whoever closed it (at once if it already is). */
  whenGone(hook: () => void): void {
    if (this.closed) hook();
    else this.goneHooks.push(hook);
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone(this);
    for (const hook of this.goneHooks) hook();
    this.goneHooks = [];
  }
}
