// Who a request comes from, as rate limits count clients: its address, an IPv6 one cut to its
// /64 (one host is usually given a whole /64, and could rotate through it otherwise).
import type { Server } from "bun";

/** Requests with no address known (app.handle() in tests, no socket) count as this one client. */
export const UNKNOWN_CLIENT = "unknown";

/**
 * The client of a request. With `trustProxy` = N > 0, N proxies in front of us each append the
 * address they saw to X-Forwarded-For, so the N-th hop from the right is the one the outermost
 * trusted proxy added: the real client. Hops further left are whatever the client sent and are
 * never read (a client can prepend any it likes). Without the header, the socket's peer.
 */
export function clientOf(request: Request, server: Server<unknown> | null | undefined, trustProxy: number): string {
  if (trustProxy > 0) {
    const forwarded = request.headers.get("x-forwarded-for"); // several headers arrive joined by ", "
    if (forwarded !== null) {
      const hop = hopFromRight(forwarded, trustProxy);
      if (hop !== "") return addressKey(hop);
    }
  }
  const address = server?.requestIP(request)?.address;
  return address ? addressKey(address) : UNKNOWN_CLIENT;
}

/** The n-th comma-separated entry from the right, trimmed; the leftmost when there are fewer. */
function hopFromRight(list: string, n: number): string {
  let end = list.length;
  let start = list.lastIndexOf(",", end - 1);
  while (--n > 0 && start >= 0) {
    end = start;
    start = list.lastIndexOf(",", end - 1);
  }
  return list.slice(start + 1, end).trim();
}

/** An IPv4 address as it is; an IPv4-mapped IPv6 one as IPv4; any other IPv6 one as its /64. */
export function addressKey(address: string): string {
  if (!address.includes(":")) return address;
  let a = address.toLowerCase();
  if (a.startsWith("[")) a = a.slice(1, a.indexOf("]") > 0 ? a.indexOf("]") : undefined);
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  if (a.startsWith("::ffff:") && a.includes(".")) return a.slice(7);
  const halves = a.split("::");
  if (halves.length > 2) return address.slice(0, 64); // not an address: a trusted proxy's oddity
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const zeros = halves.length === 2 ? Math.max(0, 8 - head.length - tail.length) : 0;
  const groups = [...head, ...Array<string>(zeros).fill("0"), ...tail].slice(0, 4);
  if (groups.length < 4 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return address.slice(0, 64);
  return `${groups.map((g) => parseInt(g, 16).toString(16)).join(":")}::/64`;
}
