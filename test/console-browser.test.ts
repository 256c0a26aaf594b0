// The operator's console (GET /admin/) in a real browser: the system's Chromium, driven by
// playwright-core, against the real service (src/server.ts, workers and all) on real Redis and
// PostgreSQL. A whole sale from the page: sign in, create an event and a type, watch buyers
// (who join through the API) move the figures and charts, pause and resume, a refused capacity
// cut, the bookings and their CSV, a postponed start asked first. Screenshots of each state go to screenshots/ (git-ignored);
// docs/console-*.png are copies of them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdir, readFile } from "node:fs/promises";
import { join as joinPath } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startService, type RunningService } from "../src/server";
import { browserKit, browserSuite, CHROMIUM, expectNoSidewaysScroll, seen, shot, SHOTS } from "./browser-kit";
import { createTestEnv, quietLog, waitFor, type TestEnv } from "./helpers";

const ADMIN_TOKEN = "console-test-admin-token-0123456789abcdef";
/** The promise: a join shows on the page within 2 s (a reading a second, and its drawing). */
const MOVES_MS = 2_000;

let env: TestEnv;
let service: RunningService;
let browser: Browser;
let base: string;
const pageErrors: string[] = [];
const { api, apiJoin, statusBecomes } = browserKit(() => base, ADMIN_TOKEN, pageErrors);
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function openConsole(page: Page) {
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text()); // a refused script, style or image
  });
  await page.goto(`${base}/admin/`);
}


/** A chart's latest value for a type, as its text alternative carries it. */
const latest = async (page: Page, measure: string, typeId: number) =>
  JSON.parse((await page.locator(`[data-measure=${measure}]`).getAttribute("data-latest")) ?? "{}")[typeId] ?? null;

/** Waits up to 2 s for a reading of the page to be `expected`. */
async function becomes(read: () => Promise<unknown>, expected: unknown) {
  let last: unknown;
  await waitFor(`the page to show ${JSON.stringify(expected)}`, async () => (last = await read()) === expected, MOVES_MS, 50)
    .catch(() => expect(last).toBe(expected));
}

/** A cell of the type's row in the figures table, by its column's heading. */
async function cell(page: Page, typeId: number, heading: string): Promise<string> {
  const headings = await page.locator("#figures thead th").allInnerTexts();
  return page.locator(`#figures tr[data-type-id="${typeId}"] > *`).nth(headings.indexOf(heading)).innerText();
}

