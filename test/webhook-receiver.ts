// A real webhook receiver for tests (Bun.serve): verifies every request's signature with the
// standardwebhooks library, as a shop would, and records it. Its behaviour can be set: answer
// 500 to the first N attempts of each message, answer a redirect, hang, answer slowly, or be
// down (its port closed) and come back on the same port. It also tracks requests in flight by
// webhook-id, to catch one delivery posted twice at once.
import { Webhook } from "standardwebhooks";
import type { TestEnv } from "./helpers";
import { newSecret } from "../src/webhooks/endpoints";

export type Received = {
  path: string;
  id: string;
  timestamp: number;
  signature: string;
  body: string;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
  /** Whether the signature verified with the secret(s) the receiver knows. */
  verified: boolean;
  /** What the receiver answered (0: it hung until the sender gave up). */
  answered: number;
  at: number;
};

export type Behaviour = {
  /** Answer 500 to the first this many attempts of each webhook-id. */
  failFirst?: number;
  /** Answer this status to every attempt (a 302 with a Location, say). */
  status?: number;
  /** Never answer. */
  hang?: boolean;
  /** Answer after this many ms. */
  delayMs?: number;
};

export class WebhookReceiver {
  readonly received: Received[] = [];
  behaviour: Behaviour = {};
  /** The most requests with one webhook-id in flight at once, seen over all of them. */
  maxSameIdInFlight = 0;
  /** The webhook-ids answered 2xx so far (cheap to poll, unlike delivered()). */
  readonly deliveredIds = new Set<string>();
  private readonly inFlight = new Map<string, number>();
  private readonly attemptsOf = new Map<string, number>();
  private readonly hanging = new Set<() => void>();
  private server: ReturnType<typeof Bun.serve> | null = null;
  private port = 0;

  /** `secrets`: the endpoint's secrets; a request verifies if any one does. */
  constructor(public secrets: string[] = []) {}

  static async start(secrets: string[] = []): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secrets);
    receiver.up();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Listening again (on its first port, once it had one). */
  up(): void {
    this.server = Bun.serve({ port: this.port, hostname: "127.0.0.1", idleTimeout: 0, fetch: (req) => this.handle(req) });
    this.port = this.server.port!;
  }

  /** The port closed: connections refused. */
  async down(): Promise<void> {
    this.release();
    await this.server?.stop(true);
    this.server = null;
  }

  /** Lets every hanging request go (answered 200, though its sender has long given up). */
  release(): void {
    for (const go of this.hanging) go();
    this.hanging.clear();
  }

  /** The deliveries answered 2xx, by webhook-id (the first such). */
  delivered(): Map<string, Received> {
    const byId = new Map<string, Received>();
    for (const r of this.received) if (r.answered >= 200 && r.answered < 300 && !byId.has(r.id)) byId.set(r.id, r);
    return byId;
  }

  attempts(id: string): Received[] {
    return this.received.filter((r) => r.id === id);
  }

  private async handle(req: Request): Promise<Response> {
    const body = await req.text();
    const headers = Object.fromEntries(req.headers);
    const id = headers["webhook-id"] ?? "";
    const verified = this.secrets.some((secret) => {
      try {
        verifierFor(secret).verify(body, headers);
        return true;
      } catch {
        return false;
      }
    });
    const attempt = (this.attemptsOf.get(id) ?? 0) + 1;
    this.attemptsOf.set(id, attempt);
    const inFlight = (this.inFlight.get(id) ?? 0) + 1;
    this.inFlight.set(id, inFlight);
    this.maxSameIdInFlight = Math.max(this.maxSameIdInFlight, inFlight);
    const record: Received = {
      path: new URL(req.url).pathname, id, timestamp: Number(headers["webhook-timestamp"]), signature: headers["webhook-signature"] ?? "",
      body, payload: JSON.parse(body), verified, answered: 0, at: Date.now(),
    };
    this.received.push(record);
    try {
      const b = this.behaviour;
      if (b.hang) {
        await new Promise<void>((resolve) => this.hanging.add(resolve));
        return new Response("late");
      }
      if (b.delayMs) await Bun.sleep(b.delayMs); // a slow receiver, by design
      const status = b.status ?? (attempt <= (b.failFirst ?? 0) ? 500 : 200);
      record.answered = status;
      if (status >= 200 && status < 300) this.deliveredIds.add(id);
      return status >= 300 && status < 400
        ? new Response(null, { status, headers: { location: `${this.url}/moved` } })
        : new Response(status === 200 ? "ok" : "no", { status });
    } finally {
      this.inFlight.set(id, this.inFlight.get(id)! - 1);
    }
  }

  async stop(): Promise<void> {
    await this.down();
  }
}

const verifiers = new Map<string, Webhook>();
const verifierFor = (secret: string): Webhook => {
  let verifier = verifiers.get(secret);
  if (!verifier) verifiers.set(secret, (verifier = new Webhook(secret)));
  return verifier;
};

/** A new secret, as the admin API makes them (whsec_ and base64 of 24 random bytes). */
export { newSecret };

/**
 * An endpoint subscribed to `events`, written straight into PostgreSQL (the admin API that
 * registers them is another piece of work).
 */
export async function subscribe(env: Pick<TestEnv, "sql">, url: string, events: string[] = ["*"]): Promise<{ id: number; secret: string }> {
  const secret = newSecret();
  const [row] = await env.sql`INSERT INTO webhook_endpoints (url, events, secret) VALUES (${url}, ${events}, ${secret}) RETURNING id`;
  return { id: row!.id as number, secret };
}
