// The short version of the fault suite (`bun run chaos --quick`), in both modes: two instances
// of the built binary on a Redis and a PostgreSQL of their own, a crowd buying, and kill -9,
// crash points, Redis data loss, a Redis restart, a PostgreSQL restart and the webhook receiver
// down injected meanwhile. Every invariant, every answer the crowd got and every webhook is
// checked at the end. In shop mode
// (CONFIRM_BY=shop) a shop books the paid holds with Idempotency-Keys, retried across the
// faults, and every booking it was told of must exist once, as told; its run has the confirm's
// crash point only (the others do not depend on who books), to keep `npm test` short.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rm, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../scripts/binary";
import { printReport } from "../chaos/main";
import { runChaos, type Mode } from "../chaos/run";
import { QUICK_RUNS } from "../chaos/runs";

const folder = await mkdtemp(join(tmpdir(), "tq-chaos-"));
let binary: string;
beforeAll(async () => {
  binary = process.env.TQ_BINARY ?? (await buildBinary(join(folder, "ticket-queue")));
}, 120_000);
afterAll(() => rm(folder, { recursive: true, force: true }));

async function shortRun(mode: Mode) {
  const seed = Number(process.env.TQ_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const size = QUICK_RUNS[mode];
  const report = await runChaos({ ...size, binary, seed, cluster: false, mode, say: () => {} });
  if (!report.passed) printReport(report);
  expect(report.faults.map((f) => f.fault).sort()).toEqual(
    [
      ...Array(size.kills).fill("kill -9"), "SIGTERM", "redis FLUSHDB", "redis restart", "postgres restart", "webhook receiver down",
      ...size.crashPoints.map((p) => `crash point ${p}`),
    ].sort(),
  );
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.checks.map((c) => c.name)).toContain("webhooks = PostgreSQL");
  expect(report.crowd.served).toBeGreaterThan(0);
  expect(report.tables[0]!.booked).toBeGreaterThan(0);
  return report;
}

test("the short fault suite keeps every invariant and never answers wrongly", async () => {
  await shortRun("buyer");
}, 240_000);

test("in shop mode too: every booking the shop was told of exists once, every replay the same", async () => {
  const report = await shortRun("shop");
  expect(report.checks.map((c) => c.name)).toContain("shop bookings exist once");
  expect(report.shop!.booked).toBeGreaterThan(0);
  // the crash point killed an instance after a booking committed: the shop heard of it by a retry
  expect(report.shop!.toldByReplay).toBeGreaterThan(0);
  expect(report.shop!.refusedBuyerConfirms).toBeGreaterThan(0);
}, 240_000);
