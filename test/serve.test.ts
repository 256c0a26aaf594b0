// `serve` as started by hand: a second instance on a taken port says so and exits 1 (the port
// is not silently shared), and `--dev` keeps its token secret in .run/ so a restart keeps tokens.
import { afterAll, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { databaseUrl, deleteKeys, exitWithin, REDIS_URL } from "./helpers";

const MAIN = join(import.meta.dir, "..", "src", "main.ts");
const dbName = `tq_test_serve_${crypto.randomUUID().slice(0, 8)}`;
const prefix = `test:serve:${crypto.randomUUID().slice(0, 8)}:`;
const started: Array<ReturnType<typeof Bun.spawn>> = [];
const folders: string[] = [];

afterAll(async () => {
  for (const child of started) child.kill("SIGKILL");
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
  await deleteKeys(REDIS_URL, prefix);
  const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
  await admin`DROP DATABASE IF EXISTS ${admin(dbName)} WITH (FORCE)`;
  await admin.end();
});

/** `serve --dev` in `cwd` without a TOKEN_SECRET, on its own database and key prefix. */
function serve(cwd: string, port: number, ...flags: string[]) {
  return serveWith({}, cwd, port, ...flags);
}

function serveWith(settings: Record<string, string>, cwd: string, port: number, ...flags: string[]) {
  const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl(dbName), REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: "info", ...settings };
  delete env.TOKEN_SECRET;
  const child = Bun.spawn(["bun", MAIN, "serve", "--dev", ...flags], { cwd, env, stdout: "pipe", stderr: "pipe" });
  started.push(child);
  return child;
}

/** Reads the JSON log until the service listens (and on, unread: a closed pipe would fail its logging). */
async function listening(child: ReturnType<typeof serve>) {
  const reader = child.stdout.getReader();
  const lines: any[] = [];
  let buffered = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    buffered += new TextDecoder().decode(chunk.value);
    let at: number;
    while ((at = buffered.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
      lines.push(line);
      if (line.message === "listening") {
        void (async () => { while (!(await reader.read()).done); })();
        return { port: line.port as number, lines };
      }
    }
  }
  throw new Error(`exited before listening: ${await new Response(child.stderr).text()}`);
}

test("a taken port stops the second instance; --dev tokens survive a restart", async () => {
  const cwd = await mkdtemp(join(tmpdir(), "tq-serve-"));
  folders.push(cwd);
  const secretFile = join(cwd, ".run", "dev-token-secret");

  const first = serve(cwd, 0, "--demo");
  const { port, lines } = await listening(first);
  expect(lines.find((l) => l.message.startsWith("--dev"))?.file).toBe(secretFile);
  expect(statSync(secretFile).mode & 0o777).toBe(0o600);
  const base = `http://127.0.0.1:${port}`;
  const [event] = (await (await fetch(`${base}/events`)).json()) as any[];
  const joined = (await (await fetch(`${base}/queue/join`, {
    method: "POST",
    body: JSON.stringify({ user_id: "restart", ticket_type_id: event.ticket_types[0].id }),
  })).json()) as any;
  expect(joined.queue_token).toBeString();

  const second = serve(cwd, port);
  expect(await exitWithin(second, 15_000)).toBe(1);
  const said = (await new Response(second.stderr).text()).trim();
  expect(said).toBe(`ticket-queue: port ${port} is already in use`);
  expect((await fetch(`${base}/health`)).status).toBe(200); // the first still serves

  first.kill("SIGTERM");
  expect(await first.exited).toBe(0);
  const third = serve(cwd, 0);
  const restarted = await listening(third);
  const status = await fetch(`http://127.0.0.1:${restarted.port}/reservation/status?token=${joined.queue_token}`);
  expect(status.status).toBe(200); // a new secret would make it an unknown token (404)
  third.kill("SIGTERM");
  expect(await third.exited).toBe(0);
}, 60_000);

/** Whether a TCP connection to host:port is accepted. */
function accepts(hostname: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    Bun.connect({
      hostname, port,
      socket: { open: (socket) => (socket.end(), resolve(true)), data() {}, connectError: () => resolve(false), error: () => resolve(false) },
    }).catch(() => resolve(false));
  });
}

test("HOST=127.0.0.1: every HTTP thread answers there, and nowhere else on the machine", async () => {
  const cwd = await mkdtemp(join(tmpdir(), "tq-serve-"));
  folders.push(cwd);
  const child = serveWith({ HOST: "127.0.0.1", HTTP_THREADS: "2" }, cwd, 0);
  const { port, lines } = await listening(child);
  expect(lines.find((l) => l.message === "listening")).toMatchObject({ url: `http://127.0.0.1:${port}`, http_threads: 2 });
  // several connections: the kernel spreads them over both threads
  for (let i = 0; i < 8; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: "close" } });
    expect(res.status).toBe(200);
  }
  // other loopback addresses of this machine: nothing listens there
  expect(await accepts("127.0.0.2", port)).toBe(false);
  expect(await accepts("::1", port)).toBe(false);
  child.kill("SIGTERM");
  expect(await child.exited).toBe(0);
}, 60_000);

test("without HOST the service listens on every interface (another loopback address answers)", async () => {
  const cwd = await mkdtemp(join(tmpdir(), "tq-serve-"));
  folders.push(cwd);
  const child = serveWith({ HTTP_THREADS: "1" }, cwd, 0);
  const { port } = await listening(child);
  expect(await accepts("127.0.0.2", port)).toBe(true);
  child.kill("SIGTERM");
  expect(await child.exited).toBe(0);
}, 60_000);
