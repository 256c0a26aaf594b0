// The two sizes of the fault suite. The full run (`bun run chaos`) injects every fault kind;
// the short one runs inside `bun test`: fewer buyers and kills, a sample of the crash points,
// every Redis and PostgreSQL fault.
import { CRASH_POINTS } from "../src/crash-points";
import type { ChaosOptions } from "./run";

export const FULL_RUN: Omit<ChaosOptions, "binary" | "seed" | "say" | "cluster"> = {
  instances: 3,
  buyers: 3000,
  seats: 300,
  arrivalSeconds: 90,
  kills: 10,
  crashPoints: CRASH_POINTS,
  postgresRestart: true,
  holdSeconds: 4,
  gapMs: [1000, 3000],
};

export const QUICK_RUN: Omit<ChaosOptions, "binary" | "seed" | "say" | "cluster"> = {
  instances: 2,
  buyers: 400,
  seats: 60,
  arrivalSeconds: 20,
  kills: 3,
  crashPoints: ["process:granted", "confirm:booked", "expire:expired"],
  postgresRestart: true,
  holdSeconds: 3,
  gapMs: [500, 1500],
};
