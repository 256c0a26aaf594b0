// The fault suite's webhook receiver: an endpoint subscribed to every event (`*`), verifying
// each request with `standardwebhooks` as a shop would. It answers 500 to a share of first
// attempts (so retries run) and goes down once as a fault of the run. At the end every event
// must have arrived, signed, and (deduped by webhook-id) be exactly the events PostgreSQL says
// happened: a grant per hold, an expiry or release per hold that ended so, a booking.confirmed
// per booking, a booking.cancelled per cancelled one, a sold-out for a type that sold out.
import { Webhook } from "standardwebhooks";
import type { Server } from "bun";
import type { Sql } from "../src/store/db";
import { newSecret } from "../src/webhooks/endpoints";
import type { Check } from "./run";

/** Share of first attempts answered 500: each is retried, with its webhook-id. */
const FIRST_ATTEMPT_FAILURES = 0.1;
/** The instances' retry schedule: the specification's is hours long; the run's is seconds. */
export const CHAOS_RETRY_SCHEDULE = "0,1,2,3,5,5,5,5";
/** How long the end of a run waits for the outbox to empty (a killed instance's lease runs out first). */
const DRAIN_TIMEOUT_MS = 90_000;

type Received = { type: string; data: Record<string, unknown> };

export class ChaosReceiver {
  readonly received = new Map<string, Received>();
  attempts = 0;
  badSignatures = 0;
  private readonly secret = newSecret();
  private readonly webhook = new Webhook(this.secret);
  private server: Server<undefined> | null = null;
  private port = 0;

  constructor(private readonly random: () => number) {}

  /** Listens (on the port it had, after a stop) and subscribes to everything once. */
  async start(sql?: Sql): Promise<void> {
    this.server = Bun.serve({ port: this.port, hostname: "127.0.0.1", fetch: (request) => this.answer(request) });
    this.port = this.server.port!;
    if (sql) {
      await sql`INSERT INTO webhook_endpoints (url, events, secret, description)
                VALUES (${`http://127.0.0.1:${this.port}/hooks`}, ${["*"]}, ${this.secret}, 'the fault suite')`;
    }
  }

  /** Down: connections refused until start() again. */
  stop(): void {
    this.server?.stop(true);
    this.server = null;
  }

  private async answer(request: Request): Promise<Response> {
    this.attempts++;
    const body = await request.text();
    let event: Received;
    try {
      event = this.webhook.verify(body, Object.fromEntries(request.headers)) as Received;
    } catch {
      this.badSignatures++;
      return new Response("bad signature", { status: 400 });
    }
    const id = request.headers.get("webhook-id")!;
    if (!this.received.has(id) && this.random() < FIRST_ATTEMPT_FAILURES) return new Response("try later", { status: 500 });
    this.received.set(id, event);
    return new Response(null, { status: 204 });
  }

  /** Waits for the outbox to empty, then compares what arrived with PostgreSQL. */
  async checks(sql: Sql): Promise<Check[]> {
    const drainedBy = Date.now() + DRAIN_TIMEOUT_MS;
    let left = await undelivered(sql);
    while (left > 0 && Date.now() < drainedBy) {
      await Bun.sleep(250);
      left = await undelivered(sql);
    }
    const [{ failed }] = await sql<{ failed: number }[]>`SELECT count(*)::int AS failed FROM webhook_deliveries WHERE status = 'failed'`;
    const expected = await happened(sql);
    const arrived = [...this.received.values()].map(keyOf).sort();
    const missing = difference(expected, arrived);
    const extra = difference(arrived, expected);
    return [
      {
        name: "webhooks delivered",
        ok: left === 0 && failed === 0,
        detail: `${this.received.size} events in ${this.attempts} attempts; ${left} still pending after waiting, ${failed} failed`,
      },
      { name: "webhooks signed", ok: this.badSignatures === 0, detail: `${this.badSignatures} requests with a bad signature` },
      {
        name: "webhooks = PostgreSQL",
        ok: missing.length === 0 && extra.length === 0,
        detail: `${expected.length} events happened; ${missing.length} never arrived (${missing.slice(0, 3).join(", ")}), ${extra.length} arrived that did not happen (${extra.slice(0, 3).join(", ")})`,
      },
    ];
  }
}

const undelivered = async (sql: Sql) =>
  (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'`)[0]!.n;

/** An event as "<type> <what it is about>": the hold's token, the booking's id, the type's id. */
function keyOf({ type, data }: Received): string {
  const about = type.startsWith("hold.") ? data.queue_token : type.startsWith("booking.") ? data.booking_id : data.ticket_type_id;
  return `${type} ${about}`;
}

/** Every event PostgreSQL's tables say happened, as keyOf writes them, sorted. */
async function happened(sql: Sql): Promise<string[]> {
  const rows = await sql<{ key: string }[]>`
    SELECT 'hold.granted ' || token AS key FROM reservations
    UNION ALL SELECT 'hold.' || status || ' ' || token FROM reservations WHERE status IN ('expired', 'released')
    UNION ALL SELECT 'booking.confirmed ' || id FROM bookings
    UNION ALL SELECT 'booking.cancelled ' || id FROM bookings WHERE status = 'cancelled'
    UNION ALL SELECT 'ticket_type.sold_out ' || t.id FROM ticket_types t
      WHERE t.stock = 0 AND NOT EXISTS (SELECT 1 FROM reservations r WHERE r.ticket_type_id = t.id AND r.status = 'held')`;
  return rows.map((r) => r.key).sort();
}

/** What `a` has that `b` lacks, counting repeats. */
function difference(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const key of b) counts.set(key, (counts.get(key) ?? 0) + 1);
  return a.filter((key) => {
    const n = counts.get(key) ?? 0;
    if (n > 0) counts.set(key, n - 1);
    return n === 0;
  });
}
