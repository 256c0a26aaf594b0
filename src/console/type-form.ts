// The ticket type form: add a type to the event, or edit one (only the fields changed are
// sent). What needs the operator's word first (a pause, a capacity cut, a postponed start) is
// listed by `risks`, for main.ts to ask.
import type { AdminTicketType } from "../api/schemas";
import { byId } from "../browser/dom";
import { count, dateTime, fromLocalInput, toLocalInput } from "./words";

const form = byId<HTMLFormElement>("type-form");
const input = (id: string) => byId<HTMLInputElement>(id);
const title = byId("type-form-title");
const save = byId<HTMLButtonElement>("type-save");
const cancel = byId<HTMLButtonElement>("type-cancel");
const pausedField = byId("type-paused-field");

type Body = Record<string, string | number | boolean | null>;

/** The type being edited; null while adding. */
export let editing: AdminTicketType | null = null;

export function startAdding(): void {
  editing = null;
  form.reset();
  title.textContent = "Add a ticket type";
  save.textContent = "Add the ticket type";
  cancel.hidden = true;
  pausedField.hidden = true;
}

export function startEditing(type: AdminTicketType): void {
  editing = type;
  title.textContent = `Edit ${type.name}`;
  save.textContent = "Save the changes";
  cancel.hidden = false;
  pausedField.hidden = false;
  input("type-name").value = type.name;
  input("type-price").value = String(type.price);
  input("type-capacity").value = String(type.capacity);
  input("type-limit").value = String(type.per_user_limit);
  input("type-start").value = toLocalInput(type.sale_starts_at);
  input("type-hold").value = type.hold_seconds === null ? "" : String(type.hold_seconds);
  input("type-max-holds").value = type.max_active_holds === null ? "" : String(type.max_active_holds);
  input("type-per-minute").value = type.holds_per_minute === null ? "" : String(type.holds_per_minute);
  input("type-paused").checked = type.paused;
  input("type-name").focus();
}

/** A number field: its number, null when empty (the API refuses what is not a number in words). */
const numberOf = (id: string): number | null => (input(id).value.trim() === "" ? null : Number(input(id).value));

/** The form's values as the API takes them: for a new type, those given; for an edit, those changed. */
export function formBody(): Body {
  const values: Body = {
    name: input("type-name").value,
    price: numberOf("type-price"),
    capacity: numberOf("type-capacity"),
    per_user_limit: numberOf("type-limit"),
    sale_starts_at: fromLocalInput(input("type-start").value),
    hold_seconds: numberOf("type-hold"),
    max_active_holds: numberOf("type-max-holds"),
    holds_per_minute: numberOf("type-per-minute"),
  };
  if (!editing) {
    // left empty: the API's defaults (price and capacity are required: it says so)
    return Object.fromEntries(Object.entries(values).filter(([k, v]) => v !== null || k === "price" || k === "capacity"));
  }
  values.paused = input("type-paused").checked;
  const was = editing;
  const changed: Body = {};
  for (const [key, value] of Object.entries(values)) {
    const old = was[key as keyof AdminTicketType] as Body[string];
    // the start is edited to the minute: unchanged if it reads the same there
    const same = key === "sale_starts_at" ? toLocalInput(old as string | null) === input("type-start").value : old === value;
    if (!same) changed[key] = value;
  }
  return changed;
}

/** What in a change asks for a confirmation first, each as a question and its detail. */
export function risks(type: AdminTicketType, change: Body): { question: string; detail: string; yes: string }[] {
  const asks = [];
  if (change.paused === true && !type.paused) {
    asks.push({
      question: `Pause the sale of ${type.name}?`,
      detail: "Nobody is served while it is paused; people can still join the queue and keep their places.",
      yes: "Pause",
    });
  }
  if (typeof change.capacity === "number" && change.capacity < type.capacity) {
    asks.push({
      question: `Cut the capacity of ${type.name} from ${count(type.capacity)} to ${count(change.capacity)}?`,
      detail: "Fewer tickets will be on sale; it cannot go below those already held or booked.",
      yes: "Cut the capacity",
    });
  }
  const start = change.sale_starts_at;
  const oldStart = type.sale_starts_at ? Date.parse(type.sale_starts_at) : Date.now();
  if (typeof start === "string" && Date.parse(start) > Math.max(oldStart, Date.now())) {
    asks.push({
      question: `Postpone the sale of ${type.name} to ${dateTime(start)}?`,
      detail: "Nobody is served before then; people who join wait in the pre-queue.",
      yes: "Postpone",
    });
  }
  return asks;
}

export const formElements = { form, cancel };
