// The floor under the service's bare request: a plain Bun.serve answering what GET /health
// answers (the same body, content type and an X-Request-Id), with nothing else. The joins
// scenario runs it as a process of its own and loads it the same way as the service, so
// "service CPU per bare request / this one's" is what the framework and our hooks cost on
// every request. It prints its port on stdout.
//   bun bench/bare-server.ts
const BODY = JSON.stringify({ status: "ok" });
const PREFIX = Math.random().toString(36).slice(2, 10);
let counter = 0;

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  development: false,
  routes: {
    "/health": () =>
      new Response(BODY, {
        headers: { "content-type": "application/json;charset=utf-8", "x-request-id": `${PREFIX}-${(++counter).toString(36)}` },
      }),
  },
  fetch: () => new Response("not found", { status: 404 }),
});
console.log(JSON.stringify({ message: "listening", port: server.port }));
process.on("SIGTERM", () => {
  void server.stop(true);
  process.exit(0);
});
