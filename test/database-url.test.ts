// DATABASE_URL with several hosts (pg_autoctl show uri's form): read, rewritten and logged
// without `new URL`, which refuses it; a config that cannot be read says so without its password.
import { describe, expect, test } from "bun:test";
import { ConfigError, describeUrl, loadEnv } from "../src/config/config";
import { databaseName, describeDatabaseUrl, parseDatabaseUrl, withDatabase, withParameter } from "../src/config/database-url";

const FORMATION = "postgres://app:pg-secret@127.0.0.1:45001,127.0.0.1:45002/tq?target_session_attrs=read-write&sslmode=prefer";

describe("a DATABASE_URL naming several hosts", () => {
  test("WHATWG's URL refuses it (what the service used before)", () => {
    expect(URL.canParse(FORMATION)).toBe(false);
  });

  test("parses: every host in order, ports defaulting to 5432, the rest as one URL", () => {
    const { hosts, first } = parseDatabaseUrl("postgresql://u:p@db1,db2:5433,[::1]:5434/tickets?target_session_attrs=primary");
    expect(hosts).toEqual([{ host: "db1", port: 5432 }, { host: "db2", port: 5433 }, { host: "::1", port: 5434 }]);
    expect(first.username).toBe("u");
    expect(first.password).toBe("p");
    expect(first.pathname).toBe("/tickets");
    expect(first.searchParams.get("target_session_attrs")).toBe("primary");
    expect(parseDatabaseUrl("postgres://postgres@127.0.0.1:5432/x").hosts).toEqual([{ host: "127.0.0.1", port: 5432 }]);
  });

  test("is logged as its hosts and database, without user or password", () => {
    expect(describeUrl(FORMATION)).toBe("127.0.0.1:45001,127.0.0.1:45002/tq");
    expect(describeDatabaseUrl("postgres://u:secret@[::1]:5433,db/x")).toBe("[::1]:5433,db:5432/x");
    expect(describeUrl("postgres://app:pg-pass@db.internal:5433/tickets?sslmode=require")).toBe("db.internal:5433/tickets");
    expect(describeUrl("postgres://u:secret@h1:5432,:5433/x")).toBe("(unparseable URL)");
  });

  test("names another database with every host and parameter kept", () => {
    expect(withDatabase(FORMATION, "postgres")).toBe(
      "postgres://app:pg-secret@127.0.0.1:45001,127.0.0.1:45002/postgres?target_session_attrs=read-write&sslmode=prefer",
    );
    expect(withDatabase("postgres://h1,h2", "tq_test_1")).toBe("postgres://h1,h2/tq_test_1");
    expect(databaseName(FORMATION)).toBe("tq");
    expect(databaseName("postgres://h1,h2")).toBe("");
  });

  test("takes a parameter with every host kept", () => {
    expect(withParameter(FORMATION, "application_name", "tq-pool")).toBe(
      "postgres://app:pg-secret@127.0.0.1:45001,127.0.0.1:45002/tq?target_session_attrs=read-write&sslmode=prefer&application_name=tq-pool",
    );
  });

  test("the config takes it; a host list it cannot read is a ConfigError that shows no password", () => {
    expect(loadEnv({ DATABASE_URL: FORMATION }).DATABASE_URL).toBe(FORMATION);
    for (const bad of ["postgres://u:pg-secret@h1:5432,/db", "postgres://u:pg-secret@h1:5432,h2:99999/db", "postgres://u:pg-secret@h 1/db"]) {
      let error: unknown;
      try {
        loadEnv({ DATABASE_URL: bad });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toStartWith("DATABASE_URL must be a postgres:// URL, with one host or several");
      expect((error as Error).message).not.toContain("pg-secret");
    }
  });
});
