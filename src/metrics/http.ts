// HTTP requests by route pattern, method and status, with their latency. Counted on every
// request, so kept out of prom-client's per-call label handling (which builds a label object and
// a hash string per observation, about 0.7 µs a request here): each series is a plain record
// found through three Map look-ups, turned into prom-client's form only when scraped.
// src/http/every-request.ts observes every request the app answers (the waiting-room page,
// which Bun serves itself, is not one).
import type { Metric, Registry } from "prom-client";

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Methods kept as sent; any other (a client may send any word) is "other", so series stay bounded. */
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
/** The route of a request no route matched (404, 405): never its raw path, which a client chooses. */
const UNMATCHED = "unmatched";

type Labels = { route: string; method: string; status: string };
type Series = { labels: Labels; count: number; sum: number; buckets: Float64Array };

export class HttpMetrics {
  /** method -> route pattern -> status -> series */
  private readonly series = new Map<string, Map<string, Map<number, Series>>>();

  constructor(registry: Registry) {
    const requests = "ticketqueue_http_requests_total";
    const duration = "ticketqueue_http_request_duration_seconds";
    register(registry, requests, "HTTP requests answered, by route pattern, method and status", "counter", () =>
      this.all().map((s) => ({ labels: s.labels, value: s.count })),
    );
    register(registry, duration, "time to answer an HTTP request, by route pattern, method and status", "histogram", () =>
      this.all().flatMap((s) => histogramValues(duration, s)),
    );
  }

  observe(method: string, route: string | undefined, status: number, seconds: number): void {
    const m = METHODS.has(method) ? method : "other";
    const r = route || UNMATCHED;
    let byRoute = this.series.get(m);
    if (!byRoute) this.series.set(m, (byRoute = new Map()));
    let byStatus = byRoute.get(r);
    if (!byStatus) byRoute.set(r, (byStatus = new Map()));
    let s = byStatus.get(status);
    if (!s) {
      s = { labels: { route: r, method: m, status: String(status) }, count: 0, sum: 0, buckets: new Float64Array(BUCKETS.length) };
      byStatus.set(status, s);
    }
    s.count++;
    s.sum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) {
      if (seconds <= BUCKETS[i]!) {
        s.buckets[i]!++;
        break;
      }
    }
  }

  private all(): Series[] {
    const all: Series[] = [];
    for (const byRoute of this.series.values()) for (const byStatus of byRoute.values()) all.push(...byStatus.values());
    return all;
  }
}

type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/** A metric prom-client's registry can print and aggregate: a name and a get() in its JSON form. */
function register(registry: Registry, name: string, help: string, type: "counter" | "histogram", values: () => Value[]) {
  const metric = { name, help, type, aggregator: "sum", get: async () => ({ name, help, type, aggregator: "sum", values: values() }) };
  registry.registerMetric(metric as unknown as Metric);
}

function histogramValues(name: string, s: Series): Value[] {
  const values: Value[] = [];
  let cumulative = 0;
  BUCKETS.forEach((le, i) => {
    cumulative += s.buckets[i]!;
    values.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${name}_bucket` });
  });
  values.push({ labels: { ...s.labels, le: "+Inf" }, value: s.count, metricName: `${name}_bucket` });
  values.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` });
  values.push({ labels: s.labels, value: s.count, metricName: `${name}_count` });
  return values;
}
