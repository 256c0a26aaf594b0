// Builds the HTTP app from its parts. It never listens: main.ts does, tests call app.handle().
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { BodyTooLarge, parseBody } from "./body";
import { corsOrigins } from "./config";
import { AppError, badRequest, toErrorResponse } from "./errors";
import { eventRoutes } from "./events/routes";
import { queueRoutes } from "./queue/routes";
import { reservationRoutes } from "./reservations/routes";
import type { Logger } from "./log";
import type { Services } from "./services";

export function createApp(s: Services) {
  const app = new Elysia();
  if (s.config.LOG_LEVEL === "debug") logRequests(app, s.log);
  return app
    .use(corsFor(corsOrigins(s.config.CORS_ORIGINS)))
    .onParse(({ request, contentType }) => parseBody(request, contentType))
    .onError(({ code, error, set, request, path }) => {
      // The path, not the URL: a query string may carry a token.
      const failure = toErrorResponse(asAppError(code, error), (err) =>
        s.log.error("request failed", { method: request.method, path, error: err }),
      );
      set.status = failure.status;
      Object.assign(set.headers, failure.headers);
      return failure.body;
    })
    // Liveness only: answers without touching Redis or PostgreSQL (also the benchmark's bare ceiling).
    .get("/health", () => ({ status: "ok" }))
    .use(eventRoutes(s))
    .use(queueRoutes(s))
    .use(reservationRoutes(s));
}

export type App = ReturnType<typeof createApp>;

/**
 * At debug, one line per request, errors included: method, path, status, milliseconds. Never
 * the query string (GET /reservation/status carries the token there) nor the body. At other
 * levels the hooks are not even added: nothing on the hot path.
 */
function logRequests(app: Elysia, log: Logger): void {
  const started = new WeakMap<Request, number>();
  app
    .onRequest(({ request }) => void started.set(request, performance.now()))
    .onAfterResponse({ as: "global" }, ({ request, path, set }) => {
      const ms = Math.round((performance.now() - (started.get(request) ?? performance.now())) * 10) / 10;
      log.debug("request", { method: request.method, path, status: set.status, ms });
    });
}

/** Browser front ends on the listed origins may call the API; with none listed, no CORS headers. */
function corsFor(origins: string[]) {
  if (origins.length === 0) return new Elysia({ name: "no-cors" });
  return cors({
    origin: origins, // exact matches only
    methods: ["GET", "POST"],
    exposeHeaders: ["retry-after"], // so a front end can honour a 503's Retry-After
    credentials: false, // no cookies: tokens travel in the body and the query
    maxAge: 600,
  });
}

/** Elysia's own errors (validation, parsing, unknown routes) in our vocabulary. */
function asAppError(code: unknown, error: unknown): unknown {
  if (code === "VALIDATION") return badRequest("invalid_input", describeValidation(error));
  if (code === "PARSE") {
    const cause = (error as Error).cause;
    if (cause instanceof BodyTooLarge) return new AppError(413, "body_too_large", cause.message);
    if (cause instanceof AppError) return cause;
    return badRequest("invalid_json", "request body could not be read");
  }
  if (code === "NOT_FOUND") return new AppError(404, "not_found", "no such route");
  return error;
}

function describeValidation(error: unknown): string {
  const e = error as { type?: string; all?: Array<{ path?: string; summary?: string; message?: string }> };
  const first = e.all?.[0];
  const where = e.type === "query" ? "query" : "body";
  if (!first) return `invalid ${where}`;
  const field = first.path?.replace(/^\//, "").replaceAll("/", ".") || where;
  return `${field}: ${first.summary ?? first.message ?? "is invalid"}`;
}
