// Builds the HTTP app from its parts. It never listens: main.ts does, tests call app.handle().
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { adminAuditRoutes } from "./admin/audit";
import { adminBookingsRoutes } from "./admin/bookings";
import { adminCancelRoutes } from "./admin/booking-cancel";
import { adminFiguresRoutes } from "./admin/figures";
import { adminEventFiguresRoutes } from "./admin/event-figures";
import { adminListingRoutes } from "./admin/listing";
import { allowedMethods, bunRoutesForEveryMethod, routeOf } from "./http/allowed-methods";
import { BODY_LIMIT_BYTES, BodyTooLarge, parseBody } from "./http/body";
import { pathOf } from "./http/canonical-path";
import { corsOrigins } from "./config/config";
import { adminEventRoutes } from "./admin/events";
import { adminWebhookRoutes } from "./webhooks/admin-routes";
import { AppError, fail, failWith, toErrorResponse } from "./core/errors";
import { eventRoutes } from "./events/routes";
import { apiDocs } from "./api/openapi";
import { queueRoutes } from "./queue/routes";
import { Limits, type LimitsMemory } from "./rate-limit/limits";
import { REQUEST_ID_HEADER, requestIdOf } from "./http/request-id";
import { everyRequest } from "./http/every-request";
import { reservationRoutes } from "./reservations/routes";
import { checkoutRoutes } from "./checkout/routes";
import { shopRoutes } from "./shop/routes";
import type { Logger } from "./core/log";
import { metricsRoutes } from "./metrics/routes";
import { readinessRoutes } from "./ops/readiness";
import type { Services } from "./services";
import { consoleAnswer, CONSOLE_PATH, PAGE_METHODS, PAGE_ROUTES } from "./web/routes";

/** `limitsMemory`: the instance's, shared by its HTTP threads; without it, this app's own. `pageRoutes`: how Bun serves GET / (and the app GET /admin/) when listening (web/page.ts adds the pages' headers). */
export function createApp(s: Services, limitsMemory?: LimitsMemory | null, pageRoutes = PAGE_ROUTES) {
  const routes: { method: string; path: string }[] = [];
  const methodsOf = allowedMethods(routes);
  // GET /, the waiting room: Bun serves it when listening (web/routes.ts); app.handle() does not.
  // The other methods of every route path join it below (bunRoutesForEveryMethod), before Bun reads them.
  // GET /admin/, the console, is no Bun route: the hook below answers it.
  const { [CONSOLE_PATH]: _console, ...pages } = pageRoutes as Record<string, object>;
  const bunRoutes: Record<string, object> = pages;
  const app = new Elysia({ serve: { routes: bunRoutes as typeof pageRoutes } });
  // Hooks and routes that need the server ask the app for it: a hook that names `server` makes
  // Elysia define it on every request's context.
  const serverOf = () => app.server;
  const limits = new Limits(s.config, limitsMemory, serverOf);
  // Every request's id (on every answer, errors and 404s included), the refusal of paths no
  // route could have, and the HTTP metrics: one wrapper (http/every-request.ts), not three hooks.
  app.wrap(everyRequest({
    http: s.metrics.http,
    routeOf: routeOf(routes),
    methodsOf,
    overSocket: (request) => !!serverOf()?.requestIP(request),
    early: (request, path) => consoleAnswer(pageRoutes, request, path), // GET /admin/ (web/routes.ts says why here)
    notFound: (request) => {
      const { status, body } = toErrorResponse(fail("not_found"), () => {});
      return Response.json({ ...body, request_id: requestIdOf(request) }, { status });
    },
  }));
  if (s.config.LOG_LEVEL === "debug") logRequests(app, s.log);
  app
    .use(corsFor(corsOrigins(s.config.CORS_ORIGINS)))
    .onError(({ code, error, set, request, path }) => {
      s.metrics.failed(error); // the failures of Redis and PostgreSQL that requests meet
      const requestId = requestIdOf(request);
      // The path, not the URL: a query string may carry a token.
      const failure = toErrorResponse(asAppError(code, error, request, methodsOf), (err) =>
        s.log.error("request failed", { method: request.method, path: loggedPath(path), request_id: requestId, error: err }),
      );
      set.status = failure.status;
      Object.assign(set.headers, failure.headers);
      return { ...failure.body, request_id: requestId };
    })
    // GET /openapi and /openapi/json: every route below, described (src/api/docs.ts)
    .use(apiDocs(() => app.routes))
    // Liveness only: answers without touching Redis or PostgreSQL (also the benchmark's bare ceiling).
    .get("/health", () => ({ status: "ok" }))
    .use(readinessRoutes(s))
    .use(metricsRoutes(s))
    // Every body is read here (http/body.ts). After the routes above, which take none: a parse hook
    // makes Elysia compile a route's handler async, a promise more on each of their requests.
    .onParse(({ request }) => parseBody(request))
    .use(eventRoutes(s))
    .use(queueRoutes(s, limits))
    .use(reservationRoutes(s, limits))
    .use(adminEventRoutes(s))
    .use(adminFiguresRoutes(s))
    .use(adminListingRoutes(s))
    .use(adminEventFiguresRoutes(s))
    .use(adminBookingsRoutes(s))
    .use(adminCancelRoutes(s))
    .use(adminAuditRoutes(s))
    .use(adminWebhookRoutes(s))
    .use(shopRoutes(s))
    .use(checkoutRoutes(s));
  routes.push(...app.routes, ...PAGE_METHODS);
  const everyMethod = bunRoutesForEveryMethod(routes, (request) => app.handle(request));
  for (const [path, methods] of Object.entries(everyMethod)) bunRoutes[path] = { ...methods, ...bunRoutes[path] };
  return app;
}

