// A highly available PostgreSQL on this machine, for the failover tests and the fault suite: a
// pg_auto_failover formation (pg_autoctl, Debian package postgresql-15-auto-failover) of a
// monitor and two data nodes on free loopback ports, in a temporary folder removed on exit.
//
//   bun scripts/pg-ha.ts        prints the formation's DATABASE_URL and runs until Ctrl-C
//   import { start } from "./pg-ha"   start() -> { uri, nodes, primary(), loseNode(), restartNode(), waitForPrimary(), stop() }
//
// Test settings, NOT production ones (docs/postgres-ha.md says more):
// - the monitor's health checks are tuned so a lost primary is replaced in about 10 s (9 to 14 s
//   measured on a busy 2-core machine; defaults: about 50 s): health_check_period 1 s, timeout
//   1 s, 1 retry after 0.5 s, node_considered_unhealthy_timeout 4 s, primary_demote_timeout 4 s.
//   In production keep primary_demote_timeout ABOVE the keepers' network_partition_timeout
//   (defaults 30 s and 20 s): a primary cut off from the monitor demotes itself before its
//   standby is promoted, so two primaries never take writes; tune health_check_period /
//   node_considered_unhealthy_timeout to the network (defaults 5 s / 20 s), not to a test's patience.
// - everything on one machine, trust authentication on loopback, no TLS, fsync off, small
//   shared_buffers. In production: one machine (or zone) per node and the monitor on a third,
//   --ssl-self-signed or real certificates, --auth scram-sha-256, fsync on.
// - kept as in production: synchronous replication. pg_auto_failover sets
//   synchronous_standby_names = 'ANY 1 (standby)' while the standby is healthy (a COMMIT returns
//   once the standby has the WAL), number_sync_standbys 0 (with one standby down the primary
//   goes on alone rather than stopping writes), replication-quorum true on both nodes.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort, postgresBinaries } from "./local-servers";

/** What the monitor's health checks are tuned to here (milliseconds), see the note above. */
const MONITOR_SETTINGS = {
  "pgautofailover.health_check_period": 1000,
  "pgautofailover.health_check_timeout": 1000,
  "pgautofailover.health_check_max_retries": 1,
  "pgautofailover.health_check_retry_delay": 500,
  "pgautofailover.node_considered_unhealthy_timeout": 4000,
  "pgautofailover.primary_demote_timeout": 4000,
};

/** Appended to each data node's postgresql.conf (after pg_autoctl's own include, so they win). */
const NODE_SETTINGS = {
  shared_buffers: "'128MB'", // pg_autoctl sizes it for a machine of its own: a quarter of the RAM
  max_connections: 200, // two service instances and the tests' pools
  fsync: "off", // a test formation: a killed process loses nothing the OS has
};

const DATABASE = "ticket_queue";

export interface PgNode {
  readonly name: string;
  readonly port: number;
  /** This node alone, whatever its role. */
  readonly url: string;
}

export interface Formation {
  /** The formation's DATABASE_URL: every node, target_session_attrs=read-write. */
  readonly uri: string;
  readonly monitorUri: string;
  readonly nodes: readonly PgNode[];
  /** The node the monitor has as primary now (reported and assigned), or null mid-switch. */
  primary(): Promise<PgNode | null>;
  /** Lost as a machine is lost: its keeper's process group, its postmaster and its backends, kill -9 together. */
  loseNode(node: PgNode): void;
  /** Its keeper started again; resolves once it has rejoined as the synchronous standby. */
  restartNode(node: PgNode, timeoutMs?: number): Promise<void>;
  /** Resolves with the primary once it takes writes (one other than `not`, if given). */
  waitForPrimary(options?: { not?: PgNode; timeoutMs?: number }): Promise<PgNode>;
  stop(): Promise<void>;
}

interface NodeState {
  name: string;
  port: number;
  reported: string;
  goal: string;
}

type Keeper = ReturnType<typeof Bun.spawn>;

const formations = new Set<() => void>();

/** Every formation is removed when the process ends, Ctrl-C and SIGTERM included. */
function removeOnExit(kill: () => void) {
  if (formations.size === 0) {
    process.on("exit", () => formations.forEach((k) => k()));
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        formations.forEach((k) => k());
        process.exit(signal === "SIGINT" ? 130 : 143);
      });
    }
  }
  formations.add(kill);
}

