// The buyers' page and the operator's console (GET /admin/) cannot be framed by another site:
// each, and every file of its bundle, carries a
// Content-Security-Policy header with frame-ancestors 'none' (a meta tag cannot say it) and
// X-Frame-Options: DENY, over real HTTP from a listening server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { listen, type Listening } from "../src/listen";
import { createTestEnv, type TestEnv } from "./helpers";

let env: TestEnv;
let server: Listening;
beforeAll(async () => {
  env = await createTestEnv();
  server = await listen(env.s, 0, false, null);
});
afterAll(async () => {
  await server?.stop();
  await env?.close();
});

const META_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

function expectUnframable(res: Response, what: string) {
  expect({ what, status: res.status }).toEqual({ what, status: 200 });
  const policy = res.headers.get("content-security-policy") ?? "";
  const directives = policy.split(";").map((d) => d.trim());
  expect(directives).toContain("frame-ancestors 'none'");
  // the page's own directives, the same as its meta tag's
  for (const directive of META_POLICY.split("; ")) expect(directives).toContain(directive);
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
}

test("GET / and its script, styles and icon are sent with frame-ancestors 'none' and X-Frame-Options: DENY", async () => {
  const index = await fetch(`${server.url}/`);
  expectUnframable(index, "GET /");
  expect(index.headers.get("content-type")).toStartWith("text/html");
  const html = await index.text();
  expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${META_POLICY}">`);

  const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
  const types = await Promise.all(assets.map(async (path) => {
    const res = await fetch(`${server.url}${path}`);
    expectUnframable(res, `GET ${path}`);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    return res.headers.get("content-type")!.split(";")[0];
  }));
  expect(types.sort()).toEqual(["image/svg+xml", "text/css", "text/javascript"]);
});

test("GET /admin/, the console, and its script and styles too; HEAD /admin/ as well", async () => {
  const index = await fetch(`${server.url}/admin/`);
  expectUnframable(index, "GET /admin/");
  const html = await index.text();
  expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${META_POLICY}">`);
  expect(html).toContain("<title>Tickets: operator's console</title>");
  const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
  const types = await Promise.all(assets.map(async (path) => {
    const res = await fetch(`${server.url}${path}`);
    expectUnframable(res, `GET ${path}`);
    return res.headers.get("content-type")!.split(";")[0];
  }));
  expect(types.sort()).toEqual(["image/svg+xml", "text/css", "text/javascript"]);
  const head = await fetch(`${server.url}/admin/`, { method: "HEAD" });
  expectUnframable(head, "HEAD /admin/");
  expect(await head.text()).toBe("");
  // /admin without the slash is no page, and the console is read-only
  expect((await fetch(`${server.url}/admin`)).status).toBe(404);
  expect((await fetch(`${server.url}/admin/`, { method: "POST" })).status).toBe(404);
});

test("HEAD / carries them too, and a revalidation is still 304", async () => {
  const head = await fetch(`${server.url}/`, { method: "HEAD" });
  expectUnframable(head, "HEAD /");
  const etag = head.headers.get("etag");
  expect(etag).toBeString();
  const again = await fetch(`${server.url}/`, { headers: { "if-none-match": etag! } });
  expect(again.status).toBe(304);
  expect(again.headers.get("x-frame-options")).toBe("DENY");
});

test("the API documentation page cannot be framed either", async () => {
  const docs = await fetch(`${server.url}/openapi`);
  expect(docs.status).toBe(200);
  expect(await docs.text()).toContain("swagger-ui");
  expect(docs.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
  expect(docs.headers.get("x-frame-options")).toBe("DENY");
});
