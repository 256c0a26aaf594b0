// The paid checkout to try by hand: the service (serve --dev --demo) with CONFIRM_BY=shop and
// CHECKOUT_URL pointing at the example shop (examples/shop/shop.ts), which it starts beside it
// with a shop API key made for this run. Prints both addresses; Ctrl-C stops both.
//   bun scripts/with-services.ts bun scripts/shop-demo.ts     (scripts/shop-demo.sh does this)
// PORT (default 3000) and SHOP_PORT (default 3001) move them.
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const port = Number(process.env.PORT ?? 3000);
const shopPort = Number(process.env.SHOP_PORT ?? 3001);
// Gone with this run, like serve --dev's throwaway admin token.
const shopKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
const publicUrl = `http://localhost:${port}`; // where buyers' browsers reach the service

const service = Bun.spawn([process.execPath, "src/main.ts", "serve", "--dev", "--demo"], {
  cwd: root,
  env: {
    ...process.env,
    PORT: String(port),
    CONFIRM_BY: "shop",
    SHOP_API_KEYS: shopKey,
    CHECKOUT_URL: `http://localhost:${shopPort}/checkout`,
    PUBLIC_URL: publicUrl,
    TQ_STOP_WITH_PARENT: String(process.pid), // the service stops should this script die without a word
  },
  stdout: "inherit", stderr: "inherit",
});
const shop = Bun.spawn([process.execPath, "examples/shop/shop.ts"], {
  cwd: root,
  env: {
    ...process.env,
    PORT: String(shopPort),
    SHOP_API_KEY: shopKey,
    TICKET_QUEUE_URL: `http://127.0.0.1:${port}`, // server to server
    TICKET_QUEUE_PUBLIC_URL: publicUrl, // the JWT's issuer
  },
  stdout: "inherit", stderr: "inherit",
});
const children = [service, shop];

let stopping = false;
function stop(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => stop(signal));
// One of them gone by itself (a port in use, say): the other goes too.
for (const child of children) void child.exited.then(() => stop("SIGTERM"));

// Both up: say where. The service migrates and seeds first, so it may take a few seconds.
void (async () => {
  const answers = async (url: string) => (await fetch(url).catch(() => null))?.ok === true;
  while (!stopping && !((await answers(`http://127.0.0.1:${port}/health`)) && (await answers(`http://127.0.0.1:${shopPort}/`)))) {
    await Bun.sleep(200);
  }
  if (stopping) return;
  console.log(`
  Paid checkout demo (CONFIRM_BY=shop)
    waiting room:  ${publicUrl}
    example shop:  http://localhost:${shopPort}/checkout   (buyers arrive from the waiting room's "Continue to checkout")
    shop API key:  ${shopKey}   (for curl: see docs/payments.md)
  Ctrl-C stops both.
`);
})();

const codes = await Promise.all(children.map((child) => child.exited));
process.exit(codes.find((code) => code !== 0) ?? 0);
