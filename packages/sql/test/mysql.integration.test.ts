import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, sql, SqlError } from "@pirouette/sql";
import { MYSQL_URL, Person, uniqueName } from "./helpers.ts";

const db = new Client({ url: MYSQL_URL, batchSize: 500 });
const table = uniqueName("people");
const t = sql.id(table);
const url = new URL(MYSQL_URL);

/** Connections running a statement that mentions `marker` (other than this probe). */
async function running(marker: string): Promise<number> {
  const admin = new Client({ url: MYSQL_URL, maxConnections: 1 });
  try {
    const like = `%${marker}%`;
    const r = await admin.queryRow(
      sql`SELECT count(*) AS n FROM information_schema.processlist WHERE info LIKE ${like} AND info NOT LIKE '%processlist%'`,
    );
    return Number(r.n);
  } finally {
    await admin.close();
  }
}

beforeAll(async () => {
  await db.execute(sql`CREATE TABLE ${t} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL)`);
});
afterAll(async () => {
  await db.execute(sql`DROP TABLE IF EXISTS ${t}`);
  await db.close();
});

describe("MySQL/MariaDB client", () => {
  it("executes with affected rows and lastInsertId, and streams rows back", async () => {
    const r = await db.execute(sql`INSERT INTO ${t} (name) VALUES (${"ada"})`);
    expect(r).toEqual({ affectedRowCount: 1, lastInsertId: 1 });
    const many = await db.batchExecute(["bob", "cy"].map((n) => sql`INSERT INTO ${t} (name) VALUES (${n})`));
    expect(many.map((x) => x.lastInsertId)).toEqual([2, 3]);
    const rows = await db.query(sql`SELECT id, name FROM ${t} ORDER BY id`, { schema: Person }).toArray();
    expect(rows).toEqual([
      { id: 1, name: "ada" },
      { id: 2, name: "bob" },
      { id: 3, name: "cy" },
    ]);
    expect((await db.execute(sql`UPDATE ${t} SET name = UPPER(name) WHERE id > ${1}`)).affectedRowCount).toBe(2);
  });

  it("queryRow and SQL_NO_ROWS", async () => {
    expect((await db.queryRow(sql`SELECT name FROM ${t} WHERE id = ${1}`)).name).toBe("ada");
    await expect(db.queryRow(sql`SELECT * FROM ${t} WHERE id = ${-1}`)).rejects.toMatchObject({ code: "SQL_NO_ROWS" });
  });

  it("keeps injection attempts as data", async () => {
    const evil = `x'); DROP TABLE ${table}; -- \\' "`;
    await db.execute(sql`INSERT INTO ${t} (name) VALUES (${evil})`);
    expect((await db.queryRow(sql`SELECT name FROM ${t} WHERE name = ${evil}`)).name).toBe(evil);
    expect(await db.query(sql`SELECT * FROM ${t} WHERE name = ${"' OR '1'='1"}`).count()).toBe(0);
    expect(Number((await db.queryRow(sql`SELECT count(*) AS n FROM ${t}`)).n)).toBe(4);
  });

  it("transactions commit and roll back; batchExecute is all or nothing", async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO ${t} (name) VALUES (${"ghost"})`);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await db.query(sql`SELECT * FROM ${t} WHERE name = ${"ghost"}`).count()).toBe(0);
    await db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO ${t} (name) VALUES (${"tx"})`);
      // an early exit inside a transaction keeps the connection usable
      for await (const _ of tx.query(sql`SELECT seq FROM seq_1_to_100000`, { batchSize: 10 })) break;
      expect(await tx.query(sql`SELECT name FROM ${t} WHERE name = ${"tx"}`).count()).toBe(1);
    });
    expect(await db.query(sql`SELECT name FROM ${t} WHERE name = ${"tx"}`).count()).toBe(1);
    const err = await db
      .batchExecute([sql`INSERT INTO ${t} (name) VALUES (${"b1"})`, sql`INSERT INTO ${t} (name) VALUES (${null})`])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect(err).toMatchObject({ code: "SQL_BATCH_EXECUTE", failedIndex: 1, errno: 1048 });
    expect(await db.query(sql`SELECT * FROM ${t} WHERE name = ${"b1"}`).count()).toBe(0);
  });

  it("fails the stream with SQL_QUERY on a server error", async () => {
    await expect(db.query(sql`SELECT * FROM no_such_table_${sql.id(table)}`).toArray()).rejects.toMatchObject({
      code: "SQL_QUERY",
    });
  });

  it("streams 500k rows with bounded memory", async () => {
    const n = 500_000;
    global.gc?.();
    const base = process.memoryUsage().heapUsed;
    let peakHeap = base;
    let count = 0;
    const started = Date.now();
    for await (const _row of db.query(sql`SELECT seq AS id, MD5(seq) AS name FROM seq_1_to_500000`)) {
      if (++count % 50_000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }
    const ms = Date.now() - started;
    console.log(
      `mysql 500k rows: ${ms} ms, ${Math.round((n / ms) * 1000)} rows/s, heap growth ${((peakHeap - base) / 2 ** 20).toFixed(1)} MiB, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
    );
    expect(count).toBe(n);
    expect(peakHeap - base).toBeLessThan(96 * 2 ** 20);
  }, 120_000);

  it("an early break ends the server-side query", async () => {
    const marker = uniqueName("brk");
    let seen = 0;
    for await (const _ of db.query(sql`SELECT seq, ${marker} AS m FROM seq_1_to_5000000`, { batchSize: 100 })) {
      if (++seen === 1) expect(await running("seq_1_to_5000000")).toBe(1);
      if (seen === 1000) break;
    }
    for (let i = 0; i < 50 && (await running("seq_1_to_5000000")) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await running("seq_1_to_5000000")).toBe(0);
    expect(Number((await db.queryRow(sql`SELECT 1 AS one`)).one)).toBe(1);
  });

  it("reads rows inserted by the mariadb CLI (interop)", async () => {
    const args = ["-h", url.hostname, "-P", url.port || "3306", "-u", decodeURIComponent(url.username), url.pathname.slice(1)];
    execFileSync("mariadb", [...args, "-e", `INSERT INTO \`${table}\` (name) VALUES ('from-cli'), ('o''brien')`]);
    const rows = await db.query(sql`SELECT name FROM ${t} WHERE name IN (${sql.join(["from-cli", "o'brien"])}) ORDER BY name`).toArray();
    expect(rows.map((r) => r.name)).toEqual(["from-cli", "o'brien"]);
  });
});
