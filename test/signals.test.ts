// `npm start` stops whole on SIGTERM: npm passes the signal to its `sh -c`, which dies of it
// without passing it on, so with-services must notice its parent is gone and stop the service
// and the throwaway Redis it started. And the service must not outlive a killed with-services.
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import postgres from "postgres";
import { freePort } from "../scripts/local-servers";
import { databaseUrl, deleteKeys, exitWithin, REDIS_URL, waitFor as waitUntil } from "./helpers";

const dbName = `tq_test_signals_${crypto.randomUUID().slice(0, 8)}`;
const prefix = `test:signals:${crypto.randomUUID().slice(0, 8)}:`;
const started: Array<ReturnType<typeof Bun.spawn>> = [];
const leftovers: number[] = []; // every process seen below the ones started, killed in the end

afterAll(async () => {
  for (const pid of leftovers) if (alive(pid)) process.kill(pid, "SIGKILL");
  for (const child of started) child.kill("SIGKILL");
  await deleteKeys(REDIS_URL, prefix);
  const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
  await admin`DROP DATABASE IF EXISTS ${admin(dbName)} WITH (FORCE)`;
  await admin.end();
});

/** Every process below `root`, from the parent links in /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {} // gone meanwhile
  }
  const found: number[] = [];
  const visit = (pid: number) => (children.get(pid) ?? []).forEach((c) => (found.push(c), visit(c)));
  visit(root);
  return found;
}

/** Running, and not a zombie waiting for its parent to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

const answers = (port: number) =>
  fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);

/** Whether `check` holds within `ms` (the expectations below name what failed). */
const waitFor = (check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> =>
  waitUntil("it", check, ms, 100).then(() => true, () => false);

function start(command: string[], port: number, env: Record<string, string> = {}) {
  const child = Bun.spawn(command, {
    env: { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl(dbName), REDIS_KEY_PREFIX: prefix, LOG_LEVEL: "warn", ...env },
    stdout: "ignore",
    stderr: "ignore",
  });
  started.push(child);
  return child;
}

test("SIGTERM to `npm start` stops the service and the throwaway Redis it started", async () => {
  const port = freePort();
  // No Redis answers there, so with-services starts a throwaway one of its own.
  const npm = start(["npm", "start"], port, { REDIS_URL: "redis://127.0.0.1:1" });
  expect(await waitFor(() => answers(port), 60_000)).toBe(true);
  const descendants = processTree(npm.pid);
  leftovers.push(...descendants);
  const names = descendants.map((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "));
  expect(names.some((n) => n.includes("with-services"))).toBe(true);
  expect(names.some((n) => n.includes("src/main.ts serve"))).toBe(true);
  expect(names.some((n) => n.startsWith("redis-server"))).toBe(true);

  npm.kill("SIGTERM");
  expect(await waitFor(async () => !(await answers(port)) && !descendants.some(alive), 10_000)).toBe(true);
}, 90_000);

test("the service stops by itself when with-services is killed without a word", async () => {
  const port = freePort();
  const runner = start(["bun", "scripts/with-services.ts", "bun", "src/main.ts", "serve", "--dev"], port, { REDIS_URL });
  expect(await waitFor(() => answers(port), 30_000)).toBe(true);
  const descendants = processTree(runner.pid);
  leftovers.push(...descendants);
  expect(descendants.length).toBeGreaterThan(0);

  runner.kill("SIGKILL");
  expect(await waitFor(async () => !(await answers(port)) && !descendants.some(alive), 10_000)).toBe(true);
}, 60_000);

test("SIGTERM during start-up is a graceful stop once the service is up: exit 0, never the default kill", async () => {
  const port = freePort();
  const service = Bun.spawn(["bun", "src/main.ts", "serve", "--dev"], {
    env: { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl(dbName), REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "ignore",
  });
  started.push(service);
  // its first line (--dev's warning) comes once its signal handlers are in place, before start-up
  const reader = service.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  expect(first).toContain("--dev");
  service.kill("SIGTERM");
  expect(await exitWithin(service, 30_000)).toBe(0);
  expect(await answers(port)).toBe(false);
}, 40_000);
