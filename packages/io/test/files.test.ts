import { Stream } from "@pirouette/core";
import {
  fileReadBlocksAsStream,
  fileReadBytes,
  fileReadCsv,
  fileReadCsvAsStream,
  fileReadLines,
  fileReadLinesAsStream,
  fileReadString,
  fileWriteBlocksFromStream,
  fileWriteBytes,
  fileWriteCsv,
  fileWriteCsvFromStream,
  fileWriteLines,
  fileWriteLinesFromStream,
  fileWriteString,
  IoError,
} from "@pirouette/io";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";

const dir = mkdtempSync(join(tmpdir(), "pirouette-io-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (name = "f"): string => join(dir, `${name}-${++n}`);

async function rejection(p: Promise<unknown>): Promise<IoError> {
  try {
    await p;
  } catch (e) {
    if (IoError.is(e)) return e;
    throw e;
  }
  throw new Error("did not reject");
}

const openFds = (): number => readdirSync("/proc/self/fd").length;
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe("blocks", () => {
  it("reads blocks of exactly blockSize bytes (the last shorter) that add up to the file", async () => {
    const path = file();
    const data = randomBytes(3 * 65_536 + 12_345);
    writeFileSync(path, data);
    for (const size of [1000, 4096, 65_536, 100_000]) {
      const blocks = await fileReadBlocksAsStream(path, size).toArray();
      expect(blocks.slice(0, -1).every((b) => b.length === size)).toBe(true);
      expect((blocks.at(-1)?.length ?? 0) <= size).toBe(true);
      expect(sha(Buffer.concat(blocks))).toBe(sha(data));
    }
    const small = await fileReadBlocksAsStream(path).take(2).toArray();
    expect(small.map((b) => b.length)).toEqual([4096, 4096]);
    expect(await fileReadBlocksAsStream(path, 7).take(1).toArray()).toEqual([data.subarray(0, 7)]);
  });

  it("copies a file block by block (OVERWRITE) and appends (APPEND)", async () => {
    const src = file();
    const dst = file();
    const data = randomBytes(500_001);
    writeFileSync(src, data);
    await fileWriteBlocksFromStream(dst, fileReadBlocksAsStream(src));
    expect(sha(readFileSync(dst))).toBe(sha(data));
    await fileWriteBlocksFromStream(dst, Stream.of(Buffer.from("tail")), "APPEND");
    expect(readFileSync(dst).subarray(-4).toString()).toBe("tail");
    expect(readFileSync(dst).length).toBe(data.length + 4);
    await fileWriteBlocksFromStream(dst, [Buffer.from("new")], "OVERWRITE");
    expect(readFileSync(dst, "utf8")).toBe("new");
  });

  it("rejects a bad block size", () => {
    expect(() => fileReadBlocksAsStream(file(), 0)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => fileReadBlocksAsStream(file(), 1.5)).toThrow(IoError);
  });
});

describe("typed file errors", () => {
  it("a missing file is IO_NOT_FOUND (with the path), never a raw ENOENT", async () => {
    const missing = join(dir, "nope", "missing.csv");
    for (const run of [
      () => fileReadBlocksAsStream(missing).toArray(),
      () => fileReadLinesAsStream(missing).toArray(),
      () => fileReadCsvAsStream(missing).toArray(),
      () => fileReadBytes(missing),
      () => fileReadString(missing),
      () => fileReadCsv(missing),
      () => fileWriteString(missing, "x"),
      () => fileWriteString(missing, "x", "APPEND"),
    ]) {
      const e = await rejection(run());
      expect(e.code).toBe("IO_NOT_FOUND");
      expect(e.coordinates).toMatchObject({ path: missing });
      expect((e.cause as NodeJS.ErrnoException).code).toBe("ENOENT");
    }
  });

  it("a directory is IO_IS_DIRECTORY; an unreadable file IO_PERMISSION (unless root)", async () => {
    expect((await rejection(fileReadBytes(dir))).code).toBe("IO_IS_DIRECTORY");
    expect((await rejection(fileReadLinesAsStream(dir).toArray())).code).toBe("IO_IS_DIRECTORY");
    const locked = file();
    writeFileSync(locked, "secret");
    chmodSync(locked, 0o000);
    const e = await fileReadString(locked).then(
      () => undefined,
      (err: unknown) => err,
    );
    if (process.getuid?.() === 0) expect(e).toBeUndefined();
    else expect((e as IoError).code).toBe("IO_PERMISSION");
  });
});

describe("atomic OVERWRITE", () => {
  it("leaves the old file untouched and no temporary file when the source fails", async () => {
    const path = file("atomic");
    writeFileSync(path, "old content\n");
    const boom = new Error("source died");
    const lines = Stream.from(async function* () {
      for (let i = 0; i < 50_000; i++) yield `line ${i}`;
      throw boom;
    });
    const e = await rejection(fileWriteLinesFromStream(path, lines));
    expect(e.code).toBe("IO_SOURCE");
    expect(e.cause).toBe(boom);
    expect(readFileSync(path, "utf8")).toBe("old content\n");
    expect(readdirSync(dir).filter((f) => f.includes("atomic"))).toEqual([path.slice(dir.length + 1)]);
  });

  it("keeps the file's permission bits and a symlink pointing at it", async () => {
    const real = file("real");
    const link = file("link");
    writeFileSync(real, "v1");
    chmodSync(real, 0o640);
    symlinkSync(real, link);
    await fileWriteString(link, "v2");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, "utf8")).toBe("v2");
    expect(statSync(real).mode & 0o777).toBe(0o640);
  });

  it("can rewrite a file from a stream reading that same file", async () => {
    const path = file();
    await fileWriteLines(path, ["a", "b", "c"]);
    await fileWriteLinesFromStream(path, fileReadLinesAsStream(path).map((l) => l.toUpperCase()));
    expect(await fileReadLines(path)).toEqual(["A", "B", "C"]);
  });
});

