// Editing the event on show (name, venue, start, currency): the form is filled from the event
// when it is opened, and only the fields changed are sent (PATCH /admin/events/:id); the API's
// refusals are shown in words.
import type { AdminEvent } from "../api/schemas";
import { api } from "./api";
import { byId, say } from "../browser/dom";
import { fromLocalInput, refusalWords, toLocalInput } from "./words";

const details = byId<HTMLDetailsElement>("edit-event");
const form = byId<HTMLFormElement>("edit-event-form");
const error = byId("edit-event-error");
const done = byId("edit-event-done");
const input = (id: string) => byId<HTMLInputElement>(id);

let shown: AdminEvent | null = null;
/** What the console does once an event was saved (reads the list again); false for a refusal that signed out. */
let hooks: { saved(event: AdminEvent): Promise<void>; signedOut(err: unknown): boolean } | null = null;

export function useEventForm(h: NonNullable<typeof hooks>): void {
  hooks = h;
}

/** The event on show; another one closes the form (its values were the other's). */
export function showEventForm(event: AdminEvent): void {
  if (shown?.id !== event.id) {
    details.open = false;
    say(done, null);
  }
  shown = event;
}

function fill(event: AdminEvent): void {
  input("edit-event-name").value = event.name;
  input("edit-event-venue").value = event.venue;
  input("edit-event-starts").value = toLocalInput(event.starts_at);
  input("edit-event-currency").value = event.currency;
  say(error, null);
}

/** The fields changed from the event (the start to the minute, as the form shows it). */
function changes(event: AdminEvent): Record<string, string | null> {
  const body: Record<string, string | null> = {};
  const name = input("edit-event-name").value.trim();
  const venue = input("edit-event-venue").value.trim();
  const starts = input("edit-event-starts").value;
  const currency = input("edit-event-currency").value.trim();
  if (name !== event.name) body.name = name;
  if (venue !== event.venue) body.venue = venue;
  if (starts !== toLocalInput(event.starts_at)) body.starts_at = fromLocalInput(starts);
  if (currency !== event.currency) body.currency = currency;
  return body;
}

async function save(submit: SubmitEvent): Promise<void> {
  submit.preventDefault();
  if (!shown) return;
  say(error, null);
  say(done, null);
  const body = changes(shown);
  if (Object.keys(body).length === 0) return void say(done, "Nothing was changed.");
  try {
    const saved = await api.updateEvent(shown.id, body);
    details.open = false;
    say(done, `${saved.name}: saved.`);
    await hooks?.saved(saved);
  } catch (err) {
    if (!hooks?.signedOut(err)) say(error, refusalWords(err));
  }
}

details.addEventListener("toggle", () => {
  if (details.open && shown) {
    fill(shown);
    input("edit-event-name").focus();
  }
});
form.addEventListener("submit", (submit) => void save(submit));
