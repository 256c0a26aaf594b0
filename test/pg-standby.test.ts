// A hot standby of a throwaway PostgreSQL, named first in a multi-host DATABASE_URL, as after a
// switch the old primary is: the service's client must pass it by for the primary (postgres.js
// 3.4.9 as published took a standby for read-write; patches/postgres@3.4.9.patch), and a write
// that reaches a standby anyway is a 503, not a 500.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { LocalPostgres } from "../scripts/local-servers";
import { toErrorResponse } from "../src/core/errors";
import { createSql } from "../src/store/db";

let primary: LocalPostgres;
let standby: LocalPostgres;
beforeAll(async () => {
  primary = await LocalPostgres.start();
  standby = await primary.standby();
}, 60_000);
afterAll(async () => {
  await standby?.stop();
  await primary?.stop();
});

const standbyFirst = (query: string) => `postgres://postgres@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres${query}`;

async function serverOf(url: string) {
  const sql = createSql(url, { max: 1 });
  try {
    const [row] = await sql`SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby`;
    return row;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

describe("several hosts, the standby first", () => {
  test("target_session_attrs=read-write connects to the primary", async () => {
    expect(await serverOf(standbyFirst(`?target_session_attrs=read-write`))).toEqual({ port: primary.port, standby: false });
  });

  test("without target_session_attrs, read-write is what the service asks for", async () => {
    expect(await serverOf(standbyFirst(""))).toEqual({ port: primary.port, standby: false });
  });

  test("a write that reaches the standby is refused (25006) and answered 503 with Retry-After", async () => {
    const sql = createSql(`postgres://postgres@127.0.0.1:${standby.port}/postgres`, { max: 1 });
    try {
      const err = await sql`CREATE TABLE nowhere (id int)`.then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: "25006" });
      const res = toErrorResponse(err, () => {});
      expect(res.status).toBe(503);
      expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
