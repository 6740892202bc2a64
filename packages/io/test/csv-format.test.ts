import { Stream } from "@pirouette/core";
import { IoError, parseToStream, stringifyCsv, stringifyToStream } from "@pirouette/io";
import { describe, expect, it } from "vitest";

describe("stringifyCsv", () => {
  it("writes records with a header, quoting what needs it", () => {
    expect(stringifyCsv([{ id: "1", note: 'say "hi", bye' }, { id: "2", note: "two\nlines" }])).toBe(
      'id,note\n1,"say ""hi"", bye"\n2,"two\nlines"\n',
    );
    expect(stringifyCsv([["a", 1, true, 10n, null, undefined, "", new Date(0), { x: 1 }]])).toBe(
      'a,1,true,10,,,"",1970-01-01T00:00:00.000Z,"{""x"":1}"\n',
    );
    expect(stringifyCsv([])).toBe("");
  });

  it("honours delimiter, lineTerminator, columns, header and nilValue; what it writes parses back", async () => {
    const records = [
      { id: "1", v: null, w: "NULL" },
      { id: "2", v: "a;b", w: "" },
    ];
    const text = stringifyCsv(records, { delimiter: ";", lineTerminator: "\r\n", nilValue: "NULL" });
    expect(text).toBe('id;v;w\r\n1;NULL;"NULL"\r\n2;"a;b";""\r\n');
    expect(await parseToStream(text, { delimiter: ";", nilValue: "NULL" }).toArray()).toEqual(records);
    expect(stringifyCsv([{ b: 1, a: 2 }], { columns: ["a", "b"] })).toBe("a,b\n2,1\n");
    expect(stringifyCsv([{ a: 1 }], { header: false })).toBe("1\n");
    expect(stringifyCsv([{ a: 1 }, { b: 2 }].slice(0, 1), { columns: ["a", "b"] })).toBe("a,b\n1,\n");
  });

  it("round-trips backslash escapes with escapeChar", async () => {
    const rows = [['say "hi"', "c:\\dir", 'both "q" and c:\\x']];
    const text = stringifyCsv(rows, { escapeChar: "\\" });
    expect(await parseToStream(text, { header: null, escapeChar: "\\" }).toArray()).toEqual(rows);
  });

  it("rejects unknown record keys, mixed rows and bad options", () => {
    expect(() => stringifyCsv([{ a: 1 }, { a: 2, b: 3 }])).toThrow(expect.objectContaining({ code: "IO_CSV_HEADER" }));
    expect(() => stringifyCsv([["a"], { a: 1 }])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => stringifyCsv([["a"]], { delimiter: "" })).toThrow(IoError);
    expect(() => stringifyCsv([["a"]], { lineTerminator: ";" as never })).toThrow(IoError);
    expect(() => stringifyCsv([["a"]], { columns: ["x", "x"] })).toThrow(/twice/);
  });
});

describe("stringifyToStream", () => {
  it("is lazy: rows are pulled as the bytes are read, and closing it closes the rows", async () => {
    let produced = 0;
    let closed = false;
    const rows = Stream.from(
      (async function* () {
        for (let i = 0; i < 1_000_000; i++) {
          produced++;
          yield { n: i };
          if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
        }
      })(),
      { close: () => (closed = true) },
    );
    const bytes = stringifyToStream(rows);
    const first = await bytes.next();
    expect(Buffer.from((first as { value: Uint8Array }).value).toString()).toMatch(/^n\n0\n1\n/);
    expect(produced).toBeLessThan(2_000);
    await bytes.close();
    expect(closed).toBe(true);
  });

  it("fails with IO_SOURCE when the rows fail, and writes a header-only CSV for no rows with columns", async () => {
    const boom = new Error("boom");
    const failing = stringifyToStream(Stream.fail(boom));
    const e = await failing.toArray().then(
      () => undefined,
      (err: unknown) => err as IoError,
    );
    expect(e?.code).toBe("IO_SOURCE");
    expect(e?.cause).toBe(boom);
    const empty = await stringifyToStream([], { columns: ["a", "b"] }).toArray();
    expect(Buffer.concat(empty).toString()).toBe("a,b\n");
  });
});