describe("lines", () => {
  it("splits on LF and CRLF, keeps a last line without terminator, no empty last line", async () => {
    const path = file();
    writeFileSync(path, "one\r\ntwo\n\nfour");
    expect(await fileReadLines(path)).toEqual(["one", "two", "", "four"]);
    writeFileSync(path, "x\n");
    expect(await fileReadLines(path)).toEqual(["x"]);
    writeFileSync(path, "");
    expect(await fileReadLines(path)).toEqual([]);
  });

  it("decodes multi-byte characters split across read boundaries", async () => {
    const path = file();
    const line = "é😀✓".repeat(30_000); // well over one 64 KiB read, characters straddle reads
    writeFileSync(path, `${line}\n${line}`);
    expect(await fileReadLines(path)).toEqual([line, line]);
  });

  it("writes lines with a terminator and appends", async () => {
    const path = file();
    await fileWriteLinesFromStream(path, Stream.of("a", "b"));
    await fileWriteLinesFromStream(path, ["c"], { option: "APPEND", lineTerminator: "\r\n" });
    expect(readFileSync(path, "utf8")).toBe("a\nb\nc\r\n");
    await fileWriteBytes(path, new Uint8Array([0x68, 0x69]));
    expect(await fileReadString(path)).toBe("hi");
  });
});

describe("early close releases the file", () => {
  it("a break, take() or close() closes the file descriptor", async () => {
    const path = file();
    writeFileSync(path, "id,v\n" + Array.from({ length: 100_000 }, (_, i) => `${i},x`).join("\n"));
    const before = openFds();
    const blocks = fileReadBlocksAsStream(path);
    await blocks.next();
    expect(openFds()).toBe(before + 1); // the stream holds the file open while in use
    await blocks.close();
    expect(openFds()).toBe(before);

    for await (const line of fileReadLinesAsStream(path)) {
      expect(line).toBe("id,v");
      break;
    }
    expect(openFds()).toBe(before);

    expect(await fileReadCsvAsStream(path).take(2).toArray()).toEqual([
      { id: "0", v: "x" },
      { id: "1", v: "x" },
    ]);
    expect(openFds()).toBe(before);

    await fileReadBlocksAsStream(path).toArray(); // drained
    expect(openFds()).toBe(before);
  });
});

