// A PostgreSQL URL may name several hosts, as libpq and postgres.js allow
// (`postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write`, what
// `pg_autoctl show uri` prints). WHATWG's URL parser refuses such an authority, so everything
// here that reads or rewrites DATABASE_URL goes through these, and postgres.js gets the text as given.

export type DatabaseHost = { host: string; port: number };

export type DatabaseUrl = {
  /** Every host in the order given (a client tries them in turn). */
  hosts: DatabaseHost[];
  /** The URL with its first host only: user, password, database and parameters, as WHATWG parses them. */
  first: URL;
};

// scheme://[userinfo@]hosts[/database][?parameters][#fragment]
const PARTS = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/s;
const DEFAULT_PORT = 5432;

/** Parses a single- or multi-host PostgreSQL URL; throws a TypeError (as `new URL` does) when it cannot. */
export function parseDatabaseUrl(text: string): DatabaseUrl {
  const parts = PARTS.exec(text);
  if (!parts) throw new TypeError("Invalid URL: expected postgres:// or postgresql://");
  const [, scheme, authority, rest] = parts as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  const userinfo = at < 0 ? "" : authority.slice(0, at + 1);
  const list = authority.slice(at + 1).split(",");
  const hosts = list.map((one) => {
    const u = new URL(`${scheme}${one}`); // checks the host and the port
    if (!u.hostname) throw new TypeError(`Invalid URL: a host is empty in "${authority.slice(at + 1)}"`);
    return { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: u.port ? Number(u.port) : DEFAULT_PORT };
  });
  return { hosts, first: new URL(`${scheme}${userinfo}${list[0]}${rest}`) };
}

/** The same URL, every host kept, naming database `name` instead (the service creates its own from "postgres"). */
export function withDatabase(text: string, name: string): string {
  parseDatabaseUrl(text);
  const [, head, rest] = /^(postgres(?:ql)?:\/\/[^/?#]*)(?:\/[^?#]*)?(.*)$/s.exec(text)!;
  return `${head}/${encodeURIComponent(name)}${rest}`;
}

/** The database a URL names, decoded ("" when it names none). */
export const databaseName = (text: string): string => decodeURIComponent(parseDatabaseUrl(text).first.pathname.slice(1));

/** The same URL with one query parameter set (application_name, say), every host kept. */
export function withParameter(text: string, key: string, value: string): string {
  const { first } = parseDatabaseUrl(text);
  first.searchParams.set(key, value);
  const [, head] = /^(postgres(?:ql)?:\/\/[^/?#]*[^?#]*)/s.exec(text)!;
  return `${head}?${first.searchParams}`;
}

/** Where the URL points, without user or password: `h1:5432,h2:5432/db`, for log lines. */
export function describeDatabaseUrl(text: string): string {
  const { hosts, first } = parseDatabaseUrl(text);
  const where = hosts.map(({ host, port }) => `${host.includes(":") ? `[${host}]` : host}:${port}`).join(",");
  return `${where}${first.pathname.length > 1 ? first.pathname : ""}`;
}
