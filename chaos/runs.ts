// The two sizes of the fault suite. The full run (`bun run chaos`) injects every fault kind;
// the short one runs inside `bun test`: fewer buyers and kills, a sample of the crash points,
// every Redis and PostgreSQL fault. Either size runs in either mode (buyer or shop). The
// PostgreSQL failover runs (--pg-failover) have sizes of their own, at the end.
import { CRASH_POINTS } from "../src/core/crash-points";
import type { ChaosOptions, Mode } from "./run";

export type RunSize = Omit<ChaosOptions, "binary" | "seed" | "say" | "cluster" | "mode">;

export const FULL_RUN: RunSize = {
  instances: 3,
  buyers: 3000,
  seats: 300,
  arrivalSeconds: 90,
  kills: 10,
  crashPoints: CRASH_POINTS,
  postgresRestart: true,
  pgFailovers: 0,
  holdSeconds: 4,
  gapMs: [1000, 3000],
};

export const QUICK_RUN: RunSize = {
  instances: 2,
  buyers: 400,
  seats: 60,
  arrivalSeconds: 20,
  kills: 3,
  crashPoints: ["process:granted", "confirm:booked", "expire:expired"],
  postgresRestart: true,
  pgFailovers: 0,
  holdSeconds: 3,
  gapMs: [500, 1500],
};

/**
 * The short run in shop mode: one crash point, the confirm's (a booking committed, its answer
 * lost); the others do not depend on who books, and the buyer's short run has them.
 */
export const QUICK_SHOP_RUN: RunSize = { ...QUICK_RUN, crashPoints: ["confirm:booked"] };

export const QUICK_RUNS: Record<Mode, RunSize> = { buyer: QUICK_RUN, shop: QUICK_SHOP_RUN };

/**
 * `bun run chaos --pg-failover`: on a pg_auto_failover formation, the primary lost twice (the
 * second time the first loss's node is the standby again), buyers buying throughout; no other fault.
 */
export const PG_FAILOVER_RUN: RunSize = {
  instances: 2,
  buyers: 1500,
  seats: 300,
  arrivalSeconds: 60,
  kills: 0,
  crashPoints: [],
  postgresRestart: false,
  pgFailovers: 2,
  holdSeconds: 4,
  gapMs: [3000, 6000],
};

/** The failover test in `npm test` (test/pg-ha.test.ts): one loss, as short as it can be. */
export const QUICK_PG_FAILOVER_RUN: RunSize = {
  ...PG_FAILOVER_RUN,
  // seats for everyone: no buyer waits for another's hold to lapse, so the crowd is done soon after the switch
  buyers: 120,
  seats: 200,
  arrivalSeconds: 10,
  pgFailovers: 1,
  holdSeconds: 4,
  gapMs: [1500, 2500],
};
