// GET /admin/events/:id/figures on a big sale, as the console reads it once a second: one type
// with 200,000 holds granted (most confirmed or expired, a few thousand held) and 100,000
// bookings, seeded with SQL into a test database of its own; other types of other events
// besides, so the reservations table is not just this sale's. Prints the route's time
// (median and worst of 50 reads) and the EXPLAIN ANALYZE of its statement.
//   TEST_REDIS=single bun scripts/with-services.ts bun bench/console-figures.ts
import { createTestEnv, ADMIN_AUTH, ADMIN_TOKEN } from "../test/helpers";

const env = await createTestEnv({ ADMIN_TOKEN });
try {
  const sql = env.sql;
  const [event] = await sql`INSERT INTO events (name) VALUES ('Big sale') RETURNING id`;
  const [type] = await sql`
    INSERT INTO ticket_types (event_id, name, price, capacity, stock)
    VALUES (${event!.id}, 'Stalls', 10, 1000000, 1000000) RETURNING id`;
  const [other] = await sql`INSERT INTO events (name) VALUES ('Other sale') RETURNING id`;
  const [otherType] = await sql`
    INSERT INTO ticket_types (event_id, name, price, capacity, stock)
    VALUES (${other!.id}, 'Other', 10, 1000000, 1000000) RETURNING id`;
  const seed = async (typeId: number, from: number, to: number) => {
    // i ≤ 100,000: confirmed (a booking each); then held every 40th (2,500), released every 7th; the rest expired
    await sql`
      INSERT INTO reservations (token, ticket_type_id, user_id, quantity, status, expires_at, created_at)
      SELECT 'tok-' || ${typeId}::int || '-' || i, ${typeId}::int, 'user-' || i, 1 + i % 2,
             CASE WHEN i <= 100000 THEN 'confirmed' WHEN i % 40 = 0 THEN 'held' WHEN i % 7 = 0 THEN 'released' ELSE 'expired' END,
             now() + interval '5 minutes' - (i % 600) * interval '1 second', now() - interval '1 hour'
      FROM generate_series(${from}::int, ${to}::int) i`;
    await sql`
      INSERT INTO bookings (token, user_id, ticket_type_id, quantity, status)
      SELECT token, user_id, ticket_type_id, quantity, CASE WHEN right(token, 3) = '000' THEN 'cancelled' ELSE 'confirmed' END
      FROM reservations WHERE ticket_type_id = ${typeId} AND status = 'confirmed'`;
  };
  await seed(type!.id, 1, 200_000);
  await seed(otherType!.id, 1, 200_000);
  // the ledger as I2 has it: capacity = stock + held + confirmed
  await sql`
    UPDATE ticket_types t SET stock = t.capacity - coalesce((SELECT sum(quantity) FROM reservations r WHERE r.ticket_type_id = t.id AND r.status = 'held'), 0)
      - coalesce((SELECT sum(quantity) FROM bookings b WHERE b.ticket_type_id = t.id AND b.status = 'confirmed'), 0)`;
  await sql`VACUUM ANALYZE reservations`.simple();
  await sql`VACUUM ANALYZE bookings`.simple();
  await sql`VACUUM ANALYZE ticket_types`.simple();

  const path = `/admin/events/${event!.id}/figures`;
  const first = await env.call("GET", path, undefined, ADMIN_AUTH);
  if (first.status !== 200) throw new Error(`the route answered ${first.status}: ${JSON.stringify(first.body)}`);
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    await env.call("GET", path, undefined, ADMIN_AUTH);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const { redis: _, people_queued: _q, people_prequeued: _p, batches_in_flight: _b, serving_rate: _s, oldest_waiting_place: _o, ...figures } =
    first.body.ticket_types[0];
  console.log("figures:", JSON.stringify(figures));
  console.log(`GET ${path}: median ${times[25]!.toFixed(2)} ms, worst ${times.at(-1)!.toFixed(2)} ms (50 reads)`);
  // the reading's statement, with the marks of a recount made before the last 1,000 holds
  // (half of them booked) and 1,000 bookings: what a reading adds up after a busy 10 s
  const { FIGURES_STATEMENT } = await import("../src/admin/event-figures");
  const [marks] = await sql`
    SELECT (SELECT max(grant_seq) - 1000 FROM reservations WHERE ticket_type_id = ${type!.id}) AS grant_mark,
           (SELECT max(id) - 1000 FROM bookings WHERE ticket_type_id = ${type!.id}) AS booking_mark`;
  const plan = await sql.begin(async (tx) => {
    await tx`SET LOCAL jit = off`; // as the route does
    return tx.unsafe(`EXPLAIN (ANALYZE, BUFFERS) ${FIGURES_STATEMENT}`, [
      event!.id, [type!.id] as never, [marks!.grant_mark] as never, [marks!.booking_mark] as never,
    ]);
  });
  console.log(plan.map((r) => r["QUERY PLAN"]).join("\n"));
  const bare: number[] = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    await sql.begin(async (tx) => {
      await tx`SET LOCAL jit = off`;
      return tx.unsafe(FIGURES_STATEMENT, [event!.id, [type!.id] as never, [marks!.grant_mark] as never, [marks!.booking_mark] as never]);
    });
    bare.push(performance.now() - started);
  }
  bare.sort((a, b) => a - b);
  console.log(`the reading's statement alone, with that backlog: median ${bare[25]!.toFixed(2)} ms, worst ${bare.at(-1)!.toFixed(2)} ms (50 runs)`);
  const { countsOf, RECOUNT_MS, RECOUNT_STATEMENT } = await import("../src/admin/event-counts");
  const recountPlan = await sql.begin(async (tx) => {
    await tx`SET LOCAL max_parallel_workers_per_gather = 0`; // as countsOf does
    await tx`SET LOCAL jit = off`;
    return tx.unsafe(`EXPLAIN (ANALYZE, BUFFERS) ${RECOUNT_STATEMENT}`, [[type!.id] as never]);
  });
  console.log(recountPlan.map((r) => r["QUERY PLAN"]).join("\n"));
  const recounts: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const started = performance.now();
    await countsOf(sql, [type!.id], Date.now() + i * RECOUNT_MS);
    recounts.push(performance.now() - started);
  }
  console.log(`a recount (at most every ${RECOUNT_MS / 1000} s per type and thread): ${recounts.map((t) => t.toFixed(1)).join(", ")} ms`);
} finally {
  await env.close();
}
