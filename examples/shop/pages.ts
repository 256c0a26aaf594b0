// The example shop's pages: the order with its Pay button, a failed payment, a refusal. Plain
// HTML forms, no script. Every text from outside (names from the service, its error messages)
// goes through html(), which escapes it.

/** An order as the shop keeps it: one per hold. */
export type Order = {
  /** The shop's order id: the confirm's order_ref, and the root of its Idempotency-Key. */
  ref: string;
  queueToken: string;
  /** Where the buyer goes back to: the JWT's issuer, the service's waiting room. */
  waitingRoom: string;
  eventName: string;
  ticketTypeName: string;
  quantity: number;
  amount: number;
  currency: string;
  /** The hold's deadline (ISO), moved on by each payment attempt. */
  expiresAt: string;
};

/** The order, and the Pay button (with the switch that makes the payment fail). */
export function checkoutPage(order: Order): Response {
  return page(200, "Checkout", `
    <h1>Checkout</h1>
    ${summary(order)}
    ${payForm(order, "Pay")}
    <p><a href="${html(order.waitingRoom)}">Back to the waiting room</a></p>`);
}

/** The bank said no: the tickets are still held, so the buyer may try again. */
export function failedPage(order: Order): Response {
  return page(402, "Payment failed", `
    <h1>Payment failed</h1>
    <p role="alert">Your bank declined the payment (this was the example shop's “make the payment fail”).
      Your tickets are still held for you until ${deadline(order.expiresAt)}.</p>
    ${summary(order)}
    ${payForm(order, "Try again")}
    <p><a href="${html(order.waitingRoom)}">Back to the waiting room</a></p>`);
}

/** Something the buyer cannot pay through: a bad link, or the service's refusal, said as it came. */
export function errorPage(status: number, title: string, text: string, waitingRoom: string | null): Response {
  return page(status, title, `
    <h1>${html(title)}</h1>
    <p role="alert">${html(text)}</p>
    ${waitingRoom ? `<p><a href="${html(waitingRoom)}">Back to the waiting room</a></p>` : ""}`);
}

function summary(order: Order): string {
  return `
    <dl>
      <dt>Event</dt><dd>${html(order.eventName)}</dd>
      <dt>Tickets</dt><dd>${order.quantity} × ${html(order.ticketTypeName)}</dd>
      <dt>Total</dt><dd id="amount">${html(money(order.amount, order.currency))}</dd>
      <dt>Held until</dt><dd>${deadline(order.expiresAt)}</dd>
    </dl>`;
}

function payForm(order: Order, button: string): string {
  return `
    <form method="post" action="/orders/${encodeURIComponent(order.ref)}/pay">
      <p><label><input type="checkbox" name="fail"> Make the payment fail</label></p>
      <button type="submit">${html(button)} ${html(money(order.amount, order.currency))}</button>
    </form>`;
}

function page(status: number, title: string, body: string): Response {
  return new Response(`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${html(title)}: Example shop</title>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
    dl { display: grid; grid-template-columns: auto 1fr; gap: 0.25rem 1rem; }
    dt { font-weight: 600; }
    dd { margin: 0; }
    button { font: inherit; font-weight: 600; padding: 0.5rem 1.25rem; min-height: 2.75rem; }
    [role=alert] { font-weight: 600; }
  </style>
</head>
<body>
  <p>Example shop</p>
  <main>${body}</main>
</body>
</html>`, { status, headers: { "content-type": "text/html; charset=utf-8" } });
}

/** 90 in EUR -> "€90.00". */
const money = (amount: number, currency: string) =>
  new Intl.NumberFormat("en", { style: "currency", currency }).format(amount);

/** The deadline as a time of day (UTC: the server does not know the buyer's time zone), machine-readable too. */
const deadline = (iso: string) =>
  `<time datetime="${html(iso)}">${html(new Date(iso).toISOString().slice(11, 19))} UTC</time>`;

/** Text made safe to put in HTML, between tags or in a quoted attribute. */
function html(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
