// The waiting room: choose tickets and join; follow the place (resumed from localStorage after
// a reload, in any tab); confirm or release the hold; start again.
import { ApiError, api, isFinal, untilAnswered, type StatusReading } from "./api";
import type { FieldsOf, JoinAnswer } from "../api/schemas";
import { byId, say } from "../browser/dom";
import { renderEvents, type Choice } from "./events-view";
import { PlaceView } from "./place-view";
import { CURRENT_KEY, places, type StoredPlace } from "./places";
import { StatusWatch } from "./watch";
import { inSeconds, prequeueOpen, refusalWords } from "./words";

const EVENTS_REFRESH_MS = 10_000;

const notice = byId("notice");
const choose = byId("choose");
const form = byId<HTMLFormElement>("join-form");
const eventsBox = byId("events");
const quantityInput = byId<HTMLInputElement>("quantity");
const quantityHint = byId("quantity-hint");
const userInput = byId<HTMLInputElement>("user");
const joinButton = byId<HTMLButtonElement>("join");
const joinError = byId("join-error");

let choices = new Map<number, Choice>();
let shown: StoredPlace | null = null;
let watch: StatusWatch | null = null;

const view = new PlaceView({
  confirm: () => void confirm(),
  release: () => void release(),
  again: () => startAgain(),
  timeUp: () => watch?.checkNow(),
});

/** The service is busy or out of reach: say so, and when the page tries again. */
function waiting(seconds: number, error: ApiError): void {
  say(notice, `${refusalWords(error)} Trying again ${inSeconds(seconds)}…`);
}
const answered = () => say(notice, null);

// --- choosing and joining ---------------------------------------------------------------

function selectedType(): Choice | undefined {
  const checked = form.querySelector<HTMLInputElement>('input[name="ticket_type"]:checked');
  return checked ? choices.get(Number(checked.value)) : undefined;
}

function fitQuantity(): void {
  const type = selectedType();
  const limit = type?.per_user_limit ?? 1;
  quantityInput.max = String(limit);
  quantityHint.textContent = type ? `At most ${limit} per person for ${type.name}.` : "Choose a ticket type first.";
  joinButton.textContent = type && prequeueOpen(type) ? "Join the waiting line" : "Join the queue";
}

let eventsTimer: ReturnType<typeof setTimeout> | undefined;
async function loadEvents(): Promise<void> {
  clearTimeout(eventsTimer);
  try {
    const events = await api.events();
    answered();
    choices = renderEvents(eventsBox, events, selectedType()?.id ?? shown?.ticketTypeId ?? null);
    if (!selectedType()) form.querySelector<HTMLInputElement>('input[name="ticket_type"]:not(:disabled)')?.click();
    fitQuantity();
    eventsTimer = setTimeout(() => void loadEvents(), EVENTS_REFRESH_MS);
  } catch (err) {
    const error = err instanceof ApiError ? err : new ApiError(0, "offline", String(err), 2);
    if (error.passing) waiting(error.retryAfter ?? 2, error);
    else say(notice, refusalWords(error));
    eventsTimer = setTimeout(() => void loadEvents(), (error.retryAfter ?? 2) * 1000);
  }
}

async function join(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  say(joinError, null);
  const type = selectedType();
  const quantity = Number(quantityInput.value);
  const userId = userInput.value.trim();
  if (!type) return refuse("Choose a ticket type.");
  if (!Number.isInteger(quantity) || quantity < 1) return refuse("Enter how many tickets, 1 or more.", quantityInput);
  if (quantity > type.per_user_limit) {
    return refuse(`At most ${type.per_user_limit} tickets of ${type.name} per person.`, quantityInput);
  }
  if (!userId) return refuse("Enter your name or e-mail.", userInput);

  // This browser already has a live place for this type and person: follow it, never a second one.
  const stored = places.of(type.id);
  if (stored && !stored.ended && stored.userId === userId) return follow(stored);

  joinButton.disabled = true;
  try {
    const joined = await untilAnswered(() => api.join(userId, type.id, quantity), waiting);
    answered();
    const { position }: FieldsOf<JoinAnswer> = joined; // none while waiting for the sale
    const place: StoredPlace = {
      token: joined.queue_token, ticketTypeId: type.id, userId, quantity: joined.quantity, firstPosition: position,
    };
    places.save(place);
    follow(place);
  } catch (err) {
    answered();
    refuse(err instanceof ApiError ? refusalWords(err) : "Something went wrong; please try again.");
    if (err instanceof ApiError && err.code === "sold_out") void loadEvents();
  } finally {
    joinButton.disabled = false;
  }
}

