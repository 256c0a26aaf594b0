// The buyer's places, kept in localStorage: a reload, a reopened tab or a second tab finds the
// same token instead of joining again. One place per ticket type, and the one on show.

export type StoredPlace = {
  token: string;
  ticketTypeId: number;
  userId: string;
  quantity: number;
  /** The position on joining: the progress bar's start. */
  firstPosition?: number;
  /** It reached a final status: a join for its type takes a new place. */
  ended?: boolean;
};

const PLACES_KEY = "ticket-queue.places";
/** The ticket type whose place is on show; other tabs follow its changes (storage events). */
export const CURRENT_KEY = "ticket-queue.current";

function readAll(): Record<string, StoredPlace> {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(PLACES_KEY) ?? "{}");
    return parsed && typeof parsed === "object" ? (parsed as Record<string, StoredPlace>) : {};
  } catch {
    return {}; // unreadable: as if empty
  }
}

function writeAll(places: Record<string, StoredPlace>): void {
  try {
    localStorage.setItem(PLACES_KEY, JSON.stringify(places));
  } catch {
    // storage full or refused (private mode): the page still works, without resuming
  }
}

export const places = {
  of(ticketTypeId: number): StoredPlace | undefined {
    return readAll()[ticketTypeId];
  },
  save(place: StoredPlace): void {
    writeAll({ ...readAll(), [place.ticketTypeId]: place });
  },
  update(ticketTypeId: number, change: Partial<StoredPlace>): void {
    const all = readAll();
    const place = all[ticketTypeId];
    if (place) writeAll({ ...all, [ticketTypeId]: { ...place, ...change } });
  },
  forget(ticketTypeId: number): void {
    const all = readAll();
    delete all[ticketTypeId];
    writeAll(all);
  },
  current(): StoredPlace | undefined {
    const id = Number(localStorage.getItem(CURRENT_KEY));
    return Number.isInteger(id) && id > 0 ? places.of(id) : undefined;
  },
  show(ticketTypeId: number | null): void {
    try {
      if (ticketTypeId === null) localStorage.removeItem(CURRENT_KEY);
      else localStorage.setItem(CURRENT_KEY, String(ticketTypeId));
    } catch {}
  },
};
