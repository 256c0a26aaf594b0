// What the figures were measured on, and CPU accounting per process.
import { cpus, totalmem } from "node:os";
import { readdirSync, readFileSync } from "node:fs";
import type { Sql } from "../src/store/db";
import type { RedisClient } from "../src/store/redis";
import { nodesOf } from "./harness";

export async function describeMachine(sql: Sql, redis: RedisClient) {
  const info = await redis.info("server");
  const [{ server_version }] = await sql`SHOW server_version`;
  const commit = Bun.spawnSync(["git", "rev-parse", "HEAD"], { stderr: "ignore" }).stdout.toString().trim();
  const dirty = Bun.spawnSync(["git", "status", "--porcelain"], { stderr: "ignore" }).stdout.toString().trim() !== "";
  return {
    cores: cpus().length,
    cpu_model: cpus()[0]?.model ?? "unknown",
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    bun: Bun.version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown",
    postgresql: server_version as string,
    git_commit: commit ? `${commit}${dirty ? " (with uncommitted changes)" : ""}` : "unknown",
  };
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds a process (all its threads) has used; `thread`: only its thread of that id. */
export function processCpu(pid: number, thread?: number): number {
  try {
    const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
    const fields = readFileSync(path, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of every process with this command name (all PostgreSQL backends, say). */
export function commandCpu(command: string): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === command) total += processCpu(Number(pid));
    } catch {}
  }
  return total;
}

/** CPU seconds Redis has used: on a cluster, all its nodes together (replicas work too). */
export async function redisCpu(redis: RedisClient): Promise<number> {
  let total = 0;
  for (const node of nodesOf(redis)) {
    const info = await node.info("cpu");
    total += Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
  }
  return total;
}

export const selfCpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/**
 * CPU used by each side while `work` runs, as a share of one core (100% = one core busy).
 * PostgreSQL counts all its processes on this machine. `service_main`: the service's main
 * thread alone (with one HTTP thread, all of its HTTP; the rest of `service` is its workers,
 * and Bun's JIT, GC and allocator threads).
 */
export async function measureCpu<T>(
  redis: RedisClient, servicePid: number | null, work: () => Promise<T>,
): Promise<{ result: T; seconds: number; cpu: { load_generator: number; service: number; service_main: number; redis: number; postgresql: number } }> {
  const main = () => (servicePid ? processCpu(servicePid, servicePid) : 0);
  const before = { self: selfCpu(), service: servicePid ? processCpu(servicePid) : 0, main: main(), redis: await redisCpu(redis), pg: commandCpu("postgres") };
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const share = (used: number) => Math.round((used / seconds) * 100);
  return {
    result,
    seconds,
    cpu: {
      load_generator: share(selfCpu() - before.self),
      service: share(servicePid ? processCpu(servicePid) - before.service : 0),
      service_main: share(main() - before.main),
      redis: share((await redisCpu(redis)) - before.redis),
      postgresql: share(commandCpu("postgres") - before.pg),
    },
  };
}
