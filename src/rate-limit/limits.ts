// The per-client limits of the public API: a token bucket per client for joins, status
// look-ups, stream openings and confirms (release shares confirm's), and a cap on the streams
// one client holds open. Limits are per instance: the main thread makes their memory
// (limitsMemory) and hands it to every HTTP thread, so whichever thread a connection lands on
// counts in the same buckets. /health, /admin, the docs and the page are not limited.
//
// Written here rather than taken from elysia-rate-limit (5.x): that plugin counts requests in
// fixed windows (no token bucket: a client may send twice its limit across a window's edge),
// its Retry-After is always the whole window rather than the time until a request would pass,
// one plugin instance has one limit (four would mean four async hooks on each route), its LRU
// store of 5,000 clients forgets the heaviest client once 5,000 others pass by, it cuts no IPv6
// address to its /64, it has no cap on open streams, and its store is one thread's.
import type { Server } from "bun";
import { rateOf, type Config } from "../config/config";
import { failWith } from "../core/errors";
import { clientOf } from "./client";
import { OpenStreams } from "./open-streams";
import { TokenBuckets } from "./token-buckets";

export type LimitName = "join" | "status" | "stream" | "confirm";

/** Over a limit: nothing was done; try again in `seconds` (with `openStreams`: the cap of open streams was). */
const rateLimited = (seconds: number, openStreams?: number) =>
  failWith({ headers: { "retry-after": String(seconds) }, fields: { retry_after: seconds } }, "rate_limited", seconds, openStreams);

/** How long a client over its open-stream cap is told to wait: a stream of it may end by then. */
const STREAMS_RETRY_SECONDS = 5;

type Context = { request: Request };

/** The memory of an instance's limits, shared by its HTTP threads (SharedArrayBuffers survive postMessage as themselves). */
export type LimitsMemory = { buckets: Record<LimitName, SharedArrayBuffer>; openStreams: SharedArrayBuffer };

/** New memory for an instance's limits; null when they are off (nothing to share). */
export function limitsMemory(config: Config): LimitsMemory | null {
  if (config.RATE_LIMITS === "off") return null;
  const buckets = { join: TokenBuckets.memory(), status: TokenBuckets.memory(), stream: TokenBuckets.memory(), confirm: TokenBuckets.memory() };
  return { buckets, openStreams: OpenStreams.memory() };
}

export class Limits {
  private readonly buckets: Record<LimitName, TokenBuckets> | null = null;
  private readonly openStreams: OpenStreams | null = null;

  /**
   * `memory`: the instance's (limitsMemory(), made once); without it, this app's own. `serverOf`:
   * the server that knows a request's peer (null under app.handle()).
   */
  constructor(
    private readonly config: Config,
    memory = limitsMemory(config),
    private readonly serverOf: () => Server<unknown> | null | undefined = () => null,
  ) {
    if (config.RATE_LIMITS === "off" || memory === null) return;
    this.buckets = {
      join: new TokenBuckets(rateOf(config.RATE_LIMIT_JOIN), memory.buckets.join),
      status: new TokenBuckets(rateOf(config.RATE_LIMIT_STATUS), memory.buckets.status),
      stream: new TokenBuckets(rateOf(config.RATE_LIMIT_STREAM), memory.buckets.stream),
      confirm: new TokenBuckets(rateOf(config.RATE_LIMIT_CONFIRM), memory.buckets.confirm),
    };
    this.openStreams = new OpenStreams(config.RATE_LIMIT_OPEN_STREAMS, memory.openStreams);
  }

  /**
   * A route's options that limit it: a transform hook (it runs before the body and query are
   * validated, so invalid requests count too) that refuses a client with no token left. No hook
   * at all when limits are off.
   */
  hook(name: LimitName): { transform?: (context: Context) => void } {
    const buckets = this.buckets?.[name];
    if (!buckets) return {};
    const trustProxy = this.config.TRUST_PROXY;
    const serverOf = this.serverOf;
    // The parameter destructured: Elysia reads a hook's signature to decide what to prepare (not
    // the server: a hook that names it has Elysia define it on every request's context).
    return {
      transform: ({ request }: Context) => {
        const seconds = buckets.take(clientOf(request, serverOf(), trustProxy));
        if (seconds > 0) throw rateLimited(seconds);
      },
    };
  }

  /**
   * Counts a stream its client opens; throws when the client already holds its cap. Returns the
   * function that counts it closed (safe to call more than once).
   */
  openStream(request: Request, server: Server<unknown> | null): () => void {
    if (!this.openStreams) return () => {};
    const close = this.openStreams.open(clientOf(request, server, this.config.TRUST_PROXY));
    if (close === null) {
      const cap = this.config.RATE_LIMIT_OPEN_STREAMS;
      throw rateLimited(STREAMS_RETRY_SECONDS, cap);
    }
    return close;
  }
}
