// A webhook receiver, as a shop or a box office would write one: it verifies each request's
// signature with the `standardwebhooks` package (the same check exists for Python, Go, Ruby,
// PHP, Rust, Java, C#, Elixir), drops what it has seen (delivery is at least once: one event
// may come twice, always with the same webhook-id), acts, and answers 2xx fast.
//
//   WEBHOOK_SECRET=whsec_... PORT=4000 bun examples/webhook-receiver.ts
//
// It prints one JSON line per event it acts on (the test reads them), and its port first.
import { Webhook, WebhookVerificationError } from "standardwebhooks";

const secret = process.env.WEBHOOK_SECRET;
if (!secret) throw new Error("set WEBHOOK_SECRET to the endpoint's secret (whsec_...)");
const webhook = new Webhook(secret);
// A real receiver keeps this in its database: a unique key on webhook-id, written in the same
// transaction as what the event makes it do.
const seen = new Set<string>();

const server = Bun.serve({
  port: Number(process.env.PORT ?? 4000),
  async fetch(request) {
    const body = await request.text();
    let event: { type: string; timestamp: string; data: Record<string, unknown> };
    try {
      // checks webhook-signature against the body, and that webhook-timestamp is within 5 minutes
      event = webhook.verify(body, Object.fromEntries(request.headers)) as typeof event;
    } catch (err) {
      if (err instanceof WebhookVerificationError) return new Response("bad signature", { status: 400 });
      throw err;
    }
    const id = request.headers.get("webhook-id")!;
    if (seen.has(id)) return new Response(null, { status: 204 }); // told before: done already
    seen.add(id);
    // Act here: hold.expired -> stop the payment (the tickets went back on sale);
    // booking.confirmed -> send the tickets; booking.cancelled -> refund. This one prints it.
    console.log(JSON.stringify({ webhook_id: id, type: event.type, data: event.data }));
    return new Response(null, { status: 204 });
  },
});
console.log(JSON.stringify({ listening: server.port }));
