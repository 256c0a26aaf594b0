// Every curl example in README.md and docs/*.md, run against a live service, so an example that
// stops working fails the suite. The examples are the ```sh blocks holding a curl command.
//
// How they run:
// - Each file gets a real instance of its own (startService with --demo's event, its own
//   database and key prefix; docs/payments.md's with CONFIRM_BY=shop and a checkout hand-off),
//   and its blocks run in order in bash (set -eo pipefail), in one scratch folder. What a block
//   sets (TOKEN=...), the next ones see; ADMIN_TOKEN and SHOP_KEY are the instance's.
//   `localhost:3000` is the instance's address.
// - Each curl must answer 2xx, unless the comment line right after its command starts with the
//   status it answers instead: `# 409 {"error":...}` (or `# -> 409`). A curl error fails too.
// - A stream (`curl -N`) is read for 3 seconds, then cut: cut there is success.
// - Examples that cannot run here (a JWT login, systemd, a Redis Cluster) are ```text blocks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startService, type RunningService } from "../src/server";
import { ADMIN_TOKEN, createTestEnv, quietLog, type TestEnv } from "./helpers";
import { DOCS, ROOT, fencedBlocks } from "./markdown";

const SHOP_KEY = "docs-shop-key-".padEnd(40, "d");
const BLOCK_TIMEOUT_MS = 30_000;

/** Settings beyond ADMIN_TOKEN and SHOP_API_KEYS that a file's examples need. */
const SETTINGS: Record<string, Record<string, string>> = {
  "docs/payments.md": {
    CONFIRM_BY: "shop",
    CHECKOUT_URL: "https://shop.example.com/checkout",
    PUBLIC_URL: "https://tickets.example.com",
    CHECKOUT_SIGNING_KEY: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  },
};

type Curl = { line: number; expect: string };
type Example = { line: number; code: string; curls: Curl[] };

/** The curl commands of a block: where each starts and the status it must answer. */
function curlsOf(code: string, firstLine: number): Curl[] {
  const lines = code.split("\n");
  const curls: Curl[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    while (lines[i]!.endsWith("\\") && i + 1 < lines.length) i++; // a command's continuation lines
    if (lines[start]!.trimStart().startsWith("#") || !/\bcurl /.test(lines.slice(start, i + 1).join("\n"))) continue;
    const said = lines[i + 1]?.match(/^# (?:-> )?(\d{3})\b/);
    curls.push({ line: firstLine + start, expect: said ? said[1]! : "2xx" });
  }
  return curls;
}

function examplesOf(text: string): Example[] {
  return fencedBlocks(text)
    .filter((b) => b.lang === "sh")
    .map((b) => ({ line: b.line, code: b.code, curls: curlsOf(b.code, b.line) }))
    .filter((e) => e.curls.length > 0);
}

/** The block as run: each curl command marked with its line and expected status. */
function marked(example: Example, port: number): string {
  const lines = example.code.replaceAll("localhost:3000", `127.0.0.1:${port}`).split("\n");
  for (const curl of example.curls) {
    const i = curl.line - example.line;
    const indent = lines[i]!.match(/^\s*/)![0];
    lines[i] = `${indent}TQ_AT=${curl.line}; TQ_EXPECT=${curl.expect}; ${lines[i]!.trimStart()}`;
  }
  return lines.join("\n");
}

// curl, wrapped: each call's status and exit code go to calls.log, its body to stdout as usual
const PRELUDE = `
set -a
[ -f state.sh ] && . ./state.sh
set -eo pipefail
curl() {
  local extra=() rc code
  case " $* " in *" -N "*|*" -sN "*) extra=(--max-time 3) ;; esac
  command curl "\${extra[@]}" -w '%{stderr}%{http_code}' "$@" 2>curl.err && rc=0 || rc=$?
  code=$(tail -c 3 curl.err)
  if [ "\${#extra[@]}" -gt 0 ] && [ "$rc" = 28 ] && [ "$code" = 200 ]; then rc=0; fi
  echo "$TQ_AT $TQ_EXPECT $code $rc" >> calls.log
  return $rc
}
`;
const EPILOGUE = "\nexport -p > state.sh\n";

for (const file of DOCS) {
  const examples = examplesOf(await Bun.file(join(ROOT, file)).text());
  if (examples.length === 0) continue;

  describe(file, () => {
    let env: TestEnv;
    let service: RunningService;
    let dir: string;
    beforeAll(async () => {
      env = await createTestEnv({ ADMIN_TOKEN, SHOP_API_KEYS: SHOP_KEY, PORT: "0", LOG_LEVEL: "error", ...SETTINGS[file] });
      service = await startService(env.config, quietLog, { demo: true });
      dir = mkdtempSync(join(tmpdir(), "docs-examples-"));
    });
    afterAll(async () => {
      await service?.stop();
      await env?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const example of examples) {
      test(`the example at ${file}:${example.line}`, async () => {
        await Bun.write(join(dir, "calls.log"), "");
        const run = Bun.spawn(["bash", "-c", PRELUDE + marked(example, service.port) + EPILOGUE], {
          cwd: dir,
          env: { PATH: process.env.PATH!, HOME: dir, ADMIN_TOKEN, SHOP_KEY },
          stdout: "pipe",
          stderr: "pipe",
          timeout: BLOCK_TIMEOUT_MS, // killed past it: a hung example fails, with what it printed
        });
        const [code, out, err] = await Promise.all([run.exited, new Response(run.stdout).text(), new Response(run.stderr).text()]);
        const calls = (await Bun.file(join(dir, "calls.log")).text()).trim().split("\n").filter(Boolean).map((l) => l.split(" "));
        const wrong = calls
          .filter(([, expected, status, rc]) => rc !== "0" || (expected === "2xx" ? !status!.startsWith("2") : status !== expected))
          .map(([line, expected, status, rc]) => `${file}:${line}: expected ${expected}, answered ${status} (curl exit ${rc})`);
        const neverRan = example.curls.filter((c) => !calls.some(([line]) => line === String(c.line))).map((c) => `${file}:${c.line}: never ran`);
        expect({ wrong, neverRan, exit: code, ...(code === 0 ? {} : { out, err }) }).toEqual({ wrong: [], neverRan: [], exit: 0 });
      }, BLOCK_TIMEOUT_MS + 5_000);
    }
  });
}
