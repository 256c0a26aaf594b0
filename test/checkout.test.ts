// The paid checkout (issue #20) in a real browser: the waiting room hands a buyer whose tickets
// are held to the example shop (examples/shop/, run here as its own process, as a shop would
// run it) with a signed link; the shop checks it against the service's JWKS, "pays" (or fails
// to), books through the shop API, and sends the buyer back to the waiting room, which shows
// the booking reference. The real service (CONFIRM_BY=shop, CHECKOUT_URL), workers and all, on
// real Redis and PostgreSQL; the system's Chromium. Screenshots go to screenshots/checkout-*.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join as joinPath } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { freePort } from "../scripts/local-servers";
import { startService, type RunningService } from "../src/server";
import { browserKit, browserSuite, CHROMIUM, seen, shot, SHOTS, storedToken } from "./browser-kit";
import { createTestEnv, quietLog, waitFor, type TestEnv } from "./helpers";

const ADMIN_TOKEN = "checkout-test-admin-token-0123456789abcdef";
const SHOP_KEY = "checkout-test-shop-key-".padEnd(40, "s");
const SHOP_AUTH = { authorization: `Bearer ${SHOP_KEY}` };
/** What each payment attempt of the example shop adds to the hold ("3-D Secure"). */
const EXTEND_SECONDS = 5;
const BOOKING_REF = /^[0-9A-HJKMNP-TV-Z]{10}$/;

let env: TestEnv;
let service: RunningService;
let shop: ReturnType<typeof Bun.spawn> | undefined;
let browser: Browser;
let base: string;
let shopBase: string;
const pageErrors: string[] = [];
const { api, createType, patchType, apiJoin, statusOf, statusBecomes, typeListing, openPage } = browserKit(() => base, ADMIN_TOKEN, pageErrors);

/** The port the example shop says it listens on (its first line), reading the rest of its output away. */
async function listeningPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const lines = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`the example shop stopped before it listened: ${text}`);
    text += decoder.decode(value, { stream: true });
    const listening = /example shop on http:\/\/localhost:(\d+)\//.exec(text);
    if (listening) {
      void (async () => { while (!(await lines.read()).done); })(); // its later lines, unread
      return Number(listening[1]);
    }
  }
}

