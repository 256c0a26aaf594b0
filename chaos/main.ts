// `bun run chaos [--mode buyer|shop] [--quick] [--cluster] [--pg-failover] [--seed N] [--no-postgres-restart] [--json FILE]`:
// the fault suite against the binary built from the code as it is now, in both modes (the
// buyer confirms, then the shop does) unless --mode picks one. Exits 1 when any check fails.
import { buildBinary } from "../scripts/binary";
import { MODES, runChaos, type ChaosReport, type Mode } from "./run";
import { FULL_RUN, PG_FAILOVER_RUN, QUICK_PG_FAILOVER_RUN, QUICK_RUNS } from "./runs";

const USAGE = `usage: bun run chaos [--mode buyer|shop] [--quick] [--cluster] [--pg-failover] [--seed N] [--no-postgres-restart] [--json FILE]
  --mode buyer|shop      one mode only (default: both, buyer first): who books a hold, the buyer
                         (CONFIRM_BY=buyer) or a shop after payment (CONFIRM_BY=shop, Idempotency-Keys)
  --quick                the short version (as in bun test)
  --cluster              on a Redis Cluster of its own (3 masters, 3 replicas): kill -9 a master,
                         kill a replica, move a busy ticket type's slot, instead of Redis' data loss and restart
  --pg-failover          on a pg_auto_failover formation of its own (scripts/pg-ha.ts, needs pg_autoctl): its
                         primary lost twice (keeper and postmaster kill -9), the second time after the first
                         lost node rejoined as the standby; no other fault (--quick: once)
  --seed N               replay a run (each mode runs with it)
  --no-postgres-restart  leave PostgreSQL running (it is the suite's own server either way)
  --json FILE            write every figure there (a list: one report per mode)`;

function parse(argv: string[]) {
  const options = {
    modes: MODES, quick: false, cluster: false, pgFailover: false, seed: Math.floor(Math.random() * 2 ** 31), postgresRestart: true, json: null as string | null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--mode" && MODES.includes(argv[i + 1] as Mode)) options.modes = [argv[++i] as Mode];
    else if (arg === "--quick") options.quick = true;
    else if (arg === "--cluster") options.cluster = true;
    else if (arg === "--pg-failover") options.pgFailover = true;
    else if (arg === "--no-postgres-restart") options.postgresRestart = false;
    else if (arg === "--seed" && argv[i + 1]) options.seed = Number(argv[++i]);
    else if (arg === "--json" && argv[i + 1]) options.json = argv[++i]!;
    else {
      console.error(USAGE);
      process.exit(2);
    }
  }
  return options;
}

