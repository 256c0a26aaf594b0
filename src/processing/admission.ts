// Pause and admission control (issue #12), as the processor applies them: what the operator set
// per ticket type (PATCH /admin/ticket-types/:id), read from PostgreSQL at most every
// CONTROLS_MAX_AGE_MS, and the pure decisions of how many people a turn may claim.
// holds_per_minute itself is enforced inside the claim (claim-3.lua's token bucket), so it
// holds across processors; this module only passes it along.
import type { Sql } from "../store/db";

export type SaleControls = {
  /** Serve nobody of this type; joins still queue. */
  paused: boolean;
  /** Most holds outstanding at once (null: no ceiling). */
  maxActiveHolds: number | null;
  /** Most people taken off the queue a minute (null: no ceiling). */
  holdsPerMinute: number | null;
  /** When the sale starts, in ms (0: it has); nobody is served before. */
  saleStartsAt: number;
};

export const NO_CONTROLS: SaleControls = Object.freeze({ paused: false, maxActiveHolds: null, holdsPerMinute: null, saleStartsAt: 0 });

/** How old the processor's reading of the controls may be: a PATCH takes effect within about this. */
export const CONTROLS_MAX_AGE_MS = 250;

/**
 * The controls of the active ticket types: one query for all of them, at most every
 * CONTROLS_MAX_AGE_MS (and at once for a type it has not read yet). Only types with a control
 * set come back; every other type reads NO_CONTROLS.
 */
export class SaleControlsCache {
  private byId = new Map<number, SaleControls>();
  private read = new Set<number>();
  private at = -Infinity;

  constructor(
    private readonly sql: Sql,
    private readonly maxAgeMs = CONTROLS_MAX_AGE_MS,
  ) {}

  /** Rereads the controls of `ids` when the last reading is too old or did not cover them all. */
  async refresh(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    if (Date.now() - this.at < this.maxAgeMs && ids.every((id) => this.read.has(id))) return;
    const at = Date.now();
    const rows = await this.sql<{ id: number; paused: boolean; max_active_holds: number | null; holds_per_minute: number | null; sale_starts_at: Date | null }[]>`
      SELECT id, paused, max_active_holds, holds_per_minute, sale_starts_at FROM ticket_types
      WHERE id = ANY(${ids}::int[])
        AND (paused OR max_active_holds IS NOT NULL OR holds_per_minute IS NOT NULL OR sale_starts_at > now())`;
    this.byId = new Map(rows.map((r) => [r.id, {
      paused: r.paused, maxActiveHolds: r.max_active_holds, holdsPerMinute: r.holds_per_minute,
      saleStartsAt: r.sale_starts_at?.getTime() ?? 0,
    }]));
    this.read = new Set(ids);
    this.at = at;
  }

  /** Makes the next refresh() read the controls again, however recent the last reading. */
  forget(): void {
    this.at = -Infinity;
  }

  /** The controls of a type as last read. */
  of(ticketTypeId: number): SaleControls {
    return this.byId.get(ticketTypeId) ?? NO_CONTROLS;
  }
}

/** Holds outstanding for the type right now (held_tickets; an index-only scan of reservations_one_live_hold). */
export async function heldCount(sql: Sql, ticketTypeId: number): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT coalesce((SELECT holds FROM held_tickets WHERE ticket_type_id = ${ticketTypeId}), 0)::int AS n`;
  return row!.n;
}

// The decisions: pure functions (test/admission.test.ts).

/**
 * How many more people a turn may claim under max_active_holds: the ceiling less the holds
 * outstanding (null: no ceiling). The turn then counts down what it claims, settled or not.
 */
export function roomLeft(maxActiveHolds: number | null, held: number): number | null {
  return maxActiveHolds === null ? null : Math.max(0, maxActiveHolds - held);
}

/** The room left after a claim took `taken` people (null: no ceiling). */
export function roomAfterClaim(room: number | null, taken: number): number | null {
  return room === null ? null : Math.max(0, room - taken);
}

/** How many people one claim may take: `wanted` (a batch, or a probe), never more than the room left. */
export function claimSize(wanted: number, room: number | null): number {
  return room === null ? wanted : Math.min(wanted, room);
}

/**
 * The serving rate the estimated waits use (people a second): what was measured, never above
 * holds_per_minute; the ceiling alone before anything was measured.
 */
export function estimatedRate(measured: number | null, holdsPerMinute: number | null): number | null {
  if (holdsPerMinute === null) return measured;
  const ceiling = holdsPerMinute / 60;
  return measured === null ? ceiling : Math.min(measured, ceiling);
}
