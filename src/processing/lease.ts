// At most one processor serves a ticket type at a time, or holds could be granted out of join
// order. A lease in Redis (lease-1.lua): the holder renews it, a dead holder loses it.
import type { Keys, RedisClient } from "../store/redis";
import { LEASE_MS } from "../domain/timing";

/** Renewing this often leaves a live holder most of the lease in hand. */
const RENEW_AFTER_MS = LEASE_MS / 5;

export class Leases {
  private readonly renewedAt = new Map<number, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: (ticketTypeId: number) => Keys,
    readonly owner: string,
  ) {}

  /** Whether this processor may serve the ticket type now; takes or renews the lease. */
  async hold(ticketTypeId: number): Promise<boolean> {
    const at = this.renewedAt.get(ticketTypeId);
    if (at !== undefined && Date.now() - at < RENEW_AFTER_MS) return true;
    const started = Date.now();
    const held = await this.redis.scripts.lease({ keys: this.keys(ticketTypeId), owner: this.owner, ms: LEASE_MS });
    if (held) this.renewedAt.set(ticketTypeId, started);
    else this.renewedAt.delete(ticketTypeId);
    return held;
  }

  /** Gives every lease back, so another processor can take over at once. */
  async releaseAll(): Promise<void> {
    const held = [...this.renewedAt.keys()];
    this.renewedAt.clear();
    await Promise.all(held.map((t) => this.redis.scripts.lease({ keys: this.keys(t), owner: this.owner, ms: 0 })));
  }
}
