/**
 * Interop with a CSV writer and reader we did not write: PostgreSQL's `psql \copy … csv`.
 * Needs the local PostgreSQL (`scripts/services up postgres`, PGURL).
 */
import { Stream } from "@pirouette/core";
import { fileReadCsvAsStream, fileWriteCsvFromStream, parseToStream } from "@pirouette/io";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const PGURL = process.env["PGURL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const run = promisify(execFile);
const table = `io_csv_${randomBytes(4).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "pirouette-io-pg-"));

async function psql(command: string): Promise<string> {
  const { stdout } = await run("psql", [PGURL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

// Values chosen to exercise quoting: commas, quotes, line breaks, backslashes, NULL vs "".
const rows = [
  { id: 1, name: "plain", note: "hello", amount: "10.50" },
  { id: 2, name: 'quote "inside"', note: "a, b", amount: "0.01" },
  { id: 3, name: "multi\nline\r\nvalue", note: null, amount: "-3.00" },
  { id: 4, name: "", note: "c:\\temp\\x", amount: "12345.67" },
  { id: 5, name: "Zoë ✓ 😀", note: "#not a comment", amount: "1.00" },
];

beforeAll(async () => {
  await psql(`create table ${table} (id int primary key, name text not null, note text, amount numeric(12,2) not null)`);
  const values = rows
    .map((r) => `(${r.id}, ${lit(r.name)}, ${r.note === null ? "null" : lit(r.note)}, ${r.amount})`)
    .join(", ");
  await psql(`insert into ${table} values ${values}`);
  // a bigger slice for the streaming check
  await psql(`insert into ${table} select g, 'row ' || g, case when g % 3 = 0 then null else 'n' || g end, g / 100.0 from generate_series(100, 30099) g`);
});

afterAll(async () => {
  await psql(`drop table if exists ${table}`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function lit(s: string): string {
  return `E'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n").replace(/\r/g, "\\r")}'`;
}

describe("psql \\copy … to stdout with csv header", () => {
  it("reads what PostgreSQL writes, telling NULL from an empty string", async () => {
    const out = await psql(`\\copy (select id, name, note, amount from ${table} where id < 100 order by id) to stdout with csv header`);
    const Row = z.object({ id: z.coerce.number(), name: z.string(), note: z.string().nullable(), amount: z.string() });
    // PostgreSQL's CSV: an unquoted empty field is NULL, "" is an empty string
    const parsed = await parseToStream(Readable.from([Buffer.from(out)]), { nilValue: "", comment: null }, Row).toArray();
    expect(parsed).toEqual(rows);
  });

  it("streams a 30 000-row export from a file through a schema", async () => {
    const path = join(dir, "export.csv");
    const out = await psql(`\\copy (select id, name, note, amount from ${table} where id >= 100 order by id) to stdout with csv header`);
    writeFileSync(path, out);
    const Row = z.object({ id: z.coerce.number().int(), name: z.string(), note: z.string().nullable(), amount: z.coerce.number() });
    let count = 0;
    let nulls = 0;
    let total = 0;
    for await (const row of fileReadCsvAsStream(path, { nilValue: "" }, Row)) {
      count++;
      if (row.note === null) nulls++;
      total += row.amount;
    }
    expect(count).toBe(30_000);
    expect(nulls).toBe(10_000);
    expect(Math.round(total * 100)).toBe(Math.round(((100 + 30_099) * 30_000) / 2));
  });
});

describe("psql \\copy … from a CSV we wrote", () => {
  it("PostgreSQL accepts our file and reads NULL and empty strings back as written", async () => {
    const path = join(dir, "import.csv");
    const target = `${table}_in`;
    await psql(`create table ${target} (id int primary key, name text not null, note text, amount numeric(12,2) not null)`);
    try {
      await fileWriteCsvFromStream(path, Stream.from(rows));
      await psql(`\\copy ${target} from '${path}' with csv header`);
      const back = await psql(`\\copy (select id, name, note, amount from ${target} order by id) to stdout with csv header`);
      expect(
        await parseToStream(back, { nilValue: "", comment: null }, z.object({ id: z.coerce.number(), name: z.string(), note: z.string().nullable(), amount: z.string() })).toArray(),
      ).toEqual(rows);
      const nullCheck = await psql(`\\copy (select id from ${target} where note is null order by id) to stdout with csv`);
      expect(nullCheck.trim()).toBe("3");
      const emptyCheck = await psql(`\\copy (select id from ${target} where name = '' order by id) to stdout with csv`);
      expect(emptyCheck.trim()).toBe("4");
    } finally {
      await psql(`drop table if exists ${target}`);
    }
  });
});