export type App = ReturnType<typeof createApp>;

/**
 * At debug, one line per request, errors included: method, path, status, milliseconds, request id. Never
 * the query string (GET /reservation/status carries the token there) nor the body. At other
 * levels the hooks are not even added: nothing on the hot path.
 */
function logRequests(app: Elysia, log: Logger): void {
  const started = new WeakMap<Request, number>();
  app
    .onRequest(({ request }) => void started.set(request, performance.now()))
    .onAfterResponse({ as: "global" }, ({ request, path, set }) => {
      const ms = Math.round((performance.now() - (started.get(request) ?? performance.now())) * 10) / 10;
      log.debug("request", { method: request.method, path: loggedPath(path), status: set.status, ms, request_id: requestIdOf(request) });
    });
}

/** A path as logged: the shop's routes carry a queue token in theirs, which stays out of the logs. */
export const loggedPath = (path: string) => path.replace(/^\/shop\/holds\/[^/]+/, "/shop/holds/:token");

/** Browser front ends on the listed origins may call the API; with none listed, no CORS headers. */
function corsFor(origins: string[]) {
  if (origins.length === 0) return new Elysia({ name: "no-cors" });
  return cors({
    origin: origins, // exact matches only
    methods: ["GET", "POST"],
    exposeHeaders: ["retry-after", REQUEST_ID_HEADER], // a 503's or 429's Retry-After; the id to quote
    credentials: false, // no cookies: tokens travel in the body and the query
    maxAge: 600,
  });
}

/** Elysia's own errors (validation, parsing, unknown routes) in our vocabulary. */
function asAppError(code: unknown, error: unknown, request: Request, methodsOf: (path: string) => string[]): unknown {
  if (code === "VALIDATION") return fail("invalid_input", describeValidation(error));
  if (code === "PARSE") {
    const cause = (error as Error).cause;
    if (cause instanceof BodyTooLarge) return fail("body_too_large", BODY_LIMIT_BYTES / 1024);
    if (cause instanceof AppError) return cause;
    return fail("invalid_json");
  }
  if (code === "NOT_FOUND") {
    const allowed = methodsOf(pathOf(request.url));
    if (allowed.length === 0) return fail("not_found");
    const list = allowed.join(", ");
    return failWith({ headers: { allow: list } }, "method_not_allowed", list);
  }
  return error;
}

type Described = { description?: string; properties?: Record<string, Described> };

/**
 * "field: what is expected", from the schema's own descriptions: Elysia's text quotes what
 * the client sent ("found: ..."), and nothing a client sends is echoed.
 */
function describeValidation(error: unknown): string {
  const e = error as {
    type?: string;
    value?: unknown;
    validator?: { schema?: Described };
    all?: Array<{ path?: string }>;
  };
  const where = e.type === "query" ? "query" : "body";
  const root = e.validator?.schema;
  const isObject = typeof e.value === "object" && e.value !== null && !Array.isArray(e.value);
  // the first field the schema names (never a key the client made up)
  const field = isObject ? (e.all ?? []).map((x) => x.path?.split("/")[1] ?? "").find((f) => root?.properties?.[f]) : undefined;
  if (field === undefined) return `${where}: ${root?.description ?? "expected a JSON object"}`;
  return `${field}: ${root?.properties?.[field]?.description ?? "is invalid"}`;
}
