// The four charts of the last 30 minutes, one line per ticket type, drawn with uPlot (bundled
// into the binary, about 50 KB; its styles come in through style.css). Each chart's figure
// names its measure and unit; its plot has a text alternative with each type's latest value,
// for screen readers (and the tests).
import uPlot from "uplot";
import { el } from "../browser/dom";
import type { History, Measure } from "./history";

type Kind = { measure: Measure; title: string; unit: string; digits: number };

const KINDS: Kind[] = [
  { measure: "queued", title: "People queued", unit: "people", digits: 0 },
  { measure: "granted", title: "Holds granted per second", unit: "holds/s", digits: 1 },
  { measure: "holds", title: "Holds outstanding", unit: "holds", digits: 0 },
  { measure: "bookings", title: "Bookings per minute", unit: "bookings/min", digits: 0 },
];

// distinct in hue and in dash, so a line is told apart without its colour
const STROKES = ["#0b57d0", "#b3261e", "#136c2e", "#7b3fa0", "#a15c00"];
const DASHES: number[][] = [[], [8, 4], [2, 3], [12, 3, 2, 3]];
const HEIGHT = 180;
/** The x axis spans a minute at least: a few seconds of readings are not drawn as hours of milliseconds. */
const MIN_SPAN_SECONDS = 60;
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000];

type Type = { id: number; name: string };

export class Charts {
  private plots: { kind: Kind; plot: uPlot; figure: HTMLElement; text: HTMLElement }[] = [];
  private types: Type[] = [];

  constructor(private readonly box: HTMLElement) {
    window.addEventListener("resize", () => this.resize());
  }

  /** Draws the history's series; rebuilt when the event's types change. */
  draw(history: History, types: Type[]): void {
    if (!sameTypes(types, this.types)) this.build(types);
    const ids = types.map((t) => t.id);
    for (const { kind, plot, text } of this.plots) {
      const { xs, byType } = history.series(kind.measure, ids);
      plot.setData([xs, ...ids.map((id) => byType.get(id)!)] as uPlot.AlignedData);
      const latest = types.map((t) => `${t.name} ${format(byType.get(t.id)!.at(-1), kind.digits)}`).join(", ");
      const words = `${kind.title} (${kind.unit}), the last 30 minutes. Latest: ${latest || "no ticket types"}.`;
      text.setAttribute("aria-label", words);
      text.dataset.latest = JSON.stringify(Object.fromEntries(ids.map((id) => [id, byType.get(id)!.at(-1) ?? null])));
    }
  }

  clear(): void {
    for (const { plot } of this.plots) plot.destroy();
    this.plots = [];
    this.types = [];
    this.box.replaceChildren();
  }

  private build(types: Type[]): void {
    this.clear();
    this.types = types;
    for (const kind of KINDS) {
      const text = el("div", { role: "img", class: "plot", "data-measure": kind.measure });
      const figure = el("figure", { class: "chart" }, el("figcaption", {}, `${kind.title} (${kind.unit})`), text);
      this.box.append(figure);
      const plot = new uPlot(options(kind, types, widthOf(figure)), [[], ...types.map(() => [])], text);
      this.plots.push({ kind, plot, figure, text });
    }
  }

  private resize(): void {
    for (const { plot, figure } of this.plots) plot.setSize({ width: widthOf(figure), height: HEIGHT });
  }
}

function options(kind: Kind, types: Type[], width: number): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    scales: {
      x: { time: true, range: (_u, min, max) => [Math.min(min, max - MIN_SPAN_SECONDS), max] },
      y: { range: (_u, min, max) => [0, Math.max(kind.digits ? 1 : 5, max ?? 0, min ?? 0) * 1.1] },
    },
    axes: [
      { label: "Local time", labelSize: 20, size: 64 }, // room for the date line under the first tick
      {
        label: kind.unit, labelSize: 20, size: 56, values: (_u, ticks) => ticks.map((v) => format(v, kind.digits)),
        ...(kind.digits === 0 && { incrs: WHOLE_STEPS }), // people and holds come whole
      },
    ],
    series: [
      { label: "Time" },
      ...types.map((t, i) => ({
        label: t.name, // uPlot writes labels as text
        stroke: STROKES[i % STROKES.length],
        dash: DASHES[i % DASHES.length],
        width: 2,
        spanGaps: false,
        value: (_u: uPlot, v: number | null) => format(v, kind.digits),
      })),
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
}

const widthOf = (figure: HTMLElement) => Math.max(240, figure.clientWidth - 16);

const format = (v: number | null | undefined, digits: number) =>
  v === null || v === undefined ? "–" : v.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });

const sameTypes = (a: Type[], b: Type[]) => a.length === b.length && a.every((t, i) => t.id === b[i]!.id && t.name === b[i]!.name);
