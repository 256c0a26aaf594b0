// Who a request comes from, as rate limits count clients: its address, written one way whatever
// the spelling, an IPv6 one cut to its /64 (one host is usually given a whole /64, and could
// rotate through it otherwise).
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

/** What is kept of a hop that is no address: enough to tell two apart, never a whole header. */
const GARBAGE_KEPT = 64;

/**
 * The key an address counts under, whatever its spelling (a proxy's or the socket's):
 * - IPv4 as it is, a port after it (`7.7.7.7:5123`) dropped;
 * - IPv6 with or without brackets, a zone (`%eth0`) and a port after the brackets
 *   (`[2001:db8::1]:443`) dropped; cut to its /64, written `2001:db8:0:0::/64`;
 * - an IPv6 address that carries an IPv4 one counts as that IPv4 address: IPv4-mapped
 *   (`::ffff:1.2.3.4`, `::ffff:0102:0304`, written out in full or in capitals), IPv4-compatible
 *   (`::1.2.3.4`) and NAT64 (`64:ff9b::1.2.3.4`);
 * - the special IPv6 addresses whose /64 is everyone's (unspecified `::`, loopback `::1`,
 *   link-local fe80::/10, multicast ff00::/8) count by the whole address, so two of them are
 *   never one client. Unique-local addresses (fc00::/7) are handed out by /64 like global ones
 *   and count by their /64 too.
 * Anything else (a proxy's oddity) is a client of its own, `invalid:` and the first 64
 * characters: never the key of a real address.
 */
export function addressKey(address: string): string {
  // the usual spellings first, building nothing: every limited request pays for this
  if (isIPv4(address, 0, address.length)) return address;
  if (address.startsWith("::ffff:") && isIPv4(address, 7, address.length)) return address.slice(7); // a dual-stack socket's
  const colon = address.indexOf(":");
  if (colon > 0 && address.indexOf(":", colon + 1) < 0) {
    // one colon: IPv4 and a port
    return isIPv4(address, 0, colon) && PORT.test(address.slice(colon + 1)) ? address.slice(0, colon) : garbage(address);
  }
  const groups = ipv6Groups(address);
  if (groups === null) return garbage(address);
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const firstFive = g0 | g1 | g2 | g3 | g4;
  if (firstFive === 0 && (g5 === 0xffff || (g5 === 0 && g6 !== 0))) return dotted(g6, g7); // mapped, compatible
  if (g0 === 0x64 && g1 === 0xff9b && (g2 | g3 | g4 | g5) === 0) return dotted(g6, g7); // NAT64
  const special = (firstFive | g5 | g6) === 0 /* :: and ::1 */ || (g0 & 0xffc0) === 0xfe80 || g0 >> 8 === 0xff;
  const hex = groups.map((g) => g.toString(16));
  return special ? hex.join(":") : `${hex.slice(0, 4).join(":")}::/64`;
}

/**
 * Whether text[from, to) is an IPv4 address as written once: four decimal octets up to 255, no
 * leading zeros (some read them as octal: two spellings would be two clients). A loop, not a
 * regular expression: this is on every limited request's path.
 */
function isIPv4(text: string, from: number, to: number): boolean {
  let dots = 0;
  let digits = 0;
  let octet = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return false;
      digits = octet = 0;
    } else if (c >= 48 && c <= 57 && !(digits === 1 && octet === 0)) {
      octet = octet * 10 + c - 48;
      if (++digits > 3 || octet > 255) return false;
    } else {
      return false;
    }
  }
  return dots === 3 && digits > 0;
}

const PORT = /^\d{1,5}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function garbage(text: string): string {
  return `invalid:${text.slice(0, GARBAGE_KEPT)}`;
}

/** The eight 16-bit groups of an IPv6 address (in brackets, a port after them, a zone); null when it is none. */
function ipv6Groups(text: string): number[] | null {
  let a = text;
  if (a.startsWith("[")) {
    const close = a.indexOf("]");
    if (close < 0 || !/^(?::\d{1,5})?$/.test(a.slice(close + 1))) return null;
    a = a.slice(1, close);
  }
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  // an IPv4 address in the last 32 bits: two groups
  const lastColon = a.lastIndexOf(":");
  const tail = a.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (lastColon < 0 || !isIPv4(tail, 0, tail.length)) return null;
    const [o0, o1, o2, o3] = tail.split(".").map(Number) as [number, number, number, number];
    a = `${a.slice(0, lastColon + 1)}${((o0 << 8) | o1).toString(16)}:${((o2 << 8) | o3).toString(16)}`;
  }
  const halves = a.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  if (!all.every((g) => HEX_GROUP.test(g))) return null;
  return all.map((g) => parseInt(g, 16));
}

function dotted(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}
