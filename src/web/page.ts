// The buyers' page (GET / and its script, styles and icon) and the operator's console (GET
// /admin/, src/console/) with headers of our own: neither may be framed by another site
// (clickjacking). Bun bundles an HTML import and serves it with only its own headers, and a
// <meta> Content-Security-Policy cannot say frame-ancestors. So the bundle is served once on a
// private loopback port, read back, and each file becomes a static Bun route carrying Bun's
// headers (ETag, Content-Type, Cache-Control) and ours.
import type { Serve } from "bun";
import page from "./index.html";
import consolePage from "../console/index.html";

/** Each page's path, and its HTML import. */
const PAGES = { "/": page, "/admin/": consolePage };

/** Not framed; a type never guessed from the content; no address of ours sent on to another site. */
const FRAMING = { "x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };

type PageRoutes = Record<string, { GET: Response; HEAD: Response }>;

let bundled: Promise<PageRoutes> | null = null;

/** The pages' routes, read once per thread. */
export const framedPageRoutes = (): Promise<Serve.Routes<unknown, string>> =>
  (bundled ??= bundle()) as unknown as Promise<Serve.Routes<unknown, string>>;

/** A page's own policy (its meta tag, the one source) with frame-ancestors 'none' added. */
export function pagePolicy(html: string): string {
  const policy = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)"/)?.[1];
  if (!policy) throw new Error("index.html has no Content-Security-Policy meta tag to repeat as a header");
  return `${policy}; frame-ancestors 'none'`;
}

async function bundle(): Promise<PageRoutes> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", development: false, routes: PAGES, fetch: () => new Response(null, { status: 404 }) });
  try {
    const routes: PageRoutes = {};
    for (const path of Object.keys(PAGES)) Object.assign(routes, await pageFiles(server.url, path));
    return routes;
  } finally {
    void server.stop(true);
  }
}

/** A page and the bundle's files it names (/chunk-<hash>.js, /chunk-<hash>.css, /favicon-<hash>.svg), each with its headers. */
async function pageFiles(origin: URL, pagePath: string): Promise<PageRoutes> {
  const index = await fetch(new URL(pagePath, origin));
  const html = await index.text();
  const headers = { "content-security-policy": pagePolicy(html), ...FRAMING };
  const routes: PageRoutes = { [pagePath]: staticRoute(html, index.headers, headers) };
  for (const [, path] of html.matchAll(/(?:src|href)="(\/[^"/][^"]*)"/g)) {
    const file = await fetch(new URL(path!, origin));
    if (!file.ok) throw new Error(`the page's ${path} could not be read from its bundle (${file.status})`);
    routes[path!] = staticRoute(await file.arrayBuffer(), file.headers, headers);
  }
  return routes;
}

function staticRoute(body: string | ArrayBuffer, bunHeaders: Headers, ours: Record<string, string>) {
  const headers = new Headers(bunHeaders);
  for (const name of ["date", "content-length"]) headers.delete(name); // Bun's per answer
  for (const [name, value] of Object.entries(ours)) headers.set(name, value);
  const response = new Response(body, { headers });
  return { GET: response, HEAD: response };
}
