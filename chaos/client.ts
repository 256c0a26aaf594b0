// How simulated buyers talk to the service: any instance, as a load balancer would spread them,
// with every answer counted. A connection error (the instance is down) is status 0.
// Joins carry an HS256 JWT for their user, as behind an operator's login (JOIN_AUTH=jwt): a
// join retried after its answer was lost then gets the user's own token back.
import { SignJWT } from "jose";

export type Reply = { status: number; body: any; headers: Headers };

export type Traffic = {
  requests: number;
  unavailable: number; // 503 with Retry-After, as promised during outages
  /** Each 503: when (ms since the epoch) and on which route, to see how long an outage was seen from outside. */
  unavailableAt: { at: number; path: string; body: string }[];
  /** 503s without a Retry-After header. */
  unavailableWithoutRetryAfter: number;
  connectionErrors: number;
  serverErrors: { status: number; path: string; body: string }[]; // any other 5xx: a defect
};

export const newTraffic = (): Traffic => ({
  requests: 0, unavailable: 0, unavailableAt: [], unavailableWithoutRetryAfter: 0, connectionErrors: 0, serverErrors: [],
});

export class Client {
  private readonly jwts = new Map<string, Promise<string>>();

  constructor(
    private readonly urls: string[],
    private readonly traffic: Traffic,
    private readonly random: () => number,
    /** The service's JOIN_JWT_SECRET: joins are signed in as their user. */
    private readonly joinSecret: string,
  ) {}

  async call(
    method: "GET" | "POST", path: string, body?: unknown, instance?: number, headers: Record<string, string> = {}, timeoutMs = 15_000,
  ): Promise<Reply> {
    const base = this.urls[instance ?? Math.floor(this.random() * this.urls.length)]!;
    this.traffic.requests++;
    try {
      const res = await fetch(base + path, {
        method,
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.status === 503) {
        this.traffic.unavailable++;
        this.traffic.unavailableAt.push({ at: Date.now(), path: path.replace(/\?.*/, ""), body: text.slice(0, 200) });
        if (!res.headers.has("retry-after")) this.traffic.unavailableWithoutRetryAfter++;
      } else if (res.status >= 500) this.traffic.serverErrors.push({ status: res.status, path, body: text.slice(0, 300) });
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        if (res.status < 500) this.traffic.serverErrors.push({ status: res.status, path, body: `not JSON: ${text.slice(0, 200)}` });
      }
      return { status: res.status, body: parsed, headers: res.headers };
    } catch {
      this.traffic.connectionErrors++;
      return { status: 0, body: null, headers: new Headers() };
    }
  }

  async join(userId: string, ticketTypeId: number, quantity: number, instance?: number) {
    const authorization = `Bearer ${await this.jwtFor(userId)}`;
    return this.call("POST", "/queue/join", { user_id: userId, ticket_type_id: ticketTypeId, quantity }, instance, { authorization });
  }

  /** One JWT per user, as a login session would hold it; it outlives any run. */
  private jwtFor(userId: string): Promise<string> {
    let jwt = this.jwts.get(userId);
    if (!jwt) {
      jwt = new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime("6h")
        .sign(new TextEncoder().encode(this.joinSecret));
      this.jwts.set(userId, jwt);
    }
    return jwt;
  }
  status(token: string, instance?: number) {
    return this.call("GET", `/reservation/status?token=${encodeURIComponent(token)}`, undefined, instance);
  }
  confirm(token: string, instance?: number) {
    return this.call("POST", "/reservation/confirm", { token }, instance);
  }
  release(token: string, instance?: number) {
    return this.call("POST", "/reservation/release", { token }, instance);
  }
}

/** A repeatable random source (mulberry32), so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const jitter = (random: () => number, min: number, max: number) => min + random() * (max - min);