browserSuite("the operator's console in Chromium", () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    env = await createTestEnv({
      ADMIN_TOKEN, RESERVATION_TTL_SECONDS: "300", CLEANER_INTERVAL_MS: "200", LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
    });
    service = await startService({ ...env.config, PORT: 0 }, quietLog);
    base = `http://127.0.0.1:${service.port}`;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await env?.close();
  });

  test("sign in: a wrong token is refused in words; the right one is kept in this tab's sessionStorage only", async () => {
    const context = await browser.newContext({ viewport: { width: 820, height: 700 } });
    const page = await context.newPage();
    await openConsole(page);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
    await page.getByLabel("Admin token").fill("not-the-token");
    await page.getByLabel("Admin token").press("Enter");
    await seen(page, "That admin token is wrong.");
    await shot(page, "console-sign-in-refused");
    expect(await page.evaluate(() => sessionStorage.length + localStorage.length)).toBe(0);

    await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await seen(page, "No events yet: create one.");
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([ADMIN_TOKEN]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(page.url()).toBe(`${base}/admin/`);
    await page.reload(); // the tab keeps its session
    await seen(page, "No events yet: create one.");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Admin token").waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await context.close();
    expect(pageErrors).toEqual([]);
  }, 30_000);

  test("a whole sale from the page: create, watch buyers move the figures and charts, pause, resume, a refused cut, the bookings' CSV", async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    await openConsole(page);
    await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
    await page.getByLabel("Admin token").press("Enter");
    await seen(page, "No events yet: create one.");

    // an event and a type, through the page; a name is shown as text, never as HTML
    await page.getByText("New event").click();
    const eventForm = page.locator("#event-form");
    await eventForm.getByLabel("Name").fill("Spring Gala");
    await eventForm.getByLabel("Venue").fill("Main Hall <i>east</i>");
    await page.getByRole("button", { name: "Create the event" }).click();
    await page.getByRole("heading", { name: "Spring Gala" }).waitFor();
    await seen(page, "Main Hall <i>east</i> · prices in EUR");
    // the event edited: only what changed is sent
    await page.getByText("Edit the event").click();
    const editEvent = page.locator("#edit-event-form");
    expect(await editEvent.getByLabel("Venue").inputValue()).toBe("Main Hall <i>east</i>");
    await editEvent.getByLabel("Venue").fill("Main Hall, east");
    await editEvent.getByLabel("Currency").fill("eur");
    await page.getByRole("button", { name: "Save the event" }).click();
    await seen(page, "expected an ISO 4217 currency code"); // the API's refusal, in its words
    await editEvent.getByLabel("Currency").fill("EUR");
    await page.getByRole("button", { name: "Save the event" }).click();
    await seen(page, "Main Hall, east · prices in EUR");
    const form = page.locator("#type-form");
    await form.getByLabel("Name").fill("Stalls");
    await form.getByLabel("Price").fill("25");
    await form.getByLabel("Capacity").fill("10");
    await form.getByLabel("Per-person limit").fill("2");
    await form.getByLabel("Most holds out at once").fill("2"); // so buyers wait in the queue
    await form.getByRole("button", { name: "Add the ticket type" }).click();
    await seen(page, "Stalls: added, on sale now.");
    const [event] = (await api("GET", "/admin/events", undefined, ADMIN)).body;
    const typeId: number = event.ticket_types[0].id;
    expect(event.ticket_types[0]).toMatchObject({ name: "Stalls", price: 25, capacity: 10, per_user_limit: 2, max_active_holds: 2 });

    // buyers join through the API: two are served, four wait; the page shows it within 2 s
    const tokens: string[] = [];
    for (let i = 1; i <= 6; i++) tokens.push(await apiJoin(`buyer-${i}`, typeId));
    await statusBecomes(tokens[1]!, "reserved");
    const joined = Date.now();
    await page.waitForFunction((id) => {
      const queued = JSON.parse(document.querySelector("[data-measure=queued]")?.getAttribute("data-latest") ?? "{}")[id];
      return queued === 4;
    }, typeId, { timeout: MOVES_MS });
    expect(Date.now() - joined).toBeLessThanOrEqual(MOVES_MS);
    expect(await cell(page, typeId, "Queued")).toBe("4");
    // a reading may fall between the queue's pop and the holds' commit: the next one has them
    await becomes(() => cell(page, typeId, "Held (holds)"), "2 (2)");
    expect(await cell(page, typeId, "Stock")).toBe("8");
    expect(await cell(page, typeId, "Redis")).toBe("ok");
    expect(await page.locator("[data-measure=queued]").getAttribute("aria-label")).toContain("Latest: Stalls 4");

    // one buyer confirms: a booking; the next in line is served
    expect((await api("POST", "/reservation/confirm", { token: tokens[0] })).status).toBe(200);
    await statusBecomes(tokens[2]!, "reserved");
    await becomes(() => cell(page, typeId, "Confirmed"), "1");
    await shot(page, "console-joined");

    // pause, by keyboard: it asks first. The readings update the row in place: the focused
    // button is the same element after a reading (not a new one given the focus back)
    await page.getByRole("button", { name: "Pause Stalls" }).focus();
    await page.evaluate(() => ((document.activeElement as HTMLElement & { mark?: boolean }).mark = true));
    const readAt = await page.locator("#figures-at").innerText();
    await page.waitForFunction((before) => document.getElementById("figures-at")!.textContent !== before, readAt, { timeout: MOVES_MS });
    expect(await page.evaluate(() => (document.activeElement as HTMLElement & { mark?: boolean }).mark === true)).toBe(true);
    await page.keyboard.press("Enter");
    await seen(page, "Pause the sale of Stalls?");
    await shot(page, "console-pause-asked");
    await page.keyboard.press("Shift+Tab"); // from Cancel back to Pause
    await page.keyboard.press("Enter");
    await seen(page, "Stalls: saved.");
    await becomes(() => cell(page, typeId, "Sale"), "paused");
    // a hold given back makes room, yet nobody is served while paused: the chart stays at 0
    expect((await api("POST", "/reservation/release", { token: tokens[1] })).status).toBe(200);
    await page.waitForTimeout(2_500);
    expect(await latest(page, "granted", typeId)).toBe(0);
    expect(await latest(page, "queued", typeId)).toBe(3);
    expect(await cell(page, typeId, "Held (holds)")).toBe("1 (1)");
    await shot(page, "console-paused");

    // resume: no question; serving starts again
    await page.getByRole("button", { name: "Resume Stalls" }).click();
    await statusBecomes(tokens[3]!, "reserved");
    await becomes(() => latest(page, "queued", typeId), 2);
    await becomes(() => cell(page, typeId, "Sale"), "on sale");

    // a capacity cut below what is sold asks first, then is refused in words
    await page.getByRole("button", { name: "Edit Stalls" }).click();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("type-name");
    await form.getByLabel("Capacity").fill("1");
    await form.getByRole("button", { name: "Save the changes" }).click();
    await seen(page, "Cut the capacity of Stalls from 10 to 1?");
    await page.getByRole("button", { name: "Cut the capacity" }).click();
    const sold = 10 - (await api("GET", `/admin/ticket-types/${typeId}`, undefined, ADMIN)).body.stock;
    await seen(page, `The capacity cannot go below the ${sold} tickets already sold (held or booked). Nothing was changed.`);
    await shot(page, "console-capacity-refused");
    // a change that is allowed: capacity up, a per-minute limit
    await form.getByLabel("Capacity").fill("12");
    await form.getByLabel("Most holds a minute").fill("600");
    await form.getByRole("button", { name: "Save the changes" }).click();
    await seen(page, "Stalls: saved.");
    expect((await api("GET", `/admin/ticket-types/${typeId}`, undefined, ADMIN)).body).toMatchObject({ capacity: 12, holds_per_minute: 600 });

    // the bookings, and the CSV download
    expect((await api("POST", "/reservation/confirm", { token: tokens[2] })).status).toBe(200);
    await page.getByRole("button", { name: "Refresh" }).click();
    await seen(page, "Page 1: 2 bookings.");
    const refs = (await env.sql`SELECT booking_ref FROM bookings ORDER BY id`).map((r) => r.booking_ref as string);
    for (const ref of refs) await seen(page, ref, 2_000, "#bookings");
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
    expect(download.suggestedFilename()).toBe(`event-${event.id}-bookings.csv`);
    const csv = await readFile((await download.path())!, "utf8");
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toStartWith("booking_id,booking_ref,");
    expect(lines).toHaveLength(3);
    for (const ref of refs) expect(csv).toContain(`"${ref}"`);
    expect(csv).toContain('"buyer-1"');
    await shot(page, "console-bookings");
    await page.evaluate(() => document.querySelectorAll(".scroll").forEach((box) => (box.scrollLeft = 0)));
    await page.evaluate(() => window.scrollTo(0, document.getElementById("event")!.offsetTop - 8));
    await page.screenshot({ path: joinPath(SHOTS, "console-live.png") }); // the README's (docs/ keeps a copy): the figures and charts in view
    expect(pageErrors).toEqual([]);

    // a postponed start asks first: Cancel leaves the type as it was; the yes moves the start
    await page.getByRole("button", { name: "Edit Stalls" }).click();
    const later = await page.evaluate(() => {
      const d = new Date(Date.now() + 2 * 3600_000);
      const two = (n: number) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
    });
    await form.getByLabel("Sale starts (local time)").fill(later);
    await form.getByRole("button", { name: "Save the changes" }).click();
    await seen(page, "Postpone the sale of Stalls to ");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("ask-no"); // the safe answer first
    await page.getByRole("button", { name: "Cancel", exact: true }).click();
    expect(await page.locator("#ask").evaluate((dialog: HTMLDialogElement) => dialog.open)).toBe(false);
    expect((await api("GET", "/admin/events", undefined, ADMIN)).body[0].ticket_types[0].sale_starts_at).toBeNull();
    expect(await cell(page, typeId, "Sale")).toBe("on sale");
    await form.getByRole("button", { name: "Save the changes" }).click(); // still editing: asked again
    await page.getByRole("button", { name: "Postpone", exact: true }).click();
    await seen(page, "Stalls: saved.");
    const [type] = (await api("GET", "/admin/events", undefined, ADMIN)).body[0].ticket_types;
    expect(type.sale_starts_at).toBe(await page.evaluate((local) => new Date(local).toISOString(), later));
    await becomes(async () => (await cell(page, typeId, "Sale")).startsWith("starts "), true);

    // after all those changes (each reads the figures at once), still one reading a second
    let readings = 0;
    page.on("request", (request) => void (request.url().endsWith(`/admin/events/${event.id}/figures`) && readings++));
    await page.waitForTimeout(2_000);
    expect(readings).toBeGreaterThanOrEqual(1);
    expect(readings).toBeLessThanOrEqual(3);

    // at tablet width: the page never scrolls sideways (wide tables scroll in their box)
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.waitForTimeout(300);
    await expectNoSidewaysScroll(page);
    await shot(page, "console-tablet");
    await context.close();
  }, 60_000);
});
