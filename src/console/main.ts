// The operator's console: sign in with the admin token; list, create and edit events; add and
// edit ticket types; watch an event's figures every second, charted over 30 minutes; pause and
// resume; the bookings and their CSV export.
import type { AdminEventListing, AdminTicketType, EventFigures } from "../api/schemas";
import { api, ApiError, token } from "./api";
import { askAll } from "./ask";
import { bookingsMoved, showBookings } from "./bookings-view";
import { Charts } from "./charts";
import { byId, el, say } from "../browser/dom";
import { showEventForm, useEventForm } from "./event-form";
import { renderFigures } from "./figures-view";
import { History } from "./history";
import { editing, formBody, formElements, risks, startAdding, startEditing } from "./type-form";
import { clock, dateTime, fromLocalInput, refusalWords } from "./words";

const READ_EVERY_MS = 1000;

const notice = byId("notice");
const signIn = byId("sign-in");
const signInForm = byId<HTMLFormElement>("sign-in-form");
const tokenInput = byId<HTMLInputElement>("token");
const signInError = byId("sign-in-error");
const signOut = byId<HTMLButtonElement>("sign-out");
const consoleBox = byId("console");
const eventsList = byId("events");
const eventForm = byId<HTMLFormElement>("event-form");
const eventError = byId("event-error");
const eventSection = byId("event");
const figuresBody = byId("figures").querySelector("tbody")!;
const figuresEmpty = byId("figures-empty");
const figuresAt = byId("figures-at");
const typeError = byId("type-error");
const typeDone = byId("type-done");

let events: AdminEventListing = [];
let selected: number | null = null;
let lastFigures: EventFigures | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
const history = new History();
const charts = new Charts(byId("charts"));

const typesOf = (eventId: number | null): AdminTicketType[] => events.find((e) => e.id === eventId)?.ticket_types ?? [];

// --- signing in and out -----------------------------------------------------------------

async function trySignIn(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  say(signInError, null);
  const candidate = tokenInput.value.trim();
  if (!candidate) return void say(signInError, "Enter the admin token.");
  try {
    events = await api.tryToken(candidate);
  } catch (err) {
    say(signInError, refusalWords(err));
    tokenInput.focus();
    return;
  }
  token.set(candidate);
  tokenInput.value = "";
  enter();
}

function enter(): void {
  signIn.hidden = true;
  consoleBox.hidden = false;
  signOut.hidden = false;
  renderEvents();
  byId("events-title").setAttribute("tabindex", "-1");
  byId("events-title").focus();
}

/** Back to the sign-in form (`why`: the service refused the token on the way). */
function leave(why: string | null): void {
  token.clear();
  clearTimeout(timer);
  selected = null;
  history.clear();
  charts.clear();
  consoleBox.hidden = true;
  eventSection.hidden = true;
  signOut.hidden = true;
  signIn.hidden = false;
  say(notice, null);
  say(signInError, why);
  tokenInput.focus();
}

/** A refusal of the token itself (changed on the server meanwhile) signs out; any other is said where it happened. */
function signedOut(err: unknown): boolean {
  if (err instanceof ApiError && (err.code === "unauthorized" || err.code === "admin_disabled")) {
    leave(refusalWords(err));
    return true;
  }
  return false;
}

// --- events -----------------------------------------------------------------------------

async function reloadEvents(): Promise<void> {
  try {
    events = await api.events();
    renderEvents();
  } catch (err) {
    if (!signedOut(err)) say(notice, refusalWords(err));
  }
}

function renderEvents(): void {
  eventsList.replaceChildren(...events.map((e) => {
    const button = el("button", { type: "button", class: "link", "aria-current": e.id === selected ? "true" : undefined }, e.name);
    button.addEventListener("click", () => select(e.id));
    const info = [e.venue, e.starts_at ? dateTime(e.starts_at) : "", `${e.ticket_types.length} ticket type${e.ticket_types.length === 1 ? "" : "s"}`];
    return el("li", {}, button, el("span", { class: "muted" }, ` ${info.filter(Boolean).join(" · ")}`));
  }));
  if (events.length === 0) eventsList.replaceChildren(el("li", { class: "muted" }, "No events yet: create one."));
  if (selected !== null) renderEvent();
}

async function createEvent(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  say(eventError, null);
  const value = (name: string) => (eventForm.elements.namedItem(name) as HTMLInputElement).value.trim();
  const body: Record<string, string | null> = { name: value("name") };
  if (value("venue")) body.venue = value("venue");
  if (value("starts_at")) body.starts_at = fromLocalInput(value("starts_at"));
  if (value("currency")) body.currency = value("currency");
  try {
    const created = await api.createEvent(body);
    eventForm.reset();
    byId<HTMLDetailsElement>("new-event").open = false;
    await reloadEvents();
    select(created.id);
  } catch (err) {
    if (!signedOut(err)) say(eventError, refusalWords(err));
  }
}

function select(eventId: number): void {
  if (selected !== eventId) {
    history.clear();
    charts.clear();
    lastFigures = null;
    startAdding();
  }
  selected = eventId;
  renderEvents();
  eventSection.hidden = false;
  byId("event-title").focus();
  showBookings(eventId);
  void readFigures();
}

