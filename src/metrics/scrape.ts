// One scrape of a whole instance: the main thread's registry and each worker's, merged. prom-client
// sums the series two registries share (every thread defines the same counters, src/metrics/metrics.ts);
// a metric only one of them has passes through as it is.
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from "prom-client";

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export async function mergedText(local: Registry, others: MetricsJson[]): Promise<string> {
  // process_start_time_seconds is marked "omit" for summing clusters; here only this thread has it
  const own = (await local.getMetricsAsJSON()).map((m) => (m.aggregator === "omit" ? { ...m, aggregator: "first" as const } : m));
  return AggregatorRegistry.aggregate([own, ...others]).metrics();
}
