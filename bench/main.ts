// bun run bench [grants|webhook-grants|joins|hold-latency|expiry|status|streams|webhooks|all] [--short] [--json FILE] [--n N] ...
// Runs the scenarios against real Redis and PostgreSQL and the built binary; prints a table
// on stdout, writes every figure with its unit (and the machine) as JSON when asked. Exits
// non-zero when a scenario cannot produce its figures (an error, a figure that is no number).
// --short (or BENCH_SHORT=1): small sizes, a few seconds a scenario, the same code paths; CI
// runs it so that every scenario keeps running whole. Its figures say nothing of speed.
import { parseArgs as parseCommandLine } from "node:util";
import { loadEnv } from "../src/config/config";
import { createSql } from "../src/store/db";
import { createRedis } from "../src/store/redis";
import { buildBinary, DIST_BINARY } from "../scripts/binary";
import { SERVICE_BINARY } from "./harness";
import { DATABASE_URL, REDIS_URL } from "./harness";
import { withDatabase } from "../src/config/database-url";
import { describeMachine } from "./machine";
import { Progress } from "./progress";
import type { Options, Result, Scenario } from "./scenario";
import { expiry } from "./scenarios/expiry";
import { grants } from "./scenarios/grants";
import { holdLatency } from "./scenarios/hold-latency";
import { joins } from "./scenarios/joins";
import { status } from "./scenarios/status";
import { streams } from "./scenarios/streams";
import { webhookGrants } from "./scenarios/webhook-grants";
import { webhooks } from "./scenarios/webhooks";

const SCENARIOS: Record<string, Scenario> = {
  grants, "webhook-grants": webhookGrants, joins, "hold-latency": holdLatency, expiry, status, streams, webhooks,
};

const DEFAULTS: Options = {
  n: 200_000, n1: 5_000, batchSize: loadEnv().PROCESSOR_BATCH_SIZE, runs: 3,
  connections: 200, duration: 10, rate: 1000, m: 10_000, queued: 1_000_000, streams: 10_000, hold: 8,
};

/** --short: the sizes that --n and the like do not set. */
const SHORT: Options = {
  ...DEFAULTS, n: 5_000, n1: 100, runs: 1, connections: 20, duration: 2, rate: 100, m: 1_000, queued: 10_000, streams: 200, hold: 3,
};

const USAGE = `usage: bun run bench [${[...Object.keys(SCENARIOS), "all"].join("|")}] [--short] [--json FILE]
  [--n ${DEFAULTS.n}] [--n1 ${DEFAULTS.n1}] [--batch-size ${DEFAULTS.batchSize}] [--runs ${DEFAULTS.runs}] [--connections ${DEFAULTS.connections}]
  [--duration ${DEFAULTS.duration}] [--rate ${DEFAULTS.rate}] [--m ${DEFAULTS.m}] [--queued ${DEFAULTS.queued}] [--streams ${DEFAULTS.streams}] [--hold ${DEFAULTS.hold}]`;

