// Redis commands on one key prefix, counted with MONITOR over a plain socket (ioredis' monitor
// mode loses track of its replies when lines arrive together with MONITOR's OK, on a busy Redis).
// Commands run from inside scripts are left out: a script counts once, as the client sent it.
export type CommandCounts = { total: number; by: Record<string, number> };

/** Client commands naming a key under `prefix` during `ms`, in all and by "<command> <key kind>". */
export async function countCommands(redisUrl: string, prefix: string, ms: number): Promise<CommandCounts> {
  const url = new URL(redisUrl);
  const counts: CommandCounts = { total: 0, by: {} };
  let buffered = "";
  const socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port || 6379),
    socket: {
      data(_socket, data) {
        buffered += data.toString("latin1");
        let end: number;
        while ((end = buffered.indexOf("\r\n")) >= 0) {
          count(buffered.slice(0, end), prefix, counts);
          buffered = buffered.slice(end + 2);
        }
      },
    },
  });
  socket.write("MONITOR\r\n");
  await Bun.sleep(ms);
  socket.end();
  return counts;
}

/** One MONITOR line: +<time> [<db> <client address, or lua>] "<command>" "<arg>" ... */
function count(line: string, prefix: string, counts: CommandCounts): void {
  const match = /^\+[\d.]+ \[\d+ (\S+)\] (.*)$/.exec(line);
  if (!match || match[1] === "lua") return;
  const args = [...match[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
  const key = args.find((a) => a.startsWith(prefix));
  if (key === undefined) return;
  const name = `${args[0]!.toLowerCase()} ${key.slice(prefix.length).replace(/[:{].*/, "")}`;
  counts.by[name] = (counts.by[name] ?? 0) + 1;
  counts.total++;
}
