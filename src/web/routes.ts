// GET /: the buyers' waiting room. An HTML import, so Bun bundles the page with its script and
// styles (at start-up under `bun`, at build time into the compiled binary) and serves them from
// memory: no files on disk, nothing from another host.
import type { Serve } from "bun";
import page from "./index.html";

/**
 * Bun.serve routes, given to Elysia as `serve.routes` so Bun answers them before any Elysia
 * hook (a `.get("/", page)` would turn into JSON whenever an onRequest hook exists: CORS,
 * debug logging). GET and HEAD only: any other method on / goes on to Elysia.
 */
export const PAGE_ROUTES = { "/": { GET: page, HEAD: page } } as unknown as Serve.Routes<unknown, string>;
// (Bun takes a bundle per method, as test/binary.test.ts' POST / shows; its types list handlers only.)

/** For app.ts' table of allowed methods, so POST / is a 405 naming GET (Bun answers the GET itself). */
export const PAGE_METHODS = [{ method: "GET", path: "/" }];

/**
 * GET /admin/, the operator's console (src/console/), bundled with the buyers' page (page.ts).
 * Elysia takes the trailing slash off every Bun route's path, so this one cannot be a Bun route:
 * the wrapper every request goes through answers it (app.ts, http/every-request.ts), from the bundled file.
 */
export const CONSOLE_PATH = "/admin/";

/** The console's answer to a GET or HEAD of CONSOLE_PATH; null for another request, or without the bundle. */
export function consoleAnswer(pageRoutes: object, request: Request, path: string): Response | null {
  if (path !== CONSOLE_PATH || (request.method !== "GET" && request.method !== "HEAD")) return null;
  const page = (pageRoutes as Record<string, { GET?: unknown }>)[CONSOLE_PATH]?.GET;
  if (!(page instanceof Response)) return null;
  return request.method === "HEAD" ? new Response(null, page) : page.clone();
}
