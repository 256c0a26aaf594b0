// The events a webhook endpoint may subscribe to. sql/0012_webhooks.sql writes them, each from
// the trigger on the change it reports; `*` subscribes to every one, hold.granted included.
export const WEBHOOK_EVENT_TYPES = [
  "booking.confirmed", //    a hold became a booking (the buyer's confirm, or the shop's after payment)
  "booking.cancelled", //    a booking was cancelled (the shop's or the operator's); its tickets went back
  "hold.granted", //         a person at the head of the queue got a hold (one per hold: busy)
  "hold.released", //        the buyer gave a hold back
  "hold.expired", //         a hold lapsed unconfirmed (the cleaner)
  "ticket_type.sold_out", // a booking took a type's last ticket: none in stock, no hold out
  "ticket_type.updated", //  an operator changed a ticket type (created, edited, paused, moved its start)
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** What an endpoint's `events` may hold. */
export const SUBSCRIBABLE = [...WEBHOOK_EVENT_TYPES, "*"] as const;
