// An example shop for ticket-queue's paid checkout: the part a shop developer writes. Copy it.
//
// The waiting room sends a buyer whose tickets are held to CHECKOUT_URL?hold=<JWT>. This shop:
//   1. GET /checkout?hold=<JWT>: checks the JWT offline against the service's public keys
//      (/.well-known/jwks.json), then reads the hold through the shop API for names and the
//      current deadline, and shows the order with a Pay button;
//   2. POST /orders/:ref/pay: "pays" in the safe order: moves the hold's deadline on while
//      3-D Secure runs (POST /shop/holds/:token/extend), has the "bank" authorize the payment,
//      books the hold (POST /shop/holds/:token/confirm) with an Idempotency-Key that is the
//      same for every try of one order, so a retry after a timeout gets the same booking, never
//      a second one, and only then would capture the money (void it if the booking is refused);
//   3. paid: sends the buyer back to the waiting room (the JWT's issuer), which shows the
//      booking reference. Failed: says so, with "Try again" (the tickets are still held).
// A checkbox on the order page makes the payment fail, to try that path.
//
// Run it beside the service (or `bun run shop-demo` for both at once):
//   SHOP_API_KEY=<one of the service's SHOP_API_KEYS> bun examples/shop/shop.ts
// Settings (environment):
//   SHOP_API_KEY             required: the bearer key for the service's /shop API
//   TICKET_QUEUE_URL         the service as this server reaches it (default http://localhost:3000)
//   TICKET_QUEUE_PUBLIC_URL  the service's PUBLIC_URL: the JWT's issuer (default TICKET_QUEUE_URL)
//   CHECKOUT_AUDIENCE        the JWT's audience, as the service's CHECKOUT_AUDIENCE (default checkout)
//   PORT                     where this shop listens (default 3001)
//   EXTEND_SECONDS           how long each payment attempt moves the hold on (default 120)
//   THREE_D_SECURE_MS        how long the pretend bank takes (default 1500)
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import { checkoutPage, errorPage, failedPage, type Order } from "./pages";

const env = process.env;
if (!env.SHOP_API_KEY) {
  console.error("SHOP_API_KEY must be set to one of the service's SHOP_API_KEYS");
  process.exit(2);
}
const API_KEY = env.SHOP_API_KEY;
const SERVICE = (env.TICKET_QUEUE_URL ?? "http://localhost:3000").replace(/\/+$/, "");
const ISSUER = (env.TICKET_QUEUE_PUBLIC_URL ?? SERVICE).replace(/\/+$/, "");
const AUDIENCE = env.CHECKOUT_AUDIENCE ?? "checkout";
const PORT = Number(env.PORT ?? 3001);
const EXTEND_SECONDS = Number(env.EXTEND_SECONDS ?? 120);
const THREE_D_SECURE_MS = Number(env.THREE_D_SECURE_MS ?? 1500);

// The service's public keys, fetched once and cached by jose (fetched again for an unknown
// `kid`, so a key rotation needs nothing here).
const JWKS = createRemoteJWKSet(new URL(`${SERVICE}/.well-known/jwks.json`));

/** What the service signs into the hand-off (issue #20): the hold, and what to charge. */
type HoldClaims = {
  iss: string; sub: string; jti: string; exp: number;
  queue_token: string; ticket_type_id: number; quantity: number; amount: number; currency: string;
};

// The shop's orders. A real shop keeps them in its database; here they live as long as the process.
const orders = new Map<string, Order>();

