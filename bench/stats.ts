// Latency summaries and the figures a scenario reports.
export type Target = { op: ">=" | "<="; value: number };
export type Figure = { name: string; value: number; unit: string; target?: Target; met?: boolean };

export function figure(name: string, value: number, unit: string, target?: Target): Figure {
  const rounded = Math.round(value * 100) / 100;
  if (!target) return { name, value: rounded, unit };
  const met = target.op === ">=" ? value >= target.value : value <= target.value;
  return { name, value: rounded, unit, target, met };
}

export type Summary = { p50: number; p90: number; p99: number; max: number; count: number };

export function summarize(samples: number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN, count: sorted.length };
}

/** p50/p90/p99/max of a summary as figures, in ms. */
export function latencyFigures(prefix: string, s: Summary, p99Target?: number): Figure[] {
  return [
    figure(`${prefix} p50`, s.p50, "ms"),
    figure(`${prefix} p90`, s.p90, "ms"),
    figure(`${prefix} p99`, s.p99, "ms", p99Target === undefined ? undefined : { op: "<=", value: p99Target }),
    figure(`${prefix} max`, s.max, "ms"),
  ];
}
