// GET /metrics: the instance's figures in Prometheus' text format, main thread and workers in
// one scrape. Asks for `Authorization: Bearer` with METRICS_TOKEN or ADMIN_TOKEN (either works,
// compared in constant time); 401 with another, 403 when neither is configured.
import { Elysia } from "elysia";
import { bearerIsOneOf } from "../http/bearer";
import type { Config } from "../config/config";
import { fail, failWith } from "../core/errors";
import { KEY_NEEDED } from "../core/error-codes";
import { CONTENT_TYPE } from "./scrape";

export function checkMetricsAuth(config: Pick<Config, "ADMIN_TOKEN" | "METRICS_TOKEN">, authorization: string | null): void {
  const tokens = [config.METRICS_TOKEN, config.ADMIN_TOKEN].filter((t) => t !== undefined);
  if (tokens.length === 0) throw fail("metrics_disabled");
  if (!bearerIsOneOf(tokens, authorization)) {
    throw failWith({ headers: { "www-authenticate": 'Bearer realm="metrics"' } }, "unauthorized", KEY_NEEDED.metrics);
  }
}

export const metricsRoutes = (s: { config: Config; instance: { metrics(): Promise<string> } }) =>
  new Elysia().get("/metrics", async ({ request }) => {
    checkMetricsAuth(s.config, request.headers.get("authorization"));
    return new Response(await s.instance.metrics(), { headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" } });
  });
