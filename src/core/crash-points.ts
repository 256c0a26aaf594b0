// Test-only crash points for the fault suite: with TQ_CRASH_AT set to a point's name, the
// process kills itself (SIGKILL: no clean-up, no answer sent) the first time it gets there, so
// a crash between two steps of a flow is reproducible instead of a lucky kill -9.
import { loadToolingEnv } from "../config/config";
import { createLogger } from "./log";

export const CRASH_POINTS = [
  "join:queued", //         join: the place is in Redis; the type is not yet marked active
  "process:claimed", //     process: a batch is popped and in flight; PostgreSQL not asked
  "process:granted", //     process: holds are in PostgreSQL; Redis still says pending
  "process:settled", //     process: a batch is settled; the next is about to be claimed
  "confirm:booked", //      confirm (the buyer's or the shop's): the booking is in PostgreSQL; Redis not yet told
  "release:released", //    release: stock is back in PostgreSQL; Redis not yet told
  "expire:expired", //      expire: holds expired and refilled in PostgreSQL; Redis not yet told
] as const;

/**
 * Reached only at the start of a sale with a pre-queue (test/prequeue.test.ts), which the fault
 * suite's crowd never makes: kept apart from CRASH_POINTS, every one of which the full suite
 * expects some instance to reach.
 */
export const SALE_START_CRASH_POINTS = [
  "sale:opening", //        the processor: a sale is due; its pre-queue's opening is about to be sent
  "sale:opened", //         the processor: the pre-queue is in the queue; the type not yet marked active
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number] | (typeof SALE_START_CRASH_POINTS)[number];

const target = loadToolingEnv().TQ_CRASH_AT;

export function crashPoint(point: CrashPoint): void {
  if (target !== point) return;
  createLogger("error").error("test crash point reached; killing the process", { point });
  process.kill(process.pid, "SIGKILL");
}
