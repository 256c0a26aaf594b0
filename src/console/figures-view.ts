// The live figures table: one row per ticket type (names as text), with its Pause/Resume and
// Edit buttons. A row is built once and its cells updated in place at each reading, only where
// a text changed: the keyboard's focus, a click under way and a screen reader's place in the
// table stay where they are.
import type { AdminTicketType, EventFigures } from "../api/schemas";
import { el } from "../browser/dom";
import { clock, count, saleState } from "./words";

type Figures = EventFigures["ticket_types"][number];

export type RowActions = { pause(type: AdminTicketType, paused: boolean): void; edit(type: AdminTicketType): void };

/** The figures after the Sale column, in the table's order. */
const FIGURE_COUNT = 10;
const REDIS_CELL = 9;

type Row = {
  tr: HTMLElement;
  name: HTMLElement;
  sale: HTMLElement;
  pause: HTMLElement;
  edit: HTMLElement;
  cells: HTMLElement[];
  /** what the buttons act on: the latest type and pause state */
  type: AdminTicketType;
  paused: boolean;
};

const rows = new WeakMap<HTMLElement, Map<number, Row>>();

export function renderFigures(body: HTMLElement, types: AdminTicketType[], figures: Figures[] | null, actions: RowActions): void {
  let byType = rows.get(body);
  if (!byType) rows.set(body, (byType = new Map()));
  const byId = new Map((figures ?? []).map((f) => [f.id, f]));
  const wanted = new Set(types.map((t) => t.id));
  for (const [id, row] of byType) {
    if (!wanted.has(id)) {
      row.tr.remove();
      byType.delete(id);
    }
  }
  let before: Element | null = body.firstElementChild;
  for (const type of types) {
    let row = byType.get(type.id);
    if (!row) byType.set(type.id, (row = newRow(type, actions)));
    // in the types' order; a row already in place is not moved (moving it would drop its focus)
    if (row.tr !== before) body.insertBefore(row.tr, before);
    before = row.tr.nextElementSibling;
    update(row, type, byId.get(type.id));
  }
}

function newRow(type: AdminTicketType, actions: RowActions): Row {
  const pause = el("button", { type: "button" });
  const edit = el("button", { type: "button", class: "secondary" }, "Edit");
  const name = el("th", { scope: "row" });
  const sale = el("td", {});
  const cells = Array.from({ length: FIGURE_COUNT }, () => el("td", { class: "num" }));
  const tr = el("tr", { "data-type-id": String(type.id) }, name, el("td", {}, el("div", { class: "row-actions" }, pause, edit)), sale, ...cells);
  const row: Row = { tr, name, sale, pause, edit, cells, type, paused: type.paused };
  pause.addEventListener("click", () => actions.pause(row.type, !row.paused));
  edit.addEventListener("click", () => actions.edit(row.type));
  return row;
}

function update(row: Row, type: AdminTicketType, f: Figures | undefined): void {
  row.type = type;
  row.paused = f?.paused ?? type.paused;
  const verb = row.paused ? "Resume" : "Pause";
  setText(row.name, type.name);
  setText(row.pause, verb);
  setAttribute(row.pause, "aria-label", `${verb} ${type.name}`);
  setAttribute(row.pause, "class", row.paused ? "" : "danger");
  setAttribute(row.edit, "aria-label", `Edit ${type.name}`);
  setText(row.sale, saleState({ ...type, paused: row.paused }));
  const texts = f
    ? [
      count(f.stock), `${count(f.held)} (${count(f.holds)})`, count(f.confirmed), count(f.cancelled), count(f.people_queued),
      count(f.people_prequeued), f.serving_rate === null ? "–" : `${f.serving_rate.toFixed(1)}/s`, count(f.oldest_waiting_place),
      clock(f.next_hold_deadline), f.redis === "ok" ? "ok" : "unavailable",
    ]
    : Array<string>(FIGURE_COUNT).fill("…");
  texts.forEach((text, i) => {
    setText(row.cells[i]!, text);
    if (i === REDIS_CELL) setAttribute(row.cells[i]!, "class", text === "ok" || text === "…" ? "num" : "bad");
  });
}

function setText(element: HTMLElement, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

function setAttribute(element: HTMLElement, name: string, value: string): void {
  if (element.getAttribute(name) !== value) element.setAttribute(name, value);
}
