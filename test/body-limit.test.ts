// Bodies far over the limit, against a real listening server: the README promises JSON for every
// error, so a body over Bun's own limit must get our 413 too, not Bun's empty one.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startService, type RunningService } from "../src/server";
import { createTestEnv, quietLog, type TestEnv } from "./helpers";

let env: TestEnv;
let service: RunningService;

beforeAll(async () => {
  env = await createTestEnv();
  service = await startService({ ...env.config, PORT: 0 }, quietLog);
});
afterAll(async () => {
  await service.stop(5000);
  await env.close();
});

const TWO_MIB = 2 * 1024 * 1024;

async function postTo(body: BodyInit, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${service.port}/queue/join`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

for (const [name, body] of [
  ["declared length", () => JSON.stringify({ user_id: "x", ticket_type_id: 1, pad: "y".repeat(TWO_MIB) })],
  [
    "chunked",
    () =>
      new ReadableStream({
        start(controller) {
          for (let i = 0; i < 32; i++) controller.enqueue(new TextEncoder().encode("y".repeat(TWO_MIB / 32)));
          controller.close();
        },
      }),
  ],
] as const) {
  test(`a 2 MiB body (${name}) gets the JSON 413`, async () => {
    const res = await postTo(body());
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ error: "body_too_large" });
  });
}

test("the server still answers afterwards", async () => {
  const res = await fetch(`http://127.0.0.1:${service.port}/health`);
  expect(await res.json()).toEqual({ status: "ok" });
});

test("a body declared far larger than it is gets the JSON 413 at once, unread", async () => {
  const { connect } = await import("node:net");
  const socket = connect(service.port, "127.0.0.1");
  const answer = await new Promise<string>((resolve, reject) => {
    let text = "";
    socket.on("data", (d) => {
      text += d.toString();
      if (text.includes("}")) resolve(text);
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
    socket.write("POST /queue/join HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000000000\r\n\r\n{\"user_id\":");
  });
  socket.destroy();
  expect(answer).toStartWith("HTTP/1.1 413");
  expect(answer).toContain('"body_too_large"');
});
