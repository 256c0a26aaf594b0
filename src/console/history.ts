// The last 30 minutes of an event's figures, as the page read them once a second, and the four
// series the charts draw from them. The server keeps no history: counts that only grow (holds
// granted, bookings) become rates between readings.
import type { EventFigures } from "../api/schemas";

export const WINDOW_SECONDS = 30 * 60;
const MINUTE = 60;

type Reading = { t: number; types: Map<number, EventFigures["ticket_types"][number]> };

/** One chart's data: x (seconds since 1970) and one series per ticket type, aligned (uPlot's shape). */
export type Series = { xs: number[]; byType: Map<number, (number | null)[]> };

export type Measure = "queued" | "granted" | "holds" | "bookings";

export class History {
  private readings: Reading[] = [];

  add(figures: EventFigures): void {
    const t = Date.parse(figures.read_at) / 1000;
    const last = this.readings.at(-1);
    if (last && t <= last.t) return; // a late answer
    this.readings.push({ t, types: new Map(figures.ticket_types.map((f) => [f.id, f])) });
    while (this.readings.length > 0 && this.readings[0]!.t < t - WINDOW_SECONDS) this.readings.shift();
  }

  clear(): void {
    this.readings = [];
  }

  /** A measure of each type at each reading: null where it is unknown (Redis down, no earlier reading). */
  series(measure: Measure, typeIds: number[]): Series {
    const xs = this.readings.map((r) => r.t);
    const byType = new Map(typeIds.map((id) => [id, this.readings.map((_, i) => this.value(measure, id, i))]));
    return { xs, byType };
  }

  private value(measure: Measure, id: number, i: number): number | null {
    const now = this.readings[i]!;
    const f = now.types.get(id);
    if (!f) return null;
    if (measure === "queued") return f.people_queued;
    if (measure === "holds") return f.holds;
    if (measure === "granted") {
      const before = this.readings[i - 1]?.types.get(id);
      if (!before) return null;
      return Math.max(0, (f.holds_granted - before.holds_granted) / (now.t - this.readings[i - 1]!.t));
    }
    // bookings a minute: those made in the minute up to this reading (since the first reading, at the start)
    let j = i;
    while (j > 0 && this.readings[j - 1]!.t >= now.t - MINUTE && this.readings[j - 1]!.types.has(id)) j--;
    const then = this.readings[j]!.types.get(id);
    if (j === i || !then) return null;
    return Math.max(0, f.bookings - then.bookings);
  }
}
