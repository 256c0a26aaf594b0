// The live figures table: one row per ticket type, rebuilt at each reading (names as text),
// with its Pause/Resume and Edit buttons. Focus stays on a button across rebuilds.
import type { AdminTicketType, EventFigures } from "../api/schemas";
import { el } from "./dom";
import { clock, count, saleState } from "./words";

type Figures = EventFigures["ticket_types"][number];

export type RowActions = { pause(type: AdminTicketType, paused: boolean): void; edit(type: AdminTicketType): void };

export function renderFigures(body: HTMLElement, types: AdminTicketType[], figures: Figures[] | null, actions: RowActions): void {
  const focused = document.activeElement instanceof HTMLElement && body.contains(document.activeElement)
    ? document.activeElement.dataset.key ?? null
    : null;
  const byId = new Map((figures ?? []).map((f) => [f.id, f]));
  const rows = types.map((type) => {
    const f = byId.get(type.id);
    const paused = f?.paused ?? type.paused;
    const pause = el("button", { type: "button", class: paused ? "" : "danger", "data-key": `pause-${type.id}` }, paused ? "Resume" : "Pause");
    pause.setAttribute("aria-label", `${paused ? "Resume" : "Pause"} ${type.name}`);
    pause.addEventListener("click", () => actions.pause(type, !paused));
    const edit = el("button", { type: "button", class: "secondary", "data-key": `edit-${type.id}`, "aria-label": `Edit ${type.name}` }, "Edit");
    edit.addEventListener("click", () => actions.edit(type));
    const cells = f
      ? [
        count(f.stock), `${count(f.held)} (${count(f.holds)})`, count(f.confirmed), count(f.cancelled), count(f.people_queued),
        count(f.people_prequeued), f.serving_rate === null ? "–" : `${f.serving_rate.toFixed(1)}/s`, count(f.oldest_waiting_place),
        clock(f.next_hold_deadline), f.redis === "ok" ? "ok" : "unavailable",
      ]
      : Array(10).fill("…");
    return el(
      "tr", { "data-type-id": String(type.id) },
      el("th", { scope: "row" }, type.name),
      el("td", {}, el("div", { class: "row-actions" }, pause, edit)), // first: in sight on a tablet, the figures scroll beside
      el("td", {}, saleState({ ...type, paused })),
      ...cells.map((text, i) => el("td", { class: i === 9 && text !== "ok" ? "bad" : "num" }, text)),
    );
  });
  body.replaceChildren(...rows);
  if (focused) body.querySelector<HTMLElement>(`[data-key="${focused}"]`)?.focus();
}