browserSuite("paid checkout through the example shop, in Chromium", () => {
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    // The shop starts first, on a port of its own choosing (a port picked for it could be taken
    // meanwhile, even by this service), and says which; the service then signs links to it.
    const port = freePort();
    base = `http://127.0.0.1:${port}`;
    shop = Bun.spawn([process.execPath, joinPath(import.meta.dir, "..", "examples", "shop", "shop.ts")], {
      env: {
        ...process.env, PORT: "0", SHOP_API_KEY: SHOP_KEY, TICKET_QUEUE_URL: base,
        EXTEND_SECONDS: String(EXTEND_SECONDS), THREE_D_SECURE_MS: "300",
      },
      stdout: "pipe", stderr: "inherit",
    });
    shopBase = `http://127.0.0.1:${await listeningPort(shop.stdout as ReadableStream<Uint8Array>)}`;
    const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    env = await createTestEnv({
      ADMIN_TOKEN, SHOP_API_KEYS: SHOP_KEY, CONFIRM_BY: "shop", CHECKOUT_URL: `${shopBase}/checkout`, PUBLIC_URL: base,
      CHECKOUT_SIGNING_KEY: signingKey,
      CURRENCY: "EUR", CLEANER_INTERVAL_MS: "200", LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
    });
    service = await startService({ ...env.config, PORT: port }, quietLog);
    await waitFor("the example shop", async () => (await fetch(shopBase).catch(() => null))?.ok === true, 15_000, 100);
    await mkdir(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    shop?.kill();
    await shop?.exited;
    await browser?.close();
    await service?.stop();
    await env?.close();
  });

  test("queue, hold, 'Continue to checkout', the order at the shop, paid: back in the waiting room with the booking reference; booked with the shop's order_ref", async () => {
    const type = await createType("Paid Concert", "Stalls", 5, 2);
    const holder = await apiJoin("ahead", type); // someone ahead: the buyer queues first
    await statusBecomes(holder, "reserved");
    await patchType(type, { max_active_holds: 1 }); // one hold at a time: the buyer waits for the one ahead
    const context = await browser.newContext({ locale: "en-US" });
    const page = await openPage(context);
    expect(await page.locator(`[data-ticket-type="${type}"] .price`).innerText()).toBe("€42.50");
    await page.getByRole("radio", { name: /^Stalls/ }).check();
    await page.getByLabel("How many tickets").fill("2");
    await page.getByLabel("Your name or e-mail").fill("pia@example.com");
    await page.getByRole("button", { name: "Join the queue" }).click();
    await seen(page, "You are next in the queue");
    await api("POST", "/reservation/release", { token: holder });

    await seen(page, "Your tickets are held for you");
    const token = await storedToken(page, type);
    expect(await page.locator("#place-total").innerText()).toBe("Total €85.00 (2 × €42.50)");
    expect(await page.locator("#time-left-label").innerText()).toBe("Time left to pay");
    const checkout = page.getByRole("link", { name: "Continue to checkout" });
    expect(await checkout.getAttribute("href")).toStartWith(`${shopBase}/checkout?hold=`);
    expect(await page.locator("#confirm").isHidden()).toBe(true);
    expect(await page.locator("#pay-at-shop").isHidden()).toBe(true);
    expect(await page.getByRole("button", { name: "Release" }).isVisible()).toBe(true);
    await page.keyboard.press("Tab"); // from the headline to the checkout, the main action
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("checkout");
    await shot(page, "checkout-01-held");

    await page.keyboard.press("Enter");
    await page.waitForURL((url) => url.href.startsWith(`${shopBase}/checkout?hold=`));
    await seen(page, "2 × Stalls");
    await seen(page, "Paid Concert");
    expect(await page.locator("#amount").innerText()).toBe("€85.00");
    await shot(page, "checkout-02-shop");
    await page.getByRole("button", { name: "Pay €85.00" }).click();

    await page.waitForURL(`${base}/`);
    await seen(page, "Booked!");
    const ref = await page.locator("#booking-ref").innerText();
    expect(ref).toMatch(BOOKING_REF);
    expect(await page.locator("#booking").innerText()).toBe(`Booking reference ${ref}`);
    expect(await page.locator("#place-headline").getAttribute("aria-describedby")).toBe("booking");
    expect(await page.locator("#place-total").innerText()).toBe("Total €85.00 (2 × €42.50)");
    await shot(page, "checkout-03-booked");

    const [booking] = await env.sql`
      SELECT b.booking_ref, b.order_ref, b.amount::float8 AS amount, b.currency, b.quantity, b.user_id, b.status, r.extended_seconds
      FROM bookings b JOIN reservations r ON r.token = b.token WHERE b.token = ${token}`;
    expect(booking).toMatchObject({
      booking_ref: ref, amount: 85, currency: "EUR", quantity: 2, user_id: "pia@example.com", status: "confirmed",
      extended_seconds: EXTEND_SECONDS, // the shop's "3-D Secure" moved the deadline on first
    });
    expect(booking!.order_ref).toStartWith("DEMO-");
    // the service's own word on it, as the shop reads it
    const hold = await api("GET", `/shop/holds/${encodeURIComponent(token)}`, undefined, SHOP_AUTH);
    expect(hold.body).toMatchObject({ status: "confirmed", booking_ref: ref });
    await context.close();
    await env.expectInvariants();
    expect(pageErrors).toEqual([]);
  }, 90_000);

  test("a failed payment keeps the hold: 'Try again' pays, one booking under the one order", async () => {
    const type = await createType("Paid Theatre", "Circle", 5, 1);
    const context = await browser.newContext({ locale: "en-US" });
    const page = await joinAndHold(await openPage(context), "Circle", "quinn");
    const token = await storedToken(page, type);
    const before = Date.parse((await statusOf(token)).expires_at);

    const checkout = page.getByRole("link", { name: "Continue to checkout" });
    const link = (await checkout.getAttribute("href"))!;
    await checkout.click();
    await page.getByLabel("Make the payment fail").check();
    await page.getByRole("button", { name: "Pay €42.50" }).click();
    await seen(page, "Payment failed");
    await seen(page, "Your bank declined the payment");
    await shot(page, "checkout-04-failed");
    const held = await statusOf(token);
    expect(held.status).toBe("reserved");
    expect(Date.parse(held.expires_at)).toBe(before + EXTEND_SECONDS * 1000); // the attempt's extension stands

    expect(await page.getByLabel("Make the payment fail").isChecked()).toBe(false);
    await page.getByRole("button", { name: "Try again €42.50" }).click();
    await page.waitForURL(`${base}/`);
    await seen(page, "Booked!");
    const ref = await page.locator("#booking-ref").innerText();
    const bookings = await env.sql`SELECT booking_ref, order_ref FROM bookings WHERE token = ${token}`;
    expect(bookings).toHaveLength(1);
    expect(bookings[0]!.booking_ref).toBe(ref);

    // the shop's link again (from the history, say): no second payment; the shop sends the buyer back
    await page.goto(link);
    await page.waitForURL(`${base}/`);
    await seen(page, "Booked!");
    expect(await env.sql`SELECT id FROM bookings WHERE token = ${token}`).toHaveLength(1);
    await context.close();
    expect(pageErrors).toEqual([]);
  }, 90_000);

  test("a failed payment left alone: the waiting room still shows the hold (Release refused while the shop pays), it lapses, the shop says hold_expired", async () => {
    const type = await createType("Paid Opera", "Box", 1, 1, { hold_seconds: 10 });
    const context = await browser.newContext({ locale: "en-US" });
    const room = await joinAndHold(await openPage(context), "Box", "rosa");
    const token = await storedToken(room, type);
    const shopTab = await context.newPage();
    await shopTab.goto(await room.getByRole("link", { name: "Continue to checkout" }).getAttribute("href") as string);
    await shopTab.getByLabel("Make the payment fail").check();
    await shopTab.getByRole("button", { name: "Pay €42.50" }).click();
    await seen(shopTab, "Payment failed");

    // the waiting room (another tab) still holds the tickets, and still offers the checkout
    expect((await statusOf(token)).status).toBe("reserved");
    expect(await room.getByRole("link", { name: "Continue to checkout" }).isVisible()).toBe(true);
    // the shop began a payment: the buyer cannot give the tickets back under it
    await room.getByRole("button", { name: "Release" }).click();
    await room.getByRole("button", { name: "Yes, give them back" }).click();
    await seen(room, "Your payment is being taken at the checkout");
    expect((await statusOf(token)).status).toBe("reserved");
    await shot(room, "checkout-05-payment-in-progress");

    await seen(room, "Your hold expired", 30_000);
    await waitFor("the ticket back in stock", async () => (await typeListing(type))?.stock === 1, 5_000, 100);
    await shot(room, "checkout-06-lapsed");

    // at the shop, trying again now: the service's refusal, said plainly, and the way back
    await shopTab.getByRole("button", { name: "Try again €42.50" }).click();
    await seen(shopTab, "410 hold_expired");
    await shot(shopTab, "checkout-07-shop-expired");
    expect(await env.sql`SELECT id FROM bookings WHERE token = ${token}`).toHaveLength(0);
    await shopTab.getByRole("link", { name: "Back to the waiting room" }).click();
    await seen(shopTab, "Your hold expired");
    await context.close();
    await env.expectInvariants();
    expect(pageErrors).toEqual([]);
  }, 90_000);

  test("a cancelled booking: its ticket goes to the next person waiting, whose page offers the checkout; the booking's page says cancelled", async () => {
    // A books one ticket; C holds the other; B waits behind C's hold (one ticket alone would be
    // sold out once A booked, and B told so: nobody would be left waiting)
    const type = await createType("Paid Gala", "Table", 2, 1);
    const contextA = await browser.newContext({ locale: "en-US" });
    const a = await joinAndHold(await openPage(contextA), "Table", "alma");
    await a.getByRole("link", { name: "Continue to checkout" }).click();
    await a.getByRole("button", { name: "Pay €42.50" }).click();
    await seen(a, "Booked!");
    const ref = await a.locator("#booking-ref").innerText();
    const carol = await apiJoin("carol", type);
    await statusBecomes(carol, "reserved");

    const contextB = await browser.newContext({ locale: "en-US" });
    const b = await openPage(contextB);
    await b.getByRole("radio", { name: /^Table/ }).check();
    await b.getByLabel("Your name or e-mail").fill("bo");
    await b.getByRole("button", { name: "Join the queue" }).click();
    await seen(b, "All tickets are held by people ahead of you");

    const [{ id }] = await env.sql`SELECT id FROM bookings WHERE booking_ref = ${ref}`;
    const cancelled = await api("POST", `/shop/bookings/${id}/cancel`, { reason: "refund" }, SHOP_AUTH);
    expect(cancelled.status).toBe(200);

    await seen(b, "Your tickets are held for you");
    expect(await b.getByRole("link", { name: "Continue to checkout" }).isVisible()).toBe(true);
    await shot(b, "checkout-08-served-after-cancel");

    await a.reload();
    await seen(a, "Booking cancelled");
    expect(await a.locator("#place-text").innerText()).toBe((await statusOf(await storedToken(a, type))).message);
    expect(await a.locator("#booking").innerText()).toBe(`Booking reference ${ref}`);
    await shot(a, "checkout-09-cancelled");
    await contextA.close();
    await contextB.close();
    await env.expectInvariants();
    expect(pageErrors).toEqual([]);
  }, 90_000);

  test("who books decides the held card: the checkout link with CHECKOUT_URL, a plain line without it, Confirm in buyer mode", async () => {
    // two more instances on the same stores, configured otherwise
    const shopOnly = await startService({ ...env.config, PORT: 0, CHECKOUT_URL: undefined } as typeof env.config, quietLog);
    const buyer = await startService({ ...env.config, PORT: 0, CONFIRM_BY: "buyer", CHECKOUT_URL: undefined } as typeof env.config, quietLog);
    try {
      await createType("Free Fair", "Entry", 5, 1);
      const context = await browser.newContext({ locale: "en-US" });

      const atShop = browserKit(() => `http://127.0.0.1:${shopOnly.port}`, ADMIN_TOKEN, pageErrors);
      const shopPage = await joinAndHold(await atShop.openPage(context), "Entry", "sam");
      expect(await shopPage.locator("#pay-at-shop").innerText()).toStartWith("Payment is completed at the shop");
      expect(await shopPage.locator("#confirm").isHidden()).toBe(true);
      expect(await shopPage.locator("#checkout").isHidden()).toBe(true);
      expect(await shopPage.locator("#time-left-label").innerText()).toBe("Time left to pay");
      await shot(shopPage, "checkout-10-pay-at-shop");

      const asBuyer = browserKit(() => `http://127.0.0.1:${buyer.port}`, ADMIN_TOKEN, pageErrors);
      const buyerPage = await joinAndHold(await asBuyer.openPage(context), "Entry", "tess");
      expect(await buyerPage.locator("#checkout").isHidden()).toBe(true);
      expect(await buyerPage.locator("#pay-at-shop").isHidden()).toBe(true);
      expect(await buyerPage.locator("#time-left-label").innerText()).toBe("Time left to confirm");
      await buyerPage.getByRole("button", { name: "Confirm" }).click();
      await seen(buyerPage, "Booked!");
      expect(await buyerPage.locator("#booking-ref").innerText()).toMatch(BOOKING_REF);
      await context.close();
      expect(pageErrors).toEqual([]);
    } finally {
      await Promise.all([shopOnly.stop(), buyer.stop()]);
    }
  }, 90_000);
});

/** Joins `typeName` as `user` on `page` (one ticket) and waits for the hold. */
async function joinAndHold(page: Page, typeName: string, user: string): Promise<Page> {
  await page.getByRole("radio", { name: new RegExp(`^${typeName}`) }).check();
  await page.getByLabel("Your name or e-mail").fill(user);
  await page.getByRole("button", { name: "Join the queue" }).click();
  await seen(page, "Your tickets are held for you");
  return page;
}
