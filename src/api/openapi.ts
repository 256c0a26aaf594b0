// GET /openapi (the documentation page) and GET /openapi/json (the OpenAPI 3.1 document), through
// @elysiajs/openapi. The page is Swagger UI with its script and style served from the binary
// (imported as text, so `bun build --compile` carries them): it loads nothing from another host.
// The plugin lists every route with its path, query and body schemas; complete() adds what
// src/api/docs.ts says of each (answers per status, error codes, examples, auth).
import { openapi } from "@elysiajs/openapi";
import type { TSchema } from "@sinclair/typebox";
import { Elysia } from "elysia";
import uiScript from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import uiStyle from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import { API_DOCS, DOCS_PATHS, type Answer, type RouteDoc } from "./docs";
import { webhooksDocument } from "./webhook-events";

type Route = { method: string; path: string; hooks?: { body?: unknown } };
type Operation = Record<string, unknown>;
type Document = { paths: Record<string, Record<string, Operation>> } & Record<string, unknown>;

const SECURITY = {
  admin: [{ adminToken: [] }],
  metrics: [{ metricsToken: [] }],
  // optional: JOIN_AUTH=none (the default) needs none
  "join-jwt": [{}, { joinJwt: [] }],
  shop: [{ shopKey: [] }],
};

const DESCRIPTION = [
  "A queue-based ticket booking service: join a fair FIFO queue per ticket type, get a short hold, confirm it.",
  "Every error is JSON {error, message} (some add fields) with a fitting status; `error` is a stable code.",
  "Besides the statuses each route lists: an unknown path is 404 not_found (a trailing slash or a dot segment makes",
  "one unknown), a known path asked with another",
  "method is 405 method_not_allowed with an Allow header, and anything unexpected is 500 internal (never for",
  "what a client sends). Bodies are read as JSON whatever their content type, at most 64 KiB.",
  "Every answer carries X-Request-Id: the one the request sent when it is 1-128 characters of [A-Za-z0-9._:-],",
  "otherwise a new one; error bodies repeat it as request_id, and the service's log lines name it.",
  "Joins, status look-ups, stream openings and confirms/releases are limited per client (its address; see",
  "TRUST_PROXY in the README): over a limit the answer is 429 rate_limited with Retry-After, and nothing was done.",
].join(" ");

/** A header of every answer (src/http/request-id.ts). */
const REQUEST_ID_HEADER_DOC = { "X-Request-Id": "this request's id: the one it sent, when sane, or a new one" };

/**
 * The documentation page may not be framed by another site (clickjacking). Only frame-ancestors:
 * Swagger UI's page starts itself with an inline script that a default-src policy would refuse.
 */
const UNFRAMED = { "content-security-policy": "frame-ancestors 'none'", "x-frame-options": "DENY" };

/** The documentation routes, mounted on the app (which passes its routes, read when the document is first asked for). */
export function apiDocs(routes: () => readonly Route[]) {
  const completed = new WeakMap<object, Document>();
  return (
    new Elysia({ name: "api-docs" })
      // a local hook: it runs for this instance's routes only, never on the API's
      .onAfterHandle(({ path, response, set }) => {
        if (path === DOCS_PATHS.page) Object.assign(set.headers, UNFRAMED);
        if (path !== DOCS_PATHS.spec || typeof response !== "object" || response === null) return;
        let document = completed.get(response); // the plugin hands out one object until routes change
        if (!document) completed.set(response, (document = complete(response as Document, routes())));
        return document;
      })
      .use(
        openapi({
          path: DOCS_PATHS.page,
          specPath: DOCS_PATHS.spec,
          provider: "swagger-ui",
          swagger: { cdn: DOCS_PATHS.script, theme: DOCS_PATHS.style, validatorUrl: "none" },
          documentation: {
            info: { title: "ticket-queue API", version: "1", description: DESCRIPTION },
            tags: [
              { name: "service", description: "the service itself" },
              { name: "events", description: "what is on sale" },
              { name: "queue", description: "joining the queue" },
              { name: "reservations", description: "a place or hold, by its queue token" },
              { name: "shop", description: "the shop's routes, server to server: off unless SHOP_API_KEYS is set" },
              { name: "admin", description: "the operator's routes: off unless ADMIN_TOKEN is set" },
              { name: "documentation", description: "this documentation" },
              { name: "webhooks", description: "the events posted to webhook endpoints (POST /admin/webhooks registers one)" },
            ],
            components: {
              securitySchemes: {
                adminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN" },
                metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN, or ADMIN_TOKEN" },
                shopKey: { type: "http", scheme: "bearer", description: "one of SHOP_API_KEYS" },
                joinJwt: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "with JOIN_AUTH=jwt: the operator's login JWT" },
              },
            },
          },
        }),
      )
      .get(DOCS_PATHS.script, asset(uiScript, "text/javascript; charset=utf-8"), { detail: { hide: true } })
      .get(DOCS_PATHS.style, asset(uiStyle, "text/css; charset=utf-8"), { detail: { hide: true } })
  );
}