/** One call to the service's shop API: the status and the JSON answer (errors are {error, message}). */
async function shopApi(method: "GET" | "POST", path: string, body?: unknown, headers: Record<string, string> = {}) {
  try {
    const response = await fetch(`${SERVICE}${path}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body !== undefined && { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, any> };
  } catch (err) {
    return { status: 0, body: { error: "unreachable", message: `the ticket service cannot be reached (${(err as Error).message})` } };
  }
}

/** The service's refusal, in plain words: "410 hold_expired: this hold expired ...". */
const refusal = (answer: { status: number; body: Record<string, any> }) =>
  `${answer.status || "no answer"} ${answer.body.error ?? ""}: ${answer.body.message ?? "no message"}`;

/** GET /checkout?hold=<JWT>: the order, once the JWT checks out. */
async function checkout(url: URL): Promise<Response> {
  const hold = url.searchParams.get("hold");
  if (!hold) return errorPage(400, "No hold given", "Come here from the waiting room's “Continue to checkout”.", null);
  let claims: HoldClaims;
  try {
    // Signature (EdDSA, a key from the JWKS), issuer, audience and expiry (exp = the hold's deadline).
    const { payload } = await jwtVerify(hold, JWKS, { issuer: ISSUER, audience: AUDIENCE, algorithms: ["EdDSA"] });
    claims = payload as unknown as HoldClaims;
  } catch (err) {
    const why = err instanceof errors.JWTExpired
      ? "The hold behind this link has passed its deadline. Go back to the waiting room to see where you stand."
      : `This checkout link is not valid (${(err as Error).message}).`;
    return errorPage(400, "This checkout link cannot be used", why, null);
  }

  // The JWT is the service's word on what to charge; the API adds names and the current
  // deadline (a hold moves on while a payment runs), and says if it was booked meanwhile.
  const read = await shopApi("GET", `/shop/holds/${encodeURIComponent(claims.queue_token)}`);
  if (read.status !== 200) return errorPage(502, "The ticket service refused", refusal(read), claims.iss);
  const current = read.body;
  if (current.amount !== claims.amount || current.currency !== claims.currency || current.quantity !== claims.quantity) {
    return errorPage(409, "The order changed", "The held tickets are not what this link says. Go back to the waiting room.", claims.iss);
  }
  // One order per hold (its jti): visiting the link again shows the same order.
  const ref = `DEMO-${claims.jti}`;
  const order: Order = orders.get(ref) ?? {
    ref,
    queueToken: claims.queue_token,
    waitingRoom: claims.iss,
    eventName: current.event_name,
    ticketTypeName: current.ticket_type_name,
    quantity: claims.quantity,
    amount: claims.amount,
    currency: claims.currency,
    expiresAt: current.expires_at,
  };
  order.expiresAt = current.expires_at;
  orders.set(ref, order);
  if (current.status === "confirmed") return Response.redirect(order.waitingRoom, 303); // paid already: the waiting room says so
  if (current.status !== "reserved") {
    return errorPage(410, "These tickets are no longer held", `The hold is ${current.status}.`, order.waitingRoom);
  }
  return checkoutPage(order);
}

/** POST /orders/:ref/pay: 3-D Secure (the hold moved on meanwhile), the bank, then the booking. */
async function pay(ref: string, form: FormData): Promise<Response> {
  const order = orders.get(ref);
  if (!order) return errorPage(404, "No such order", "Start again from the waiting room.", null);
  const token = encodeURIComponent(order.queueToken);

  // The buyer is at their bank now: ask for more time first, so the hold cannot lapse meanwhile.
  // Past the most the service allows (409 extend_limit) the payment goes on in the time left.
  // Booked already (409 already_confirmed: a double click whose first request won): no second
  // charge; the confirm below replays that booking.
  const extended = await shopApi("POST", `/shop/holds/${token}/extend`, { seconds: EXTEND_SECONDS });
  if (extended.status === 200) order.expiresAt = extended.body.expires_at;
  else if (!["extend_limit", "already_confirmed"].includes(extended.body.error)) {
    return errorPage(extended.status === 0 ? 502 : 409, "Payment not started", refusal(extended), order.waitingRoom);
  }

  if (extended.body.error !== "already_confirmed") {
    await Bun.sleep(THREE_D_SECURE_MS); // the pretend bank authorizes the payment (3-D Secure)
    if (form.get("fail") === "on") return failedPage(order);
  }

  // Paid: book it. The key is the order's own, so a retry (after a timeout, a double click, a
  // second try after a failed one) replays the first booking instead of asking for another.
  const booked = await shopApi("POST", `/shop/holds/${token}/confirm`,
    { order_ref: order.ref, amount: order.amount }, { "idempotency-key": `pay-${order.ref}` });
  if (booked.status === 201) {
    // Booked: a real shop captures the authorized payment now.
    console.log(`order ${order.ref} paid: booking ${booked.body.booking_ref}`);
    return Response.redirect(order.waitingRoom, 303); // the waiting room shows the booking reference
  }
  // Not booked (410 hold_expired, 409 released ...): a real shop voids the authorization here.
  // Unreachable or 5xx: trying again with the same key is safe.
  return errorPage(booked.status === 0 || booked.status >= 500 ? 502 : 409, "The tickets were not booked", refusal(booked), order.waitingRoom);
}

const server = Bun.serve({
  port: PORT,
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/checkout") return checkout(url);
    const paying = url.pathname.match(/^\/orders\/([^/]+)\/pay$/);
    if (request.method === "POST" && paying) return pay(decodeURIComponent(paying[1]!), await request.formData());
    if (request.method === "GET" && url.pathname === "/") {
      return new Response("Example shop: buyers arrive at /checkout from the waiting room.\n", { headers: { "content-type": "text/plain" } });
    }
    return new Response("not found\n", { status: 404 });
  },
});
console.log(`example shop on http://localhost:${server.port}/checkout (ticket service ${SERVICE})`);
