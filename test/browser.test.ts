// The waiting room (GET /) in a real browser: the system's Chromium, driven by playwright-core,
// against the real service (src/server.ts, workers and all) on a Redis server of this file's
// own (so it can be stopped) and a PostgreSQL database of its own. Everything is checked on
// what the page shows, not on how its updates arrive (event stream or polling).
// A screenshot of each state goes to screenshots/ (git-ignored).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { chromium, type Browser } from "playwright-core";
import { LocalRedis, redisAnswers } from "../scripts/local-servers";
import { startService, type RunningService } from "../src/server";
import { browserKit, browserSuite, CHROMIUM, expectNoSidewaysScroll, seen, SEEN_MS, shot, SHOTS, storedToken } from "./browser-kit";
import { createTestEnv, quietLog, waitFor, type TestEnv } from "./helpers";

const ADMIN_TOKEN = "browser-test-admin-token-0123456789abcdef";
/** Long enough for the queue scenario's holds on a loaded machine, short enough to watch one lapse. */
const TTL_SECONDS = 40;

let redis: LocalRedis;
let env: TestEnv;
let service: RunningService;
let browser: Browser;
let base: string;
const pageErrors: string[] = [];
const { api, createType, patchType, apiJoin, release, statusBecomes, typeListing, openPage } =
  browserKit(() => base, ADMIN_TOKEN, pageErrors);

