// Smoke test of the compiled binary: built (or the one TQ_BINARY names, as CI builds it),
// copied alone to an empty folder, started; it serves the waiting-room page and its assets and
// its API documentation from inside itself, a join becomes a hold and a booking, and SIGTERM
// stops it cleanly.
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import postgres from "postgres";
import { buildBinary } from "../scripts/binary";
import { databaseUrl, deleteKeys, REDIS_URL, waitFor } from "./helpers";

const folders: string[] = [];
const dbName = `tq_test_binary_${crypto.randomUUID().slice(0, 8)}`;
const prefix = `test:binary:${crypto.randomUUID().slice(0, 8)}:`;

afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
  await deleteKeys(REDIS_URL, prefix);
  const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
  await admin`DROP DATABASE IF EXISTS ${admin(dbName)} WITH (FORCE)`;
  await admin.end();
});

async function tempFolder() {
  const folder = await mkdtemp(joinPath(tmpdir(), "tq-"));
  folders.push(folder);
  return folder;
}

/** Any http(s) URL but an SVG's namespace (a name, never fetched). */
const REMOTE_URL = /\bhttps?:\/\/(?!www\.w3\.org\/)/;

/** GET / (or the console, GET /admin/) and every asset it names come from the binary itself, and name no other host. */
async function expectWaitingRoom(base: string, path = "/") {
  const page = await fetch(`${base}${path}`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toStartWith("text/html");
  const unframable = (response: Response) => {
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
  };
  unframable(page);
  const html = await page.text();
  expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'self'`);
  expect(html).not.toMatch(REMOTE_URL);
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(assets.filter((a) => a.endsWith(".js")).length).toBe(1);
  expect(assets.filter((a) => a.endsWith(".css")).length).toBe(1);
  for (const asset of assets) {
    expect(asset).toStartWith("/"); // this host only
    const response = await fetch(`${base}${asset}`);
    expect(response.status).toBe(200);
    unframable(response);
    expect(await response.text()).not.toMatch(REMOTE_URL);
  }
  if (path !== "/") return;
  // only GET (and HEAD): another method is the API's 405
  const post = await fetch(`${base}/`, { method: "POST" });
  expect(post.status).toBe(405);
  expect(post.headers.get("allow")).toBe("GET");
}

/** Reads JSON log lines from the process until one matches. */
async function waitForLine(lines: AsyncIterator<string>, match: (line: any) => boolean) {
  for (;;) {
    const next = await lines.next();
    if (next.done) throw new Error("the binary exited before saying it was ready");
    try {
      const parsed = JSON.parse(next.value);
      if (match(parsed)) return parsed;
    } catch {}
  }
}

async function* linesOf(stream: ReadableStream<Uint8Array>) {
  let buffered = "";
  for await (const chunk of stream) {
    buffered += new TextDecoder().decode(chunk);
    let at: number;
    while ((at = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
    }
  }
}

test("the compiled binary serves a whole booking on its own", async () => {
  let binary = process.env.TQ_BINARY;
  if (!binary) {
    const buildDir = await tempFolder();
    binary = await buildBinary(joinPath(buildDir, "ticket-queue"));
  }
  const runDir = await tempFolder();
  await Bun.write(joinPath(runDir, "ticket-queue"), Bun.file(binary));
  await Bun.spawn(["chmod", "+x", joinPath(runDir, "ticket-queue")]).exited;

  const service = Bun.spawn([joinPath(runDir, "ticket-queue"), "serve", "--demo"], {
    cwd: runDir,
    env: {
      PATH: process.env.PATH ?? "",
      PORT: "0",
      DATABASE_URL: databaseUrl(dbName),
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      TOKEN_SECRET: "binary-smoke-test-secret-0123456789abcdef",
      RESERVATION_TTL_SECONDS: "60",
      // Both add Elysia request hooks, under which Elysia would answer a page route itself (as
      // JSON): the page must still be Bun's.
      CORS_ORIGINS: "http://shop.example",
      LOG_LEVEL: "debug",
      METRICS_TOKEN: "binary-smoke-test-metrics-token-0123456789",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const lines = linesOf(service.stdout);
    const { port } = await waitForLine(lines, (l) => l.message === "listening");
    const base = `http://127.0.0.1:${port}`;
    await expectWaitingRoom(base);
    await expectWaitingRoom(base, "/admin/"); // the operator's console, uPlot included
    const events = (await (await fetch(`${base}/events`)).json()) as any[];
    const type = events[0].ticket_types[0];
    expect(type.stock).toBeGreaterThan(0);

    const joined = (await (await fetch(`${base}/queue/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: "smoke", ticket_type_id: type.id }),
    })).json()) as any;
    expect(joined.status).toBe("queued");

    let status: any;
    await waitFor("the hold", async () => {
      status = await (await fetch(`${base}/reservation/status?token=${joined.queue_token}`)).json();
      return status.status === "reserved";
    }, 2_000, 20);
    expect(status.status).toBe("reserved");

    const confirmed = (await (await fetch(`${base}/reservation/confirm`, {
      method: "POST",
      body: JSON.stringify({ token: joined.queue_token }),
    })).json()) as any;
    expect(confirmed).toMatchObject({ status: "confirmed", quantity: 1 });

    // the workers' heartbeats and metrics reach the main thread in the binary too
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: "ready", checks: { processor: "ok", cleaner: "ok" } });
    const scraped = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer binary-smoke-test-metrics-token-0123456789" } });
    const metrics = await scraped.text();
    expect(metrics).toContain(`ticketqueue_holds_granted_total{ticket_type="${type.id}"} 1`);
    expect(metrics).toContain(`ticketqueue_confirmations_total{ticket_type="${type.id}"} 1`);

    // the API documentation, its page's script included, comes from the binary itself
    const spec = (await (await fetch(`${base}/openapi/json`)).json()) as any;
    expect(spec.paths["/queue/join"].post.responses["409"]).toBeDefined();
    const page = await (await fetch(`${base}/openapi`)).text();
    for (const [, asset] of page.matchAll(/(?:src|href)="(\/[^"]+)"/g)) {
      const res = await fetch(`${base}${asset}`);
      expect([asset, res.status, (await res.text()).length > 100_000]).toEqual([asset, 200, true]);
    }

    const startedStopping = Date.now();
    service.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    expect(Date.now() - startedStopping).toBeLessThan(10_000);
  } finally {
    service.kill("SIGKILL");
  }
}, 60_000);
