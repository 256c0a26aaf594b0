// The events and their ticket types, as the join form's choices: one radio button per type,
// with its name, price and state. A type that is sold out cannot be chosen.
import type { Event, TicketType } from "../api/schemas";
import { el } from "../browser/dom";
import { money, prequeueOpen, roughlyIn, startTime, TYPE_STATES, when } from "./words";

/** A type as the join form offers it, with its event's name and currency. */
export type Choice = TicketType & { eventName: string; currency: string };

/** Renders the events into `container`, keeping `selected` chosen when it still can be; returns every type by id. */
export function renderEvents(container: HTMLElement, events: Event[], selected: number | null): Map<number, Choice> {
  const choices = new Map<number, Choice>();
  const fieldsets = events.map((event) => {
    const info = [event.venue, when(event.starts_at)].filter(Boolean).join(" · ");
    const rows = event.ticket_types.map((type) => {
      const choice = { ...type, eventName: event.name, currency: event.currency };
      choices.set(type.id, choice);
      return typeRow(choice, type.id === selected);
    });
    return el("fieldset", {}, el("legend", {}, event.name), ...(info ? [el("p", { class: "event-info" }, info)] : []), ...rows);
  });
  // A refresh must not take the keyboard's place away: the focused choice keeps the focus.
  const focused = container.contains(document.activeElement) ? (document.activeElement as HTMLInputElement).value : null;
  container.replaceChildren(...(fieldsets.length ? fieldsets : [el("p", {}, "No events are on sale at the moment.")]));
  if (focused !== null) container.querySelector<HTMLInputElement>(`input[value="${CSS.escape(focused)}"]`)?.focus();
  container.setAttribute("aria-busy", "false");
  return choices;
}

function typeRow(type: Choice, checked: boolean): HTMLElement {
  const soldOut = type.status === "sold_out";
  let state = TYPE_STATES[type.status] ?? type.status;
  const start = type.sale_starts_at;
  const waitingLine = prequeueOpen(type) && !!start;
  if (waitingLine) state = `Waiting line open — sale starts at ${startTime(start!)} (${roughlyIn(start!)})`;
  else if (type.status === "not_on_sale" && type.sale_starts_at) state += ` (opens ${when(type.sale_starts_at)})`;
  return el(
    "label",
    { class: soldOut ? "ticket-type unavailable" : "ticket-type", "data-ticket-type": String(type.id) },
    el("input", { type: "radio", name: "ticket_type", value: String(type.id), checked: checked && !soldOut, disabled: soldOut }),
    el("span", { class: "name" }, type.name),
    el("span", { class: "price" }, money(type.price, type.currency)),
    el("span", { class: `state ${waitingLine ? "prequeue" : type.status}` }, state),
  );
}
