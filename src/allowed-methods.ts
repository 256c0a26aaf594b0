// Which methods a path answers to, from the app's own routes: a known path asked with another
// method is a 405 listing them (Allow), not a 404.
type Route = { method: string; path: string };

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
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    // OPTIONS is CORS' preflight, answered for every path when CORS is on: not a route's method
    if (r.method === "ALL" || r.method === "WS" || r.method === "OPTIONS") continue;
    if (!byPath.has(r.path)) byPath.set(r.path, new Set());
    byPath.get(r.path)!.add(r.method);
  }
  return [...byPath].map(([path, methods]) => ({ pattern: patternOf(path), methods }));
}

/** "/a/:id/*" -> /^\/a\/[^/]+\/.*$/ (a trailing slash is optional, as Elysia treats it). */
function patternOf(path: string): RegExp {
  const body = path
    .replace(/\/+$/, "")
    .split("/")
    .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body}/?$`);
}
