// GET /metrics: the instance's figures in Prometheus' text format, main thread and workers in
// one scrape. Asks for `Authorization: Bearer` with METRICS_TOKEN or ADMIN_TOKEN (either works,
// compared in constant time); 401 with another, 403 when neither is configured.
import { Elysia } from "elysia";
import { bearerIsOneOf } from "../http/bearer";
import type { Config } from "../config/config";
import { AppError } from "../core/errors";
import type { Services } from "../services";
import { CONTENT_TYPE } from "./scrape";

export function checkMetricsAuth(config: Pick<Config, "ADMIN_TOKEN" | "METRICS_TOKEN">, authorization: string | null): void {
  const tokens = [config.METRICS_TOKEN, config.ADMIN_TOKEN].filter((t) => t !== undefined);
  if (tokens.length === 0) throw new AppError(403, "metrics_disabled", "metrics are off: set METRICS_TOKEN or ADMIN_TOKEN to turn them on");
  if (!bearerIsOneOf(tokens, authorization)) {
    throw new AppError(401, "unauthorized", "metrics need Authorization: Bearer <METRICS_TOKEN or ADMIN_TOKEN>", {
      "www-authenticate": 'Bearer realm="metrics"',
    });
  }
}

export const metricsRoutes = (s: Services) =>
  new Elysia().get("/metrics", async ({ request }) => {
    checkMetricsAuth(s.config, request.headers.get("authorization"));
    return new Response(await s.instance.metrics(), { headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" } });
  });