/** --batch-size and the like, for each numeric option. */
const flagOf = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function parseArgs(argv: string[]) {
  const flags = Object.fromEntries([
    ["json", { type: "string" as const }],
    ["short", { type: "boolean" as const }],
    ...Object.keys(DEFAULTS).map((key) => [flagOf(key), { type: "string" as const }]),
  ]);
  let parsed;
  try {
    parsed = parseCommandLine({ args: argv, options: flags, allowPositionals: true, strict: true });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  const values = parsed.values as Record<string, string | undefined>;
  const names = parsed.positionals;
  const json = values.json ?? null;
  const short = Boolean(values.short) || process.env.BENCH_SHORT === "1";
  const options = { ...(short ? SHORT : DEFAULTS) };
  for (const key of Object.keys(DEFAULTS) as (keyof Options)[]) {
    const value = values[flagOf(key)];
    if (value === undefined) continue;
    if (!/^\d+$/.test(value)) throw new Error(`bad option --${flagOf(key)} ${value}\n${USAGE}`);
    options[key] = Number(value);
  }
  const chosen = names.length === 0 || names.includes("all") ? Object.keys(SCENARIOS) : names;
  const unknown = chosen.find((n) => !(n in SCENARIOS));
  if (unknown) throw new Error(`unknown scenario ${unknown}\n${USAGE}`);
  return { options, json, chosen, short };
}

/** Why a scenario's figures are not figures: one that is no finite number (NaN from no samples, say). */
function notFigures(result: Result): string | null {
  const bad = result.figures.filter((f) => !Number.isFinite(f.value));
  return bad.length === 0 ? null : `no figure for ${bad.map((f) => `"${f.name}" (${f.value})`).join(", ")}`;
}

/** `judged`: whether met / MISSED is said (not in a short run, whose sizes say nothing of speed). */
function table(results: Record<string, Result | { error: string }>, judged: boolean): string {
  const rows: string[][] = [["scenario", "figure", "value", "unit", "target", ""]];
  for (const [scenario, result] of Object.entries(results)) {
    if ("error" in result) {
      rows.push([scenario, "FAILED", "", "", "", result.error.split("\n")[0]!]);
      continue;
    }
    for (const f of result.figures) {
      const value = Math.abs(f.value) >= 1000 ? Math.round(f.value).toLocaleString("en-US") : String(f.value);
      const target = f.target ? `${f.target.op} ${f.target.value.toLocaleString("en-US")}` : "";
      rows.push([scenario, f.name, value, f.unit, target, !judged || f.met === undefined ? "" : f.met ? "met" : "MISSED"]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd();
      return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ").trimEnd()}` : line;
    })
    .join("\n");
}

async function main() {
  const { options, json, chosen, short } = parseArgs(process.argv.slice(2));
  const sql = createSql(withDatabase(DATABASE_URL, "postgres"));
  const redis = createRedis(REDIS_URL);
  await redis.connect();
  const machine = await describeMachine(sql, redis);
  redis.disconnect();
  await sql.end();

  if (SERVICE_BINARY === DIST_BINARY) {
    process.stderr.write("building dist/ticket-queue ...\n");
    await buildBinary();
  } else {
    process.stderr.write(`measuring ${SERVICE_BINARY} (BENCH_BINARY), not this checkout's code\n`);
  }
  const started = Date.now();
  const results: Record<string, Result | { error: string }> = {};
  for (const name of chosen) {
    const progress = new Progress(name);
    const scenarioStarted = Date.now();
    try {
      const result = await SCENARIOS[name]!(options, progress);
      const problem = notFigures(result);
      results[name] = problem ? { error: problem, ...result } : result; // the details stay for the JSON
    } catch (err) {
      results[name] = { error: err instanceof Error ? err.message : String(err) };
    } finally {
      progress.done();
      process.stderr.write(`${name}: ${Math.round((Date.now() - scenarioStarted) / 1000)} s\n`);
    }
  }
  const seconds = Math.round((Date.now() - started) / 1000);

  console.log(`ticket-queue benchmark: ${machine.cores} cores (${machine.cpu_model}), ${machine.memory_gib} GiB, ` +
    `Bun ${machine.bun}, Redis ${machine.redis}, PostgreSQL ${machine.postgresql}, commit ${machine.git_commit.slice(0, 12)}\n`);
  if (short) console.log("SHORT run: small sizes, to check that every scenario runs whole; these figures are no measurement\n");
  console.log(table(results, !short));
  console.log(`\n${seconds} s in all; load generator: autocannon (HTTP), Bun fetch (hold-latency), a Bun.serve receiver (webhooks), all on this machine`);
  if (json) {
    await Bun.write(json, JSON.stringify({ machine, short, options, seconds, scenarios: results }, null, 2));
    console.log(`figures written to ${json}`);
  }
  const failed = Object.entries(results).filter(([, r]) => "error" in r);
  for (const [name, r] of failed) console.error(`\n${name} FAILED:\n${(r as { error: string }).error}`);
  process.exit(failed.length > 0 ? 1 : 0);
}

await main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