function refuse(text: string, field?: HTMLInputElement): void {
  say(joinError, text);
  field?.focus();
}

// --- following a place ------------------------------------------------------------------

function follow(place: StoredPlace): void {
  watch?.stop();
  clearTimeout(eventsTimer);
  shown = place;
  places.show(place.ticketTypeId);
  choose.hidden = true;
  view.open(place, choices.get(place.ticketTypeId));
  const current = new StatusWatch(place.token, {
    status: (answer) => {
      answered();
      show(place, answer);
    },
    waiting,
    refused: (error) => {
      places.forget(place.ticketTypeId);
      view.fail(refusalWords(error));
    },
  });
  watch = current;
  current.start();
}

function show(place: StoredPlace, answer: StatusReading): void {
  if (shown?.token !== place.token) return; // an answer for a place no longer on show
  if (place.firstPosition === undefined && answer.position !== undefined) {
    place.firstPosition = answer.position;
    places.update(place.ticketTypeId, { firstPosition: answer.position });
  }
  if (isFinal(answer.status) && !place.ended) {
    place.ended = true;
    places.update(place.ticketTypeId, { ended: true });
  }
  view.render(place, answer);
}

async function confirm(): Promise<void> {
  const place = shown;
  if (!place) return;
  view.working(true);
  view.showError(null);
  try {
    const booked = await untilAnswered(() => api.confirm(place.token), waiting);
    answered();
    watch?.stop();
    show(place, { status: "confirmed", ticket_type_id: place.ticketTypeId, booking_id: booked.booking_id, booking_ref: booked.booking_ref });
  } catch (err) {
    answered();
    view.showError(err instanceof ApiError ? refusalWords(err) : "Something went wrong; please try again.");
    view.working(false);
    watch?.checkNow(); // a refusal (expired, say) means the status moved on
  }
}

async function release(): Promise<void> {
  const place = shown;
  if (!place) return;
  view.working(true);
  view.showError(null);
  try {
    await untilAnswered(() => api.release(place.token), waiting);
    answered();
    watch?.stop();
    show(place, { status: "released", ticket_type_id: place.ticketTypeId });
  } catch (err) {
    answered();
    view.showError(err instanceof ApiError ? refusalWords(err) : "Something went wrong; please try again.");
    view.working(false);
    watch?.checkNow();
  }
}

/** Back to the form, the same type chosen. */
function startAgain(): void {
  watch?.stop();
  watch = null;
  places.show(null);
  view.hide();
  choose.hidden = false;
  if (shown) userInput.value = shown.userId;
  void loadEvents();
  shown = null;
  byId("choose-title").setAttribute("tabindex", "-1");
  byId("choose-title").focus();
}

// --- start ------------------------------------------------------------------------------

form.addEventListener("submit", (event) => void join(event));
eventsBox.addEventListener("change", fitQuantity);
// Another tab took or resumed a place: show the same one here.
window.addEventListener("storage", (event) => {
  if (event.key !== CURRENT_KEY) return;
  const current = places.current();
  if (current && current.token !== shown?.token) follow(current);
});

// The events first, so a resumed place can name its tickets.
void loadEvents().then(() => {
  const resumed = places.current();
  if (resumed && !shown) follow(resumed);
});
