// deploy/ticket-queue.service against what it relies on: the exit status of a configuration
// error, and the install steps in docs/operating.md putting the README where Documentation= points.
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const UNIT = join(ROOT, "deploy", "ticket-queue.service");
const unit = await Bun.file(UNIT).text();
const setting = (name: string) => unit.match(new RegExp(`^${name}=(.*)$`, "m"))?.[1];

test("a configuration error exits with the status the unit does not restart", async () => {
  expect(setting("Restart")).toBe("always");
  const status = Number(setting("RestartPreventExitStatus"));
  const run = Bun.spawn(["bun", "src/main.ts", "serve"], {
    cwd: ROOT, env: { ...process.env, PORT: "not-a-port", TOKEN_SECRET: "x".repeat(40) }, stdout: "pipe", stderr: "pipe",
  });
  expect(await run.exited).toBe(status);
  expect(status).toBe(2);
});

test("Documentation= names the file the systemd steps (docs/operating.md) install the README to", async () => {
  const documentation = setting("Documentation");
  expect(documentation).toStartWith("file:///");
  const path = documentation!.slice("file://".length);
  const operating = await Bun.file(join(ROOT, "docs", "operating.md")).text();
  const section = operating.slice(operating.indexOf("### On a VM with systemd"), operating.indexOf("### Every core of a host"));
  expect(section).toMatch(new RegExp(`^sudo install .*README\\.md ${path.replaceAll(".", "\\.")}(\\s|$)`, "m"));
  expect(unit).toContain(`README.md ${path}`); // the unit's own header lists the same steps
});

test("systemd-analyze verify finds nothing but the binary missing on this machine", async () => {
  const analyze = Bun.which("systemd-analyze");
  if (!analyze) return void console.warn("systemd-analyze is not installed: unit not verified");
  const run = Bun.spawn([analyze, "verify", UNIT], { stdout: "pipe", stderr: "pipe" });
  await run.exited;
  const said = (await new Response(run.stderr).text()) + (await new Response(run.stdout).text());
  const complaints = said.split("\n").filter((line) => line.trim() !== "" && !line.includes("/usr/local/bin/ticket-queue is not executable"));
  expect(complaints).toEqual([]);
});
