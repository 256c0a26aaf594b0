// The short version of the fault suite (`bun run chaos --quick`): two instances of the built
// binary on a Redis and a PostgreSQL of their own, a crowd buying, and kill -9, crash points,
// Redis data loss, a Redis restart and a PostgreSQL restart injected meanwhile. Every
// invariant and every answer the crowd got is checked at the end.
import { afterAll, expect, test } from "bun:test";
import { rm, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../scripts/binary";
import { printReport } from "../chaos/main";
import { runChaos } from "../chaos/run";
import { QUICK_RUN } from "../chaos/runs";

const folder = await mkdtemp(join(tmpdir(), "tq-chaos-"));
afterAll(() => rm(folder, { recursive: true, force: true }));

test("the short fault suite keeps every invariant and never answers wrongly", async () => {
  const binary = process.env.TQ_BINARY ?? (await buildBinary(join(folder, "ticket-queue")));
  const seed = Number(process.env.TQ_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const report = await runChaos({ ...QUICK_RUN, binary, seed, cluster: false, say: () => {} });
  if (!report.passed) printReport(report);
  expect(report.faults.map((f) => f.fault).sort()).toEqual(
    [
      ...Array(QUICK_RUN.kills).fill("kill -9"), "SIGTERM", "redis FLUSHDB", "redis restart", "postgres restart",
      ...QUICK_RUN.crashPoints.map((p) => `crash point ${p}`),
    ].sort(),
  );
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.crowd.served).toBeGreaterThan(0);
  expect(report.tables[0]!.booked).toBeGreaterThan(0);
}, 240_000);
