// What every request the app answers needs, in one wrapper around its handler (Elysia's wrap,
// which both Bun's routes and app.handle() go through) instead of an Elysia hook each: its id,
// the refusal of paths no route could have, and its HTTP metrics. Hooks cost every request a
// call each, and an onAfterResponse a setImmediate and an async function more.
import type { HigherOrderFunction } from "elysia/types";
import { isCanonicalPath, pathOf } from "./canonical-path";
import { fellThrough } from "./allowed-methods";
import { REQUEST_ID_HEADER, requestIdOf } from "./request-id";

type Handle = (request: Request) => Response | Promise<Response>;

/** Where a request's answer is counted (src/metrics/http.ts; named by shape: metrics imports http/). */
type RequestObserver = { observe(method: string, route: string | undefined, status: number, seconds: number): void };

export type EveryRequest = {
  http: RequestObserver;
  /** The pattern of the route that answers a request (metrics' label), undefined for none. */
  routeOf(method: string, path: string): string | undefined;
  /** The methods a path has routes for (none: no route's path). */
  methodsOf(path: string): string[];
  /** Whether the request came over a socket (Bun knows its peer); app.handle()'s did not. */
  overSocket(request: Request): boolean;
  /** An answer given before any route (the console page), counted nowhere. */
  early(request: Request, path: string): Response | null;
  /** The app's 404, as its error handler words it. */
  notFound(request: Request): Response;
};

/** For Elysia's wrap(), which hands it the app's handler and takes back the handler to run. */
export function everyRequest(deps: EveryRequest): HigherOrderFunction {
  const answer = (handle: Handle, request: Request): Response | Promise<Response> => {
    const startedAt = performance.now();
    const id = requestIdOf(request);
    const path = pathOf(request.url);
    const early = deps.early(request, path);
    if (early) return withId(early, id);
    let route: string | undefined;
    let response: Response | Promise<Response>;
    // "/events/", "/x/../admin/...": no route's path, whatever a router or URL parser would make of
    // it. Over a socket Bun has already resolved the dot segments: such a request is one that Bun
    // routed nowhere although its path now names a route (allowed-methods.ts).
    if (!isCanonicalPath(path) || (fellThrough(request) && deps.methodsOf(path).length > 0 && deps.overSocket(request))) {
      response = deps.notFound(request);
    } else {
      route = deps.routeOf(request.method, path);
      response = handle(request);
    }
    const done = (r: Response) => {
      deps.http.observe(request.method, route, r.status, (performance.now() - startedAt) / 1000);
      return withId(r, id);
    };
    return response instanceof Promise ? response.then(done) : done(response);
  };
  const wrap = (handle: Handle) => (request: Request) => answer(handle, request);
  return wrap as unknown as HigherOrderFunction; // Elysia types the handler as any Function
}

function withId(response: Response, id: string): Response {
  response.headers.set(REQUEST_ID_HEADER, id);
  return response;
}
