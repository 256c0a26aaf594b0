// What the browser tests share: the system's Chromium (skipped loudly where there is none,
// never in CI), and helpers that drive one running service: its API, and its page as a buyer
// sees it. Checks are on what the page shows, not on how its updates arrive.
import { describe, expect } from "bun:test";
import { existsSync } from "node:fs";
import { join as joinPath } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { waitFor } from "./helpers";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** CI (and REQUIRE_BROWSER=1) must run these: there a missing Chromium fails them, never skips them. */
const REQUIRED = process.env.REQUIRE_BROWSER === "1" || process.env.CI === "true";
const PRESENT = existsSync(CHROMIUM);
if (!PRESENT && !REQUIRED) {
  console.warn(
    `\n${"!".repeat(78)}\n!! BROWSER TESTS SKIPPED: no Chromium at ${CHROMIUM}.\n` +
      `!! Install it (sudo apt-get install -y chromium) or set CHROMIUM_PATH; CI installs it.\n${"!".repeat(78)}\n`,
  );
}
export const browserSuite = PRESENT || REQUIRED ? describe : describe.skip;

/** Where screenshots of each state go (git-ignored). */
export const SHOTS = joinPath(import.meta.dir, "..", "screenshots");
export const SEEN_MS = 15_000;

/**
 * Helpers bound to one service: `base()` is its address once it is up (read at each call, so
 * the kit can be made before the service starts), `adminToken` its ADMIN_TOKEN, and every
 * page error lands in `pageErrors`.
 */
export function browserKit(base: () => string, adminToken: string, pageErrors: string[]) {
  const ADMIN = { authorization: `Bearer ${adminToken}` };

  /** A call to the running service; the JSON answer. */
  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${base()}${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  }

  /** A ticket type on a new event (`event`: more of the event's fields), made through the admin API (so the service lists it at once). */
  async function createType(
    eventName: string, name: string, capacity: number, perUserLimit: number, more: object = {}, event: object = {},
  ): Promise<number> {
    const created = await api("POST", "/admin/events", { name: eventName, venue: "The Test Hall", ...event }, ADMIN);
    const type = await api("POST", `/admin/events/${created.body.id}/ticket-types`,
      { name, price: 42.5, capacity, per_user_limit: perUserLimit, ...more }, ADMIN);
    expect(type.status).toBe(201);
    return type.body.id;
  }

  /** Changes a ticket type through the admin API, as an operator would. */
  async function patchType(ticketTypeId: number, change: object) {
    expect((await api("PATCH", `/admin/ticket-types/${ticketTypeId}`, change, ADMIN)).status).toBe(200);
  }

  async function apiJoin(userId: string, ticketTypeId: number): Promise<string> {
    const joined = await api("POST", "/queue/join", { user_id: userId, ticket_type_id: ticketTypeId, quantity: 1 });
    expect(joined.status).toBe(200);
    return joined.body.queue_token;
  }

  async function release(token: string) {
    expect((await api("POST", "/reservation/release", { token })).status).toBe(200);
  }

  const statusOf = async (token: string) => (await api("GET", `/reservation/status?token=${encodeURIComponent(token)}`)).body;

  async function statusBecomes(token: string, status: string) {
    await waitFor(`status ${status}`, async () => (await statusOf(token)).status === status, 10_000, 50);
  }

  async function typeListing(ticketTypeId: number) {
    const events = (await api("GET", "/events")).body as Array<{ ticket_types: Array<{ id: number; stock: number; status: string }> }>;
    return events.flatMap((e) => e.ticket_types).find((t) => t.id === ticketTypeId);
  }

  async function openPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(base());
    await page.locator("#events[aria-busy=false]").waitFor({ state: "attached" }); // hidden while a place is on show
    return page;
  }

  return { api, createType, patchType, apiJoin, release, statusOf, statusBecomes, typeListing, openPage };
}

/** Waits until the page shows `text` (in `within`, when given). */
export async function seen(page: Page, text: string, timeout = SEEN_MS, within = "body") {
  await page.locator(within).getByText(text).first().waitFor({ state: "visible", timeout });
}

export async function storedToken(page: Page, ticketTypeId: number): Promise<string> {
  const places = await page.evaluate(() => JSON.parse(localStorage.getItem("ticket-queue.places") ?? "{}"));
  return places[ticketTypeId]?.token;
}

export async function expectNoSidewaysScroll(page: Page) {
  const widths = await page.evaluate(() => ({ content: document.documentElement.scrollWidth, view: window.innerWidth }));
  expect(widths.content).toBeLessThanOrEqual(widths.view);
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: joinPath(SHOTS, `${name}.png`), fullPage: true });
}
