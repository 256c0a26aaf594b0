// Serves the app on a port: one call per HTTP thread (server.ts for the main thread,
// threads/http.ts for the others).
import { createApp } from "./app";
import type { LimitsMemory } from "./rate-limit/limits";
import type { Services } from "./services";
import { framedPageRoutes } from "./web/page";

/**
 * Bun refuses a body over its own limit with an empty 413, before any of our code runs. Ours is
 * far smaller (src/http/body.ts, checked on the declared length before reading, and counted while
 * reading a chunked one), so Bun's is set out of reach: every refusal is our JSON 413.
 */
const BUN_BODY_LIMIT = Number.MAX_SAFE_INTEGER;

export type Listening = { port: number; url: string; stop(): Promise<void> };

/**
 * reusePort: whether threads of this instance share the port. Off for a single thread, so a
 * second instance started on a port in use fails (EADDRINUSE) instead of sharing it unnoticed.
 * development: false: the page is bundled once, as in the binary (Bun's dev mode adds an
 * inline script that the page's Content-Security-Policy refuses). `limits`: the instance's rate
 * limits' memory, the same for every thread.
 */
export async function listen(s: Services, port: number, reusePort: boolean, limits: LimitsMemory | null): Promise<Listening> {
  // HOST unset: Bun's default, every interface
  const hostname = s.config.HOST;
  const app = createApp(s, limits, await framedPageRoutes()).listen({ port, hostname, reusePort, maxRequestBodySize: BUN_BODY_LIMIT, development: false });
  return {
    port: app.server!.port!,
    url: app.server!.url.origin,
    stop: async () => void (await app.stop()), // stop accepting; requests in progress finish
  };
}

/**
 * Several threads share the port through SO_REUSEPORT, which would also let another process
 * of the same user share it unnoticed: bind without it first, so a port in use still fails.
 */
export function assertPortFree(port: number, hostname: string | undefined): void {
  if (port === 0) return; // the kernel picks a free one
  Bun.serve({ port, hostname, reusePort: false, fetch: () => new Response() }).stop(true);
}