export function printReport(r: ChaosReport): void {
  const out: string[] = [];
  const pgFailover = r.options.pgFailovers > 0 ? ", PostgreSQL primary lost (pg_auto_failover)" : "";
  out.push(`\nfault suite, ${r.options.mode} mode, seed ${r.seed}, ${r.seconds.toFixed(0)} s, ${r.options.instances} instances${r.options.cluster ? ", Redis Cluster" : ""}${pgFailover}`);
  out.push("\nfaults injected");
  const counts = new Map<string, number>();
  for (const f of r.faults) counts.set(f.fault, (counts.get(f.fault) ?? 0) + 1);
  for (const [fault, n] of counts) out.push(`  ${fault.padEnd(34)} ${n}`);
  out.push("\n  at       fault                               what happened");
  for (const f of r.faults) out.push(`  ${(f.at_s.toFixed(1) + "s").padEnd(8)} ${f.fault.padEnd(35)} ${f.ok ? "" : "FAILED "}${f.detail}`);
  if (r.failovers.length) {
    out.push("\nPostgreSQL switches (seconds from the primary's loss)");
    out.push("  lost     promoted  writable  503s    first 503  last 503  lost node the standby again");
    const sec = (ms: number | null) => (ms === null ? "-" : (ms / 1000).toFixed(1));
    for (const f of r.failovers) {
      const cells = [f.lost, f.promoted, sec(f.writableAt - f.lostAt), String(f.unavailable), sec(f.firstUnavailableMs), sec(f.lastUnavailableMs)];
      const widths = [8, 9, 9, 7, 10, 9];
      const rejoined = f.rejoinedAfterMs === null ? "left down"
        : `${sec(f.rejoinedAfterMs)} s after it was started (meanwhile ${f.unavailableWhileRejoining} 503s)`;
      out.push(`  ${cells.map((v, i) => v.padEnd(widths[i]!)).join(" ")} ${rejoined}`);
      if (f.lastUnavailable) out.push(`           the switch's last 503: ${f.lastUnavailable}`);
      if (f.lastUnavailableWhileRejoining) out.push(`           the last 503 while ${f.lost} rejoined: ${f.lastUnavailableWhileRejoining}`);
    }
  }
  const c = r.crowd;
  out.push(`\ncrowd: ${r.options.buyers} buyers for ${r.options.seats} seats; ${c.served} got a hold`);
  out.push(`  ${Object.entries(c.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")}; told to rejoin ${c.toldToRejoin}, duplicates ${c.duplicates}, already queued ${c.alreadyQueued}`);
  const s = r.shop;
  if (s) {
    out.push(`shop: booked ${s.booked} holds, ${s.toldByReplay} told only by a replay (the first answer lost); ${s.retries} confirms asked again, ${s.replayed} answers replayed`);
    out.push(`  ${s.concurrent} holds confirmed by 2-3 workers at once, ${s.secondOrders} second orders refused, ${s.refusedBuyerConfirms} buyers' own confirms refused (${s.leftAfterRefusal} of those holds left)`);
  }
  const t = r.traffic;
  out.push(`requests: ${t.requests}; 503 ${t.unavailable}; connection errors ${t.connectionErrors}; other 5xx ${t.serverErrors}`);
  out.push("\nseats: capacity = stock + held + booked; holds: how many were granted and how each ended");
  out.push("ticket type    capacity   stock   held     booked  holds  expired  released");
  for (const row of r.tables) {
    const cells = [row.capacity, row.stock, row.held, row.booked, row.holds, row.expired, row.released];
    const widths = [8, 7, 6, 10, 6, 8, 9];
    out.push(`${row.ticket_type.padEnd(14)} ${cells.map((v, i) => String(v).padStart(widths[i]!)).join(" ")}`);
  }
  out.push("\nchecks");
  for (const check of r.checks) out.push(`  ${check.ok ? "ok  " : "FAIL"} ${check.name.padEnd(24)} ${check.detail}`);
  out.push(r.passed ? "\nPASSED" : `\nFAILED (instance logs: ${r.logs})`);
  console.log(out.join("\n"));
}

if (import.meta.main) {
  const args = parse(process.argv.slice(2));
  const say = (line: string) => console.error(`[chaos] ${line}`);
  say("building the binary");
  // built while the servers start (a formation takes a while)
  const binary = buildBinary();
  binary.catch(() => {}); // its failure is met where it is awaited
  const reports: ChaosReport[] = [];
  for (const mode of args.modes) {
    const base = args.pgFailover ? (args.quick ? QUICK_PG_FAILOVER_RUN : PG_FAILOVER_RUN) : args.quick ? QUICK_RUNS[mode] : FULL_RUN;
    const report = await runChaos({ ...base, postgresRestart: args.postgresRestart && base.postgresRestart, binary, seed: args.seed, cluster: args.cluster, mode, say });
    printReport(report);
    reports.push(report);
  }
  if (args.json) await Bun.write(args.json, JSON.stringify(reports, null, 2));
  if (reports.length > 1) console.log(`\n${reports.map((r) => `${r.options.mode} mode ${r.passed ? "PASSED" : "FAILED"}`).join(", ")}`);
  process.exit(reports.every((r) => r.passed) ? 0 : 1);
}
