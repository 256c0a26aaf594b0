// Redis's own cost of join-3.lua, per join, without the service or the load generator around
// it: `bun bench/join-script.ts [--batch 20] [--joins 100000]` sends joins of distinct users
// to the Redis at REDIS_URL in calls of --batch, as the join batcher does (under 200
// connections its calls averaged about 20), then prints Redis's INFO commandstats and CPU per
// join. It resets Redis's statistics (CONFIG RESETSTAT): point it at a Redis of its own.
import { parseArgs } from "node:util";
import { createTokens } from "../src/domain/tokens";
import { createRedis, keysFor } from "../src/store/redis";

const { values } = parseArgs({ options: {
  batch: { type: "string", default: "20" }, joins: { type: "string", default: "100000" }, warmup: { type: "string", default: "5000" },
  // leaves the keys (and the service's statistics) for whoever reads Redis next, a profiler say
  keep: { type: "boolean", default: false },
} });
const batch = Number(values.batch);
const total = Number(values.joins);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const TYPE = 1;

const redis = createRedis(REDIS_URL);
await redis.connect();
const prefix = `join-script:${Date.now()}:`;
const keys = keysFor(prefix, TYPE);
const tokens = createTokens("join-script-bench-secret");
// a few calls in flight at once, as from a busy service
const IN_FLIGHT = 4;

async function run(joins: number, offset: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < joins) {
      const size = Math.min(batch, joins - next);
      const first = next;
      next += size;
      const people = Array.from({ length: size }, (_, i) => {
        const t = tokens.issue(TYPE);
        return { id: t.id, userId: `user-${offset + first + i}`, quantity: 1, token: t.token };
      });
      const replies = await redis.scripts.join({ keys, perUserLimit: 4, joins: people });
      const wrong = replies.find((r) => r.kind !== "joined");
      if (wrong) throw new Error(`a join answered ${JSON.stringify(wrong)}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

const cpu = async () => {
  const info = await redis.info("cpu");
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
};

await run(Number(values.warmup), 0); // warm-up (and the script loaded)
await redis.config("RESETSTAT");
const before = await cpu();
const started = performance.now();
await run(total, 1_000_000);
const seconds = (performance.now() - started) / 1000;
const used = (await cpu()) - before;
const stats = (await redis.info("commandstats")).split("\r\n").filter((l) => l.startsWith("cmdstat_"));

console.log(`${total} joins in calls of ${batch}: ${(total / seconds).toFixed(0)} joins/s`);
console.log(`Redis CPU per join (INFO cpu): ${((used * 1e6) / total).toFixed(1)} µs`);
console.log("commandstats, per join:  command  calls  µs");
let sum = 0;
for (const line of stats) {
  const [, name, calls, usec] = /^cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/.exec(line)!;
  if (name.startsWith("config") || name === "info") continue;
  const perJoin = Number(usec) / total;
  if (name !== "evalsha" && name !== "eval") sum += perJoin;
  console.log(`  ${name.padEnd(8)} ${(Number(calls) / total).toFixed(2).padStart(6)} ${perJoin.toFixed(2).padStart(6)}`);
}
console.log(`  (the script's commands: ${sum.toFixed(2)} µs a join; the rest of the script's time is its own Lua work)`);

// tidy what we wrote
if (!values.keep) {
  let cursor = "0";
  do {
    const [nextCursor, found] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = nextCursor;
    if (found.length > 0) await redis.unlink(...found);
  } while (cursor !== "0");
}
redis.disconnect();
