// Which methods a path answers to, from the app's own routes: a known path asked with another
// method is a 405 listing them (Allow), not a 404.
type Route = { method: string; path: string; handler?: unknown };

/** A lookup from a request path to its routes' methods (empty for an unknown path). */
export function allowedMethods(routes: readonly Route[]): (path: string) => string[] {
  let table: { pattern: RegExp; methods: Set<string> }[] | null = null;
  return (path) => {
    // built on first use, once every route is registered
    table ??= buildTable(routes);
    const methods = new Set<string>();
    for (const row of table) if (row.pattern.test(path)) for (const m of row.methods) methods.add(m);
    return [...methods].sort();
  };
}

function buildTable(routes: readonly Route[]) {
  return [...byPath(routes)].map(([path, methods]) => ({ pattern: patternOf(path), methods }));
}

function byPath(routes: readonly Route[]): Map<string, Set<string>> {
  const paths = new Map<string, Set<string>>();
  for (const r of routes) {
    // OPTIONS is CORS' preflight, answered for every path when CORS is on: not a route's method
    if (r.method === "ALL" || r.method === "WS" || r.method === "OPTIONS") continue;
    if (!paths.has(r.path)) paths.set(r.path, new Set());
    paths.get(r.path)!.add(r.method);
  }
  return paths;
}

/** "/a/:id/*" -> /^\/a\/[^/]+\/.*$/ (exactly: "/a/1/" is no route's path, see canonical-path.ts). */
function patternOf(path: string): RegExp {
  const body = path
    .replace(/\/+$/, "")
    .split("/")
    .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body || "/"}$`);
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
type Handle = (request: Request) => Response | Promise<Response>;

/**
 * Bun matches its routes on the path as sent, then hands the app a URL with dot segments
 * resolved: "GET /x/../admin/..." misses every Bun route and reaches the app's fallback as
 * "/admin/...". So each route path gets a Bun route for every method Elysia has not put there
 * (methods it lacks, handlers that are not functions), handing the request to the app: then
 * every request on a route's path comes in through a Bun route (a BunRequest, with `params`),
 * and one on such a path that reached the fallback had a path no route has.
 */
export function bunRoutesForEveryMethod(routes: readonly Route[], handle: Handle): Record<string, Record<string, Handle>> {
  const native = new Map<string, Set<string>>();
  for (const r of routes) {
    if (typeof r.handler !== "function") continue;
    if (!native.has(r.path)) native.set(r.path, new Set());
    native.get(r.path)!.add(r.method);
  }
  const table: Record<string, Record<string, Handle>> = {};
  for (const path of byPath(routes).keys()) {
    table[path] = {};
    for (const method of METHODS) if (!native.get(path)?.has(method)) table[path][method] = handle;
  }
  return table;
}

/** A request on a route's path that Bun did not route: its path as sent was another ("/x/../events"). */
export const fellThrough = (request: Request): boolean => !("params" in request);

/**
 * A lookup from a request's method and path to the pattern of the route that answers it, as
 * Elysia's router picks it: a static path before a pattern, HEAD answered by GET's route;
 * undefined when no route does (a 404 or 405). Metrics label requests with it (never the raw path).
 */
export function routeOf(routes: readonly Route[]): (method: string, path: string) => string | undefined {
  let table: ReturnType<typeof buildRouteTable> | null = null;
  const find = (method: string, path: string) => {
    const exact = table!.exact.get(path)?.get(method);
    if (exact !== undefined) return exact;
    for (const row of table!.patterns) if (row.method === method && row.pattern.test(path)) return row.path;
    return undefined;
  };
  return (method, path) => {
    table ??= buildRouteTable(routes); // on first use, once every route is registered
    return find(method, path) ?? (method === "HEAD" ? find("GET", path) : undefined);
  };
}

function buildRouteTable(routes: readonly Route[]) {
  const exact = new Map<string, Map<string, string>>();
  const patterns: { pattern: RegExp; method: string; path: string; rank: number }[] = [];
  for (const r of routes) {
    if (!/[:*]/.test(r.path)) {
      if (!exact.has(r.path)) exact.set(r.path, new Map());
      exact.get(r.path)!.set(r.method, r.path);
    } else {
      // fewer parameters first, a wildcard last: the more specific route wins
      const rank = (r.path.match(/:/g)?.length ?? 0) + (r.path.includes("*") ? 100 : 0);
      patterns.push({ pattern: patternOf(r.path), method: r.method, path: r.path, rank });
    }
  }
  patterns.sort((a, b) => a.rank - b.rank);
  return { exact, patterns };
}
