import { describe, expect, it } from "vitest";
import { PirouetteError } from "@pirouette/core";
import type { SqlQuery } from "@pirouette/sql";
import { Client, sql, SqlError } from "@pirouette/sql";

describe("sql tag", () => {
  it("renders values as placeholders, never as text", () => {
    const evil = "'; DROP TABLE t; --";
    const q = sql`SELECT * FROM t WHERE a = ${evil} AND b = ${2}`;
    expect(q.render("postgres")).toEqual({ text: "SELECT * FROM t WHERE a = $1 AND b = $2", values: [evil, 2] });
    expect(q.render("mysql")).toEqual({ text: "SELECT * FROM t WHERE a = ? AND b = ?", values: [evil, 2] });
  });

  it("nests fragments and numbers placeholders across them", () => {
    const where = sql`WHERE a = ${1} AND b IN (${sql.join([2, 3])})`;
    const q = sql`SELECT ${sql.id("public", "my\"t")}.x FROM t ${where} LIMIT ${4}${sql.empty}`;
    expect(q.render("postgres")).toEqual({
      text: 'SELECT "public"."my""t".x FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT $4',
      values: [1, 2, 3, 4],
    });
    expect(sql`${sql.id("a`b")}`.render("mysql").text).toBe("`a``b`");
  });

  it("joins fragments with a separator", () => {
    const rows = [{ a: 1, b: "x" }, { a: 2, b: "y" }];
    const q = sql`INSERT INTO t (a, b) VALUES ${sql.join(rows.map((r) => sql`(${r.a}, ${r.b})`))}`;
    expect(q.render("mysql")).toEqual({ text: "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)", values: [1, "x", 2, "y"] });
  });

  it("rejects anything not built with the tag", async () => {
    const db = new Client({ url: "postgres://postgres@127.0.0.1:1/none" });
    expect(() => db.query("SELECT 1" as unknown as SqlQuery)).toThrow(SqlError);
    await expect(db.execute({ segments: [] } as unknown as SqlQuery)).rejects.toMatchObject({ code: "SQL_INVALID_QUERY" });
    expect(() => sql.id("")).toThrow(/identifier/);
    await db.close();
  });

  it("rejects bad options with coded errors", () => {
    expect(() => new Client({ url: "oracle://x" })).toThrow(expect.objectContaining({ code: "SQL_INVALID_CONFIG" }));
    expect(() => new Client({ url: "postgres://x", batchSize: 0 })).toThrow(expect.objectContaining({ code: "SQL_INVALID_CONFIG" }));
  });

  it("SqlError is a branded PirouetteError named after its class", () => {
    const e = new SqlError("SQL_NO_ROWS", "none");
    expect(e.name).toBe("SqlError");
    expect(PirouetteError.is(e)).toBe(true);
  });
});