describe("CSV files", () => {
  it("writes records with a header and reads them back through a schema", async () => {
    const path = file("orders.csv");
    const orders = [
      { id: "o1", amount: 12.5, paid: true, note: 'said "hi", left', at: new Date(0), ref: null },
      { id: "o2", amount: 3, paid: false, note: "", at: new Date(1000), ref: "r" },
    ];
    await fileWriteCsvFromStream(path, Stream.from(orders));
    expect(readFileSync(path, "utf8")).toBe(
      "id,amount,paid,note,at,ref\n" +
        'o1,12.5,true,"said ""hi"", left",1970-01-01T00:00:00.000Z,\n' +
        'o2,3,false,"",1970-01-01T00:00:01.000Z,r\n',
    );
    const Order = z.object({
      id: z.string(),
      amount: z.coerce.number(),
      paid: z.enum(["true", "false"]).transform((v) => v === "true"),
      note: z.string(),
      at: z.coerce.date(),
      ref: z.string().nullable(),
    });
    expect(await fileReadCsv(path, { nilValue: "" }, Order)).toEqual(orders);
    expect(await fileReadCsvAsStream(path, z.object({ id: z.string() })).toArray()).toEqual([{ id: "o1" }, { id: "o2" }]);
    expect(await fileReadCsv(path, { header: null })).toHaveLength(3);
  });

  it("errors of a CSV file carry the path and the line", async () => {
    const path = file("bad.csv");
    writeFileSync(path, 'a,b\n1,2\n3,"x"y\n');
    const e = await rejection(fileReadCsv(path));
    expect(e.code).toBe("IO_CSV_PARSE");
    expect(e.coordinates).toMatchObject({ path, line: 3 });
  });

  it("APPEND writes no second header and follows the existing column order", async () => {
    const path = file("append.csv");
    await fileWriteCsv(path, [{ id: "1", name: "Ada" }]);
    await fileWriteCsvFromStream(path, Stream.of({ name: "Grace", id: "2" }), "APPEND");
    await fileWriteCsv(path, [{ name: "Linus" }], "APPEND"); // a missing key is an empty field
    expect(readFileSync(path, "utf8")).toBe("id,name\n1,Ada\n2,Grace\n,Linus\n");
    // a record with a key the file has no column for fails, and the file is unchanged
    const e = await rejection(fileWriteCsv(path, [{ id: "3", name: "x", email: "x@y" }], "APPEND"));
    expect(e.code).toBe("IO_CSV_HEADER");
    expect(readFileSync(path, "utf8")).toBe("id,name\n1,Ada\n2,Grace\n,Linus\n");
  });

  it("APPEND to a missing or empty file writes the header; a missing final line break is added", async () => {
    const path = file("new.csv");
    await fileWriteCsv(path, [{ a: 1, b: 2 }], "APPEND");
    expect(readFileSync(path, "utf8")).toBe("a,b\n1,2\n");
    const noEol = file("noeol.csv");
    writeFileSync(noEol, "b;a\n1;2");
    await fileWriteCsv(noEol, [{ a: "A", b: "B" }], { option: "APPEND", delimiter: ";" });
    expect(readFileSync(noEol, "utf8")).toBe("b;a\n1;2\nB;A\n");
  });

  it("arrays are written as they are, without a header; OVERWRITE with header: false skips it", async () => {
    const path = file();
    await fileWriteCsv(path, [["x", "y"], ["1", null]]);
    await fileWriteCsv(path, [["2", ""]], "APPEND");
    expect(readFileSync(path, "utf8")).toBe('x,y\n1,\n2,""\n');
    await fileWriteCsv(path, [{ k: "v" }], { header: false });
    expect(readFileSync(path, "utf8")).toBe("v\n");
    await fileWriteCsv(path, [], { columns: ["p", "q"] });
    expect(readFileSync(path, "utf8")).toBe("p,q\n");
  });

  it("mixing arrays and records fails with INVALID_ARGUMENT", async () => {
    const e = await rejection(fileWriteCsv(file(), [["a"], { a: 1 }]));
    expect(e.code).toBe("INVALID_ARGUMENT");
  });

  it("round-trips a large generated CSV through the stream writer and reader", async () => {
    const path = file("big.csv");
    const count = 50_000;
    const rows = Stream.from(function* () {
      for (let i = 0; i < count; i++) yield { id: i, city: i % 7 === 0 ? "Saint-Étienne, FR" : "Oslo", qty: i % 13 };
    });
    await fileWriteCsvFromStream(path, rows);
    const Row = z.object({ id: z.coerce.number(), city: z.string(), qty: z.coerce.number() });
    const total = await fileReadCsvAsStream(path, Row).reduce((sum, r) => sum + r.qty, 0);
    let expected = 0;
    for (let i = 0; i < count; i++) expected += i % 13;
    expect(total).toBe(expected);
    expect(await fileReadCsvAsStream(path).count()).toBe(count);
  });
});
