// PostgreSQL's primary lost mid-sale (`bun run chaos --pg-failover --quick`): two instances of
// the built binary on a pg_auto_failover formation of their own (scripts/pg-ha.ts: a monitor, a
// primary and its synchronous standby), a crowd buying, and the primary lost as a machine is
// lost (its keeper and its postmaster kill -9 together). The standby is promoted; the service
// must follow it: every confirm answered 200 a booking in PostgreSQL, I1-I6, no 5xx but 503
// (with Retry-After), every buyer finished, whole again within 10 s of the new primary.
// Needs pg_autoctl (postgresql-15-auto-failover): .ci/run installs it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../scripts/binary";
import { printReport } from "../chaos/main";
import { runChaos } from "../chaos/run";
import { QUICK_PG_FAILOVER_RUN } from "../chaos/runs";

const folder = await mkdtemp(join(tmpdir(), "tq-pg-failover-"));
let binary: string | Promise<string>;
beforeAll(() => {
  // built while the formation starts
  binary = process.env.TQ_BINARY ?? buildBinary(join(folder, "ticket-queue"));
  if (binary instanceof Promise) binary.catch(() => {}); // met where it is awaited
});
afterAll(() => rm(folder, { recursive: true, force: true }));

test("the primary lost mid-sale: the standby takes over, the service follows, nothing answered is lost", async () => {
  const seed = Number(process.env.TQ_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const report = await runChaos({ ...QUICK_PG_FAILOVER_RUN, binary, seed, cluster: false, mode: "buyer", say: () => {} });
  if (!report.passed) printReport(report);
  expect(report.faults.map((f) => f.fault)).toEqual(["postgres primary lost"]);
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  const [switched] = report.failovers;
  expect(switched!.promoted).not.toBe(switched!.lost);
  // the crowd met the switch (confirms and releases answered 503 meanwhile) and bought after it
  expect(switched!.unavailable).toBeGreaterThan(0);
  expect(report.tables[0]!.booked).toBeGreaterThan(0);
  console.log(
    `pg failover: writable ${((switched!.writableAt - switched!.lostAt) / 1000).toFixed(1)} s after the loss; ` +
      `${switched!.unavailable} 503s, the last ${(switched!.lastUnavailableMs! / 1000).toFixed(1)} s after the loss; run ${report.seconds.toFixed(0)} s`,
  );
}, 150_000);
