import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, sql, SqlError } from "@pirouette/sql";
import { Person, PGURL, uniqueName } from "./helpers.ts";

const app = uniqueName("pirouette_sql_test");
const db = new Client({ url: PGURL, applicationName: app, batchSize: 500 });
const table = uniqueName("people");
const t = sql.id(table);

async function sessions(where: "any" | "busy"): Promise<number> {
  const admin = new Client({ url: PGURL, maxConnections: 1 });
  try {
    const q =
      where === "any"
        ? sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${app}`
        : sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${app} AND state <> 'idle'`;
    return (await admin.queryRow(q)).n as number;
  } finally {
    await admin.close();
  }
}

beforeAll(async () => {
  await db.execute(sql`CREATE TABLE ${t} (id serial PRIMARY KEY, name text NOT NULL)`);
});
afterAll(async () => {
  await db.execute(sql`DROP TABLE IF EXISTS ${t}`);
  await db.close();
  expect(await sessions("any")).toBe(0);
});

describe("PostgreSQL client", () => {
  it("executes, reports affected rows and RETURNING ids, and reads rows back", async () => {
    const r = await db.execute(sql`INSERT INTO ${t} (name) VALUES (${"ada"}) RETURNING id`);
    expect(r).toEqual({ affectedRowCount: 1, lastInsertId: 1 });
    const many = await db.batchExecute(["bob", "cy"].map((n) => sql`INSERT INTO ${t} (name) VALUES (${n})`));
    expect(many.map((x) => x.affectedRowCount)).toEqual([1, 1]);
    const rows = await db.query(sql`SELECT id, name FROM ${t} ORDER BY id`).toArray();
    expect(rows).toEqual([
      { id: 1, name: "ada" },
      { id: 2, name: "bob" },
      { id: 3, name: "cy" },
    ]);
    const upd = await db.execute(sql`UPDATE ${t} SET name = upper(name) WHERE id > ${1}`);
    expect(upd.affectedRowCount).toBe(2);
  });

  it("queryRow returns the first row, or fails with SQL_NO_ROWS", async () => {
    const row = await db.queryRow(sql`SELECT id, name FROM ${t} WHERE name = ${"ada"}`, { schema: Person });
    expect(row.name).toBe("ada");
    await expect(db.queryRow(sql`SELECT * FROM ${t} WHERE id = ${-1}`)).rejects.toMatchObject({
      name: "SqlError",
      code: "SQL_NO_ROWS",
    });
  });

  it("keeps injection attempts as data", async () => {
    const evil = `x'); DROP TABLE ${table}; --`;
    await db.execute(sql`INSERT INTO ${t} (name) VALUES (${evil})`);
    const row = await db.queryRow(sql`SELECT name FROM ${t} WHERE name = ${evil}`);
    expect(row.name).toBe(evil);
    const none = await db.query(sql`SELECT * FROM ${t} WHERE name = ${"' OR '1'='1"}`).toArray();
    expect(none).toEqual([]);
    expect((await db.queryRow(sql`SELECT count(*)::int AS n FROM ${t}`)).n).toBe(4);
  });

  it("validates rows with a Standard Schema and fails the stream on a bad one", async () => {
    const people = await db.query(sql`SELECT id, name FROM ${t} ORDER BY id`, { schema: Person }).toArray();
    expect(people[0]).toEqual({ id: 1, name: "ada" });
    const bad = db.query(sql`SELECT id::text AS id, name FROM ${t} ORDER BY id`, { schema: Person });
    await expect(bad.toArray()).rejects.toMatchObject({ code: "PAYLOAD_VALIDATION", coordinates: { row: 0 } });
    expect(await sessions("busy")).toBe(0);
  });

  it("rolls a transaction back when the callback throws, and commits otherwise", async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO ${t} (name) VALUES (${"ghost"})`);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const id = await db.transaction(async (tx) => {
      const r = await tx.execute(sql`INSERT INTO ${t} (name) VALUES (${"tx"}) RETURNING id`);
      const seen = await tx.query(sql`SELECT name FROM ${t} WHERE id = ${r.lastInsertId}`).toArray();
      expect(seen).toEqual([{ name: "tx" }]);
      return r.lastInsertId;
    });
    expect((await db.queryRow(sql`SELECT name FROM ${t} WHERE id = ${id}`)).name).toBe("tx");
    expect(await db.query(sql`SELECT * FROM ${t} WHERE name = ${"ghost"}`).count()).toBe(0);
  });

  it("batchExecute is all or nothing and reports the failing statement", async () => {
    const before = (await db.queryRow(sql`SELECT count(*)::int AS n FROM ${t}`)).n;
    const err = await db
      .batchExecute([sql`INSERT INTO ${t} (name) VALUES (${"b1"})`, sql`INSERT INTO ${t} (name) VALUES (${null})`])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect(err).toMatchObject({ code: "SQL_BATCH_EXECUTE", failedIndex: 1, sqlState: "23502" });
    expect((await db.queryRow(sql`SELECT count(*)::int AS n FROM ${t}`)).n).toBe(before);
  });

  it("fails the stream with SQL_QUERY on a server error and leaves no busy session", async () => {
    const s = db.query(sql`SELECT 1 / (g - 3) AS x FROM generate_series(1, 10) g`, { batchSize: 1 });
    const seen: unknown[] = [];
    const err = await (async () => {
      for await (const r of s) seen.push(r);
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "SQL_QUERY", sqlState: "22012" });
    expect(seen.length).toBe(2);
    expect(await sessions("busy")).toBe(0);
  });

  it("streams 1M rows with bounded memory", async () => {
    const n = 1_000_000;
    global.gc?.();
    const base = process.memoryUsage().heapUsed;
    let peakHeap = base;
    let count = 0;
    let sum = 0;
    const started = Date.now();
    for await (const row of db.query(sql`SELECT g AS id, md5(g::text) AS name FROM generate_series(1, ${n}::int) g`, {
      batchSize: 2000,
    })) {
      count++;
      sum += row.id as number;
      if (count % 100_000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }
    const ms = Date.now() - started;
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    console.log(
      `pg 1M rows: ${ms} ms, ${Math.round((n / ms) * 1000)} rows/s, heap growth ${((peakHeap - base) / 2 ** 20).toFixed(1)} MiB, peak RSS ${maxRssMb.toFixed(0)} MiB`,
    );
    expect(count).toBe(n);
    expect(sum).toBe((n * (n + 1)) / 2);
    expect(peakHeap - base).toBeLessThan(96 * 2 ** 20);
  }, 120_000);

  it("closes the cursor on an early break: no busy session remains", async () => {
    let seen = 0;
    for await (const _row of db.query(sql`SELECT g FROM generate_series(1, 1000000) g`, { batchSize: 100 })) {
      if (++seen === 150) {
        expect(await sessions("busy")).toBe(1); // ours: idle in transaction, holding the open portal
        break;
      }
    }
    expect(await sessions("busy")).toBe(0);
  });

  it("is lazy: nothing runs before the first read, and close() releases the connection", async () => {
    const s = db.query(sql`SELECT g FROM generate_series(1, 100000) g`);
    expect(await sessions("busy")).toBe(0);
    const first = await s.next();
    expect(first).toEqual({ value: { g: 1 } });
    expect(await sessions("busy")).toBe(1);
    await s.close();
    await s.close();
    expect(await sessions("busy")).toBe(0);
  });

  it("reads rows inserted by the psql CLI (interop)", async () => {
    execFileSync("psql", [PGURL, "-v", "ON_ERROR_STOP=1", "-c", `INSERT INTO "${table}" (name) VALUES ('from-psql'), ('o''brien')`]);
    const rows = await db.query(sql`SELECT name FROM ${t} WHERE name IN (${sql.join(["from-psql", "o'brien"])}) ORDER BY name`).toArray();
    expect(rows.map((r) => r.name)).toEqual(["from-psql", "o'brien"]);
  });

  it("fails with SQL_CONNECTION when the server cannot be reached, and SQL_CLOSED after close", async () => {
    const off = new Client({ url: "postgres://postgres@127.0.0.1:1/test", connectTimeoutMs: 2000 });
    await expect(off.query(sql`SELECT 1`).toArray()).rejects.toMatchObject({ code: "SQL_CONNECTION" });
    await off.close();
    await expect(off.execute(sql`SELECT 1`)).rejects.toMatchObject({ code: "SQL_CLOSED" });
  });
});