browserSuite("the waiting room in Chromium", () => {
  beforeAll(async () => {
    // first: a Chromium that cannot start fails the suite at once
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    redis = await LocalRedis.start();
    env = await createTestEnv({
      REDIS_URL: redis.url, RESERVATION_TTL_SECONDS: String(TTL_SECONDS), ADMIN_TOKEN, CLEANER_INTERVAL_MS: "200",
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error", // the workers' log
    });
    service = await startService({ ...env.config, PORT: 0 }, quietLog);
    base = `http://127.0.0.1:${service.port}`;
    await mkdir(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await env?.close();
    await redis?.stop();
  });

  test("a buyer behind others: position falls live, a reload and a second tab keep the place, the hold, confirm, the booking", async () => {
    const type = await createType("Spring Concert", "Stalls", 2, 2);
    const holders = [await apiJoin("holder-1", type), await apiJoin("holder-2", type)];
    for (const token of holders) await statusBecomes(token, "reserved");
    const waiters = [await apiJoin("waiter-1", type), await apiJoin("waiter-2", type)];

    const context = await browser.newContext({ viewport: { width: 720, height: 600 } });
    const page = await openPage(context);
    await shot(page, "01-events");
    await page.getByRole("radio", { name: /^Stalls/ }).check();
    await page.getByLabel("How many tickets").fill("1");
    await page.getByLabel("Your name or e-mail").fill("dana@example.com");
    await page.getByLabel("Your name or e-mail").press("Enter"); // the keyboard submits
    await seen(page, "You are number 3 in the queue");
    await shot(page, "02-queued");
    const token = await storedToken(page, type);

    await page.reload();
    await seen(page, "You are number 3 in the queue");
    expect(await storedToken(page, type)).toBe(token);

    const secondTab = await openPage(context);
    await seen(secondTab, "You are number 3 in the queue");
    expect(await secondTab.locator("#choose").isHidden()).toBe(true);
    expect(await storedToken(secondTab, type)).toBe(token);
    await shot(secondTab, "03-second-tab");
    // one place, not two: the next person to join lands right behind it
    const probe = await api("POST", "/queue/join", { user_id: "probe", ticket_type_id: type, quantity: 1 });
    expect(probe.body.position).toBe(4);
    await api("POST", "/reservation/release", { token: probe.body.queue_token });

    // another browser (no stored token) joining as the same person is told, in words
    const elsewhere = await browser.newContext();
    const other = await openPage(elsewhere);
    await other.getByRole("radio", { name: /^Stalls/ }).check();
    await other.getByLabel("Your name or e-mail").fill("dana@example.com");
    await other.getByRole("button", { name: "Join the queue" }).click();
    await seen(other, "You already have a place in this queue, from another browser or device");
    await shot(other, "04-already-queued");
    await elsewhere.close();

    await page.evaluate(() => ((window as any).notReloaded = true));
    await release(holders[0]!); // waiter-1 is served
    await seen(page, "You are number 2 in the queue");
    await shot(page, "05-position-falling");
    await release(holders[1]!); // waiter-2 is served
    await seen(page, "You are next in the queue");
    await statusBecomes(waiters[0]!, "reserved");
    await release(waiters[0]!); // the buyer's turn

    await seen(page, "Your tickets are held for you");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("place-headline");
    expect(await page.locator("#countdown").innerText()).toMatch(/^0:[0-4]\d$/);
    expect(await page.locator("#place-tickets").innerText()).toBe("1 × Stalls, Spring Concert");
    await shot(page, "06-held");

    await page.keyboard.press("Tab"); // from the notice to Confirm
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("confirm");
    await page.keyboard.press("Enter");
    await seen(page, "Booking reference");
    const bookingRef = await page.locator("#booking-ref").innerText();
    await shot(page, "07-confirmed");
    expect(await page.evaluate(() => (window as any).notReloaded)).toBe(true);

    const [booking] = await env.sql`SELECT token, user_id, ticket_type_id, quantity FROM bookings WHERE booking_ref = ${bookingRef}`;
    expect(booking).toMatchObject({ token, user_id: "dana@example.com", ticket_type_id: type, quantity: 1 });
    await seen(secondTab, "Booked!");
    await context.close();
  }, 90_000);

  test("at phone width: no sideways scrolling; a hold left alone expires, the page says so and the tickets are back", async () => {
    const type = await createType("Comedy Night", "Balcony", 1, 1);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await openPage(context);
    await expectNoSidewaysScroll(page);
    await shot(page, "08-phone-events");

    await page.getByRole("radio", { name: /^Balcony/ }).check();
    await page.getByLabel("Your name or e-mail").fill("eli");
    await page.getByRole("button", { name: "Join the queue" }).click();
    await seen(page, "Your tickets are held for you");
    await expectNoSidewaysScroll(page);
    await shot(page, "09-phone-held");
    expect(await page.evaluate(() => document.querySelector('[aria-live]#position') !== null)).toBe(true);

    await seen(page, "Your hold expired", (TTL_SECONDS + 15) * 1000);
    await shot(page, "10-expired");
    // the page may say so first (a stream checks a hold past its deadline itself); the cleaner
    // then returns the ticket, and the list shows it within its second of caching
    await waitFor("the ticket back in stock", async () => (await typeListing(type))?.stock === 1, 5_000, 100);
    expect(await typeListing(type)).toMatchObject({ stock: 1, status: "on_sale" });

    await page.getByRole("button", { name: "Join again" }).click();
    const choice = page.getByRole("radio", { name: /^Balcony/ });
    expect(await choice.isEnabled()).toBe(true);
    expect(await page.locator(`[data-ticket-type="${type}"] .state`).innerText()).toBe("On sale");
    await context.close();
  }, 90_000);

  test("a buyer still waiting is told sold out when the last tickets are booked", async () => {
    const type = await createType("Jazz Brunch", "Box", 1, 1);
    const holder = await apiJoin("box-holder", type);
    await statusBecomes(holder, "reserved");

    const context = await browser.newContext();
    const page = await openPage(context);
    await page.getByRole("radio", { name: /^Box/ }).check();
    await page.getByLabel("Your name or e-mail").fill("fay");
    await page.getByRole("button", { name: "Join the queue" }).click();
    await seen(page, "You are next in the queue");
    // the only ticket is held: the wait is the hold's, not a guess from an old serving rate
    await seen(page, "All tickets are held by people ahead of you; the next may come back by");
    await shot(page, "11a-held-by-others");
    // the operator moves the sale's start into the future: the place is kept, and the page says so
    await patchType(type, { sale_starts_at: new Date(Date.now() + 3_600_000).toISOString() });
    await seen(page, "The sale was moved to");
    expect(await page.locator("#place-headline").innerText()).toBe("The sale was moved");
    expect(await page.locator("#position").innerText()).toBe("You are next in the queue");
    await shot(page, "11b-sale-moved");
    await patchType(type, { sale_starts_at: null });
    await seen(page, "All tickets are held by people ahead of you");

    expect((await api("POST", "/reservation/confirm", { token: holder })).status).toBe(200);
    await seen(page, "Sorry: there are no tickets left for you.");
    expect(await page.locator("#place-headline").innerText()).toBe("Sold out");
    await shot(page, "11-sold-out");

    await page.getByRole("button", { name: "Choose other tickets" }).click();
    await seen(page, "Sold out", SEEN_MS, `[data-ticket-type="${type}"] .state`);
    expect(await page.getByRole("radio", { name: /^Box/ }).isDisabled()).toBe(true);
    await context.close();
  }, 60_000);

  test("a waiting line before the sale: the list says it is open, the card counts down, leaving and releasing ask first", async () => {
    const type = await createType("Opera Gala", "Circle", 1, 1, { sale_starts_at: new Date(Date.now() + 4 * 60_000).toISOString() });
    const context = await browser.newContext();
    const page = await openPage(context);
    await shot(page, "14-waiting-line-listed");
    expect(await page.locator(`[data-ticket-type="${type}"] .state`).innerText())
      .toMatch(/^Waiting line open — sale starts at .*\d:\d\d( [AP]M)? \(in [34] min\)$/); // the browser's own clock
    await page.getByRole("radio", { name: /^Circle/ }).check();
    await page.getByLabel("Your name or e-mail").fill("hana");
    await page.getByRole("button", { name: "Join the waiting line" }).click();
    await seen(page, "Waiting for the sale to start");
    expect(await page.locator("#sale-countdown").innerText()).toMatch(/^[34]:\d\d$/);
    await shot(page, "14b-waiting-line");
    const first = await storedToken(page, type);

    // Leave asks first: No keeps the place (and the focus goes back), Yes leaves
    await page.getByRole("button", { name: "Leave the waiting line" }).click();
    await seen(page, "Leave the waiting line?");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("ask-no");
    await shot(page, "15-leave-asked");
    await page.getByRole("button", { name: "No, stay" }).click();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("leave");
    expect((await api("GET", `/reservation/status?token=${encodeURIComponent(first)}`)).body.status).toBe("waiting_for_sale");
    await page.getByRole("button", { name: "Leave the waiting line" }).click();
    await page.getByRole("button", { name: "Yes, leave" }).click();
    await seen(page, "You gave your place back");
    await statusBecomes(first, "released");

    await page.getByRole("button", { name: "Join again" }).click();
    await page.getByRole("button", { name: "Join the waiting line" }).click();
    await seen(page, "Waiting for the sale to start");
    const token = await storedToken(page, type);
    expect(token).not.toBe(first);
    await patchType(type, { sale_starts_at: new Date(Date.now() + 3_000).toISOString() }); // the sale comes early
    await seen(page, "Your tickets are held for you");

    // Release asks first: No keeps the hold, Yes gives it back
    await page.getByRole("button", { name: "Release" }).click();
    await seen(page, "Give these tickets back?");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("ask-no");
    expect(await page.locator("#confirm").isHidden()).toBe(true);
    await shot(page, "16-release-asked");
    await page.keyboard.press("Escape"); // as No
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("release");
    expect(await page.locator("#ask").isHidden()).toBe(true);
    expect((await api("GET", `/reservation/status?token=${encodeURIComponent(token)}`)).body.status).toBe("reserved");
    await page.getByRole("button", { name: "Release" }).click();
    await page.getByRole("button", { name: "No, keep them" }).click();
    expect((await api("GET", `/reservation/status?token=${encodeURIComponent(token)}`)).body.status).toBe("reserved");
    await page.getByRole("button", { name: "Release" }).click();
    await page.getByRole("button", { name: "Yes, give them back" }).click();
    await seen(page, "You gave your place back");
    const [hold] = await env.sql`SELECT status FROM reservations WHERE token = ${token}`;
    expect(hold!.status).toBe("released");
    await context.close();
  }, 60_000);

  test("Redis stopped: the page says the service is busy and carries on by itself when it is back", async () => {
    await createType("Gallery Opening", "Gallery", 5, 2);
    const context = await browser.newContext();
    const page = await openPage(context);
    await page.getByRole("radio", { name: /^Gallery/ }).check();
    await page.getByLabel("Your name or e-mail").fill("gus");

    const back = redis.restart(6_000); // down now, up again (empty) in 6 s
    await waitFor("Redis to stop", async () => !(await redisAnswers(redis.url)), 5_000, 50);
    await page.getByRole("button", { name: "Join the queue" }).click();
    await seen(page, "The service is busy right now. Trying again in 2 seconds");
    await shot(page, "12-busy");

    await back;
    await seen(page, "Your tickets are held for you", 30_000);
    expect(await page.locator("#notice").isHidden()).toBe(true);
    await shot(page, "13-recovered");
    await context.close();
    await env.expectInvariants();
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
