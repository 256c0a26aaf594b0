import type { Progress } from "./progress";
import type { Figure } from "./stats";

export type Options = {
  /** people queued for `grants` (and for each drain of `webhook-grants`) */
  n: number;
  /** people queued for `grants` at batch size 1 */
  n1: number;
  batchSize: number;
  /**
   * batched drains in `grants` (the median is the figure: this machine is noisy), pairs of
   * drains in `webhook-grants` (no endpoint, subscribed), and rounds of `joins` (its three
   * instances in turns; means)
   */
  runs: number;
  connections: number;
  /** seconds each HTTP load runs (and each idle count of `streams`, up to 5) */
  duration: number;
  /** arrivals per second for `hold-latency` */
  rate: number;
  /** holds lapsing together for `expiry` */
  m: number;
  /** people queued for `status` */
  queued: number;
  /** open streams for `streams` */
  streams: number;
  /** seconds a hold lasts in `streams` (longer than its drain: every stream must see `reserved` first) */
  hold: number;
};

export type Result = { figures: Figure[]; details: Record<string, unknown> };
export type Scenario = (options: Options, progress: Progress) => Promise<Result>;