function asset(text: string, type: string) {
  const bytes = new TextEncoder().encode(text);
  return () => new Response(bytes, { headers: { "content-type": type, "cache-control": "public, max-age=3600" } });
}

/**
 * The plugin's document with src/api/docs.ts' word on each route. A route without an entry is
 * left as the plugin made it (no answers): test/openapi.test.ts names it.
 */
function complete(generated: Document, routes: readonly Route[]): Document {
  const paths: Document["paths"] = {};
  for (const [path, operations] of Object.entries(generated.paths)) paths[path] = { ...operations };
  for (const route of routes) {
    const doc = API_DOCS[`${route.method} ${route.path}`];
    if (!doc) continue;
    const path = route.path.replace(/:([^/]+)/g, "{$1}");
    const method = route.method.toLowerCase();
    const operation = (paths[path] ??= {})[method] ?? { operationId: operationId(method, route.path) };
    paths[path]![method] = describe(operation, doc, route.hooks?.body as TSchema | undefined);
  }
  return { ...generated, paths, webhooks: webhooksDocument(jsonSchema) };
}

function describe(operation: Operation, doc: RouteDoc, body: TSchema | undefined): Operation {
  const described: Operation = {
    ...operation,
    tags: [doc.tag],
    summary: doc.summary,
    description: doc.description,
    responses: Object.fromEntries(Object.entries(doc.responses).map(([status, answer]) => [status, response(answer)])),
  };
  if (doc.auth) described.security = SECURITY[doc.auth];
  // Every body is read as JSON whatever its content type (src/http/body.ts); the plugin, seeing the
  // app's own parser, cannot tell which types it takes and lists none.
  if (body) {
    described.requestBody = {
      required: true,
      content: { "application/json": { schema: jsonSchema(body), ...(doc.requestExample !== undefined && { example: doc.requestExample }) } },
    };
  }
  return described;
}

function response(answer: Answer) {
  const headers = { ...REQUEST_ID_HEADER_DOC, ...answer.headers };
  return {
    description: answer.description,
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, description]) => [name, { description, schema: { type: "string" } }]),
    ),
    content: Object.fromEntries(
      Object.entries(answer.content).map(([type, { schema, examples }]) => {
        const named = Object.entries(examples).map(([name, value]) => [name, { value }]);
        return [type, { schema: jsonSchema(schema), ...(named.length > 0 && { examples: Object.fromEntries(named) }) }];
      }),
    ),
  };
}

/** A TypeBox schema as plain JSON Schema, with a union of words shown as an enum. */
function jsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(jsonSchema);
  if (typeof schema !== "object" || schema === null) return schema;
  const plain: Record<string, any> = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, jsonSchema(v)]));
  const anyOf = plain.anyOf as { const?: unknown }[] | undefined;
  if (!anyOf?.length || !anyOf.every((s) => typeof s.const === "string")) return plain;
  const { anyOf: _, ...rest } = plain;
  return { ...rest, type: "string", enum: anyOf.map((s) => s.const) };
}

const operationId = (method: string, path: string) =>
  method + path.split(/[^A-Za-z0-9]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