export async function start(): Promise<Formation> {
  const bin = postgresBinaries();
  const autoctl = Bun.which("pg_autoctl");
  if (!bin || !autoctl) {
    throw new Error(
      "pg_autoctl (pg_auto_failover) is not installed. Install it with\n" +
        "  sudo apt-get install -y postgresql-15-auto-failover",
    );
  }
  const pgctl = join(bin, "pg_ctl");
  // PostgreSQL (and pg_autoctl) refuse to run as root; as root they run as the package's postgres user.
  const asRoot = userInfo().uid === 0;
  const runAs = asRoot ? ["runuser", "-u", "postgres", "--"] : [];
  const dir = mkdtempSync(join(tmpdir(), "ticket-queue-pg-ha-"));
  if (asRoot) await Bun.spawn(["chown", "postgres", dir]).exited;
  // pg_autoctl keeps its configuration and state under XDG folders: these, in the temporary one
  const env = ["env", `XDG_CONFIG_HOME=${dir}/config`, `XDG_DATA_HOME=${dir}/share`, `XDG_RUNTIME_DIR=${dir}/run`];
  const keepers = new Map<string, Keeper>();

  const pgdata = (name: string) => join(dir, name);
  const autoctlCommand = async (args: string[]) => {
    const child = Bun.spawn([...runAs, ...env, autoctl, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const [out, err] = [await new Response(child.stdout).text(), await new Response(child.stderr).text()];
    if ((await child.exited) !== 0) throw new Error(`pg_autoctl ${args[0]} ${args[1] ?? ""} failed:\n${err}`);
    return out;
  };
  /** A long-running pg_autoctl in a process group of its own (setsid), its output in <name>.log. */
  const spawnKeeper = (name: string, args: string[]) => {
    const log = openSync(join(dir, `${name}.log`), "a");
    const keeper = Bun.spawn(["setsid", ...runAs, ...env, autoctl, ...args], { cwd: dir, stdout: log, stderr: log });
    closeSync(log);
    keepers.set(name, keeper);
  };
  const appendSettings = async (name: string, settings: Record<string, string | number>) => {
    const file = join(pgdata(name), "postgresql.conf");
    const lines = Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
    await Bun.write(file, `${readFileSync(file, "utf8")}\n# scripts/pg-ha.ts\n${lines.join("\n")}\n`);
  };

  /** kill -9 to a keeper's process group, its postmaster and the postmaster's children, at once. */
  const killNode = (name: string) => {
    const targets: number[] = [];
    const keeper = keepers.get(name);
    if (keeper && keeper.exitCode === null && keeper.signalCode === null) targets.push(-keeper.pid);
    const postmaster = postmasterPid(pgdata(name));
    if (postmaster) {
      // stopped first, so no backend is forked between the listing of its children and the kill
      try {
        process.kill(postmaster, "SIGSTOP");
      } catch {} // gone already
      targets.push(postmaster, ...childrenOf(postmaster));
    }
    for (const pid of targets) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {} // gone already
    }
  };
  const killAll = () => {
    for (const name of ["monitor", "node1", "node2"]) killNode(name);
    // a backend of a killed postmaster may still be writing its last file: retried
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  };
  removeOnExit(killAll);

  let monitorSql: ReturnType<typeof postgres> | null = null;
  try {
    const monitorPort = freePort();
    const monitorUri = `postgres://autoctl_node@127.0.0.1:${monitorPort}/pg_auto_failover?sslmode=disable`;
    const nodes: PgNode[] = ["node1", "node2"].map((name) => {
      const port = freePort();
      return { name, port, url: `postgres://postgres@127.0.0.1:${port}/${DATABASE}` };
    });
    const [first, second] = nodes as [PgNode, PgNode];
    // The monitor's and the first node's clusters are made at once (initdb, without waiting for
    // the disk): pg_autoctl takes an existing one as it is. The second node is a base backup of
    // the first, postgresql.conf (and so its settings) included.
    const initdb = async (name: string) => {
      const args = ["-D", pgdata(name), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"];
      const child = Bun.spawn([...runAs, join(bin, "initdb"), ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
      if ((await child.exited) !== 0) throw new Error(`initdb failed: ${await new Response(child.stderr).text()}`);
    };
    const firstMade = initdb(first.name).then(() => appendSettings(first.name, NODE_SETTINGS));
    firstMade.catch(() => {}); // awaited below
    await initdb("monitor");
    await autoctlCommand([
      "create", "monitor", "--pgdata", pgdata("monitor"), "--pgport", String(monitorPort), "--pgctl", pgctl,
      "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl",
    ]);
    await autoctlCommand(["config", "set", "--pgdata", pgdata("monitor"), "postgresql.listen_addresses", "127.0.0.1"]);
    await appendSettings("monitor", MONITOR_SETTINGS);
    spawnKeeper("monitor", ["run", "--pgdata", pgdata("monitor")]);
    await firstMade;
    monitorSql = postgres(monitorUri, { max: 1, connect_timeout: 2, onnotice: () => {} });
    const sql = monitorSql;
    await waitFor(() => sql`SELECT 1`.then(() => true), 30_000, "the pg_auto_failover monitor");

    const states = async (): Promise<NodeState[]> =>
      sql<NodeState[]>`
        SELECT nodename AS name, nodeport AS port, reportedstate AS reported, goalstate AS goal
        FROM pgautofailover.node WHERE formationid = 'default' ORDER BY nodeid`;
    const nodeState = async (name: string) => (await states()).find((s) => s.name === name);

    const createArgs = (node: PgNode) => [
      "create", "postgres", "--pgdata", pgdata(node.name), "--pgport", String(node.port), "--pgctl", pgctl,
      "--hostname", "127.0.0.1", "--listen", "127.0.0.1", "--name", node.name, "--dbname", DATABASE,
      "--monitor", monitorUri, "--auth", "trust", "--no-ssl", "--replication-quorum", "true", "--run",
    ];
    spawnKeeper(first.name, createArgs(first));
    // the second registers once the first has: the first registered is the primary
    await waitFor(async () => (await nodeState(first.name)) !== undefined, 60_000, `${first.name} registering`);
    spawnKeeper(second.name, createArgs(second));
    // The standby's pg_basebackup waits for a checkpoint on the primary: ask for one now and then.
    await waitFor(
      async () => {
        const state = await nodeState(second.name);
        if (state?.reported === "secondary") return true;
        if (state) await checkpoint(first.url);
        return false;
      },
      90_000,
      "the formation's standby",
      1000,
    );

    const isPrimary = (s: NodeState) => s.reported === s.goal && ["primary", "wait_primary", "single"].includes(s.goal);
    const primary = async () => {
      const state = (await states()).find(isPrimary);
      return nodes.find((n) => n.name === state?.name) ?? null;
    };
    const waitForPrimary = async ({ not, timeoutMs = 60_000 }: { not?: PgNode; timeoutMs?: number } = {}) => {
      let found: PgNode | null = null;
      await waitFor(
        async () => {
          found = await primary();
          return found !== null && found !== not && (await takesWrites(found.url));
        },
        timeoutMs,
        "a primary",
      );
      return found!;
    };
    const restartNode = async (node: PgNode, timeoutMs = 60_000) => {
      spawnKeeper(node.name, ["run", "--pgdata", pgdata(node.name)]);
      // rejoined once it is the standby again and the primary has synchronous replication back
      await waitFor(
        async () => {
          const all = await states();
          const self = all.find((s) => s.name === node.name);
          const other = all.find((s) => s.name !== node.name);
          return self?.reported === "secondary" && other?.reported === "primary" && other.goal === "primary";
        },
        timeoutMs,
        `${node.name} rejoining as the standby`,
      );
    };

    const show = await autoctlCommand(["show", "uri", "--formation", "default", "--monitor", monitorUri]);
    // pg_autoctl's URI names no user: a client run as root (or anyone) would log in as itself
    const uri = show.trim().replace(/^postgres(ql)?:\/\//, "postgres://postgres@");
    await waitForPrimary();
    return {
      uri,
      monitorUri,
      nodes,
      primary,
      loseNode: (node) => killNode(node.name),
      restartNode,
      waitForPrimary,
      async stop() {
        await sql.end({ timeout: 1 }).catch(() => {});
        killAll();
        await Promise.all([...keepers.values()].map((k) => k.exited));
        formations.delete(killAll);
      },
    };
  } catch (err) {
    await monitorSql?.end({ timeout: 0 }).catch(() => {});
    const logs = ["monitor", "node1", "node2"]
      .map((n) => join(dir, `${n}.log`))
      .filter(existsSync)
      .map((f) => `--- ${f}\n${readFileSync(f, "utf8").split("\n").slice(-15).join("\n")}`);
    killAll();
    formations.delete(killAll);
    throw new Error(`${(err as Error).message}\n${logs.join("\n")}`);
  }
}

/** The postmaster serving `pgdata`, if one runs: a pid file left by a killed one may name another process by now. */
function postmasterPid(pgdata: string): number | null {
  try {
    const pid = Number(readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
    if (!(pid > 0)) return null;
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return command.includes(pgdata) ? pid : null;
  } catch {
    return null;
  }
}

/** The backends and auxiliary processes of a postmaster: each runs in a session of its own. */
function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {} // ended meanwhile
  }
  return children;
}

async function takesWrites(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    const [row] = await sql`SELECT NOT pg_is_in_recovery() AS writable`;
    return row?.writable === true;
  } catch {
    return false;
  } finally {
    sql.end({ timeout: 0 }).catch(() => {});
  }
}

async function checkpoint(url: string) {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  await sql`CHECKPOINT`.catch(() => {});
  sql.end({ timeout: 0 }).catch(() => {});
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await Bun.sleep(everyMs);
  }
  throw new Error(`${what}: not there after ${timeoutMs / 1000} s${last ? ` (${(last as Error).message})` : ""}`);
}

if (import.meta.main) {
  const began = performance.now();
  const formation = await start();
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  console.error(`pg_auto_failover formation up in ${seconds} s; primary ${(await formation.primary())?.name}`);
  console.error(`monitor: ${formation.monitorUri}`);
  for (const node of formation.nodes) console.error(`${node.name}: ${node.url}`);
  console.log(formation.uri);
  console.error("Ctrl-C stops it and removes its folder.");
  await new Promise(() => {});
}