function renderEvent(): void {
  const event = events.find((e) => e.id === selected);
  if (!event) return;
  showEventForm(event);
  byId("event-title").textContent = event.name;
  byId("event-info").textContent = [event.venue, event.starts_at ? `starts ${dateTime(event.starts_at)}` : "", `prices in ${event.currency}`]
    .filter(Boolean).join(" · ");
  renderTable();
}

function renderTable(): void {
  const types = typesOf(selected);
  figuresEmpty.hidden = types.length > 0;
  renderFigures(figuresBody, types, lastFigures?.ticket_types ?? null, { pause: (t, p) => void pause(t, p), edit: startEditing });
}

// --- the live figures -------------------------------------------------------------------

/** A reading under way; `readAgain`: asked for meanwhile (a change, another event), made when it ends. */
let reading = false;
let readAgain = false;

/** Reads the figures now, then once a second: one chain of readings, however often it is asked for. */
async function readFigures(): Promise<void> {
  clearTimeout(timer);
  if (reading) return void (readAgain = true);
  const eventId = selected;
  if (eventId === null) return;
  reading = true;
  try {
    await readOnce(eventId);
  } finally {
    reading = false;
  }
  if (readAgain) {
    readAgain = false;
    return readFigures();
  }
  if (eventId === selected) timer = setTimeout(() => void readFigures(), READ_EVERY_MS);
}

async function readOnce(eventId: number): Promise<void> {
  try {
    const figures = await api.figures(eventId);
    if (eventId !== selected) return;
    say(notice, null);
    const bookingsBefore = lastFigures && totalBookings(lastFigures);
    lastFigures = figures;
    history.add(figures);
    if (bookingsBefore !== null && bookingsBefore !== totalBookings(figures)) bookingsMoved();
    // a type added or changed elsewhere (another operator, curl): list it as it is now
    if (figures.ticket_types.some((f) => changedElsewhere(f, typesOf(eventId).find((t) => t.id === f.id)))) await reloadEvents();
    figuresAt.textContent = `Last read at ${clock(figures.read_at)}.`;
    renderTable();
    charts.draw(history, typesOf(eventId).map(({ id, name }) => ({ id, name })));
  } catch (err) {
    if (signedOut(err)) return;
    say(notice, `The figures could not be read: ${refusalWords(err)} Trying again…`);
  }
}

/** Whether the listing's type is missing or differs from its figures in a field both carry. */
const changedElsewhere = (f: EventFigures["ticket_types"][number], listed: AdminTicketType | undefined) =>
  !listed || (["name", "capacity", "paused", "max_active_holds", "holds_per_minute"] as const).some((key) => f[key] !== listed[key]);

const totalBookings = (figures: EventFigures) => figures.ticket_types.reduce((sum, f) => sum + f.bookings, 0);

// --- changing ticket types --------------------------------------------------------------

async function pause(type: AdminTicketType, paused: boolean): Promise<void> {
  await change(type, { paused });
}

/** Sends a change to a type after the confirmations it needs; true when it was made. */
async function change(type: AdminTicketType, body: Record<string, unknown>): Promise<boolean> {
  say(typeError, null);
  say(typeDone, null);
  // asked against the type as it is now (another operator may have changed it meanwhile)
  await reloadEvents();
  const now = typesOf(selected).find((t) => t.id === type.id) ?? type;
  if (!(await askAll(risks(now, body as never)))) return false;
  try {
    const changed = await api.updateType(type.id, body);
    say(typeDone, `${changed.name}: saved.`);
    await reloadEvents();
    void readFigures();
    return true;
  } catch (err) {
    if (!signedOut(err)) say(typeError, refusalWords(err));
    return false;
  }
}

async function saveType(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  if (selected === null) return;
  say(typeError, null);
  say(typeDone, null);
  const body = formBody();
  if (editing) {
    if (Object.keys(body).length === 0) return void say(typeDone, "Nothing was changed.");
    if (await change(editing, body)) startAdding();
    return;
  }
  try {
    const created = await api.createType(selected, body);
    startAdding();
    say(typeDone, `${created.name}: added, on sale ${created.sale_starts_at ? `from ${dateTime(created.sale_starts_at)}` : "now"}.`);
    await reloadEvents();
    void readFigures();
  } catch (err) {
    if (!signedOut(err)) say(typeError, refusalWords(err));
  }
}

// --- start ------------------------------------------------------------------------------

useEventForm({ saved: reloadEvents, signedOut });
signInForm.addEventListener("submit", (event) => void trySignIn(event));
signOut.addEventListener("click", () => leave(null));
eventForm.addEventListener("submit", (event) => void createEvent(event));
formElements.form.addEventListener("submit", (event) => void saveType(event));
formElements.cancel.addEventListener("click", () => {
  startAdding();
  say(typeError, null);
});

// a reload of the tab keeps the session (sessionStorage); a wrong kept token signs out
if (token.get()) {
  void api.events().then((listed) => {
    events = listed;
    enter();
  }, (err) => leave(refusalWords(err)));
} else {
  tokenInput.focus();
}
