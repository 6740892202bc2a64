import type { StandardSchemaV1 } from "@standard-schema/spec";
import { type } from "arktype";
import fc from "fast-check";
import * as v from "valibot";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { z } from "zod";
import { PayloadBindingError, PayloadValidationError, PirouetteError } from "../src/errors.ts";
import {
  bind,
  bytes,
  csv,
  type Codec,
  type CsvRecord,
  DEFAULT_MAX_BYTES,
  isStandardSchema,
  json,
  text,
  validate,
} from "../src/codec/index.ts";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Run `fn`, expect it to throw a PayloadBindingError, and return it. */
function bindingError(fn: () => unknown): PayloadBindingError {
  try {
    fn();
  } catch (e) {
    expect(PirouetteError.is(e)).toBe(true);
    expect(e).toBeInstanceOf(PayloadBindingError);
    return e as PayloadBindingError;
  }
  throw new Error("expected a PayloadBindingError, nothing was thrown");
}

async function rejection(promise: Promise<unknown>): Promise<PayloadBindingError> {
  try {
    await promise;
  } catch (e) {
    expect(PirouetteError.is(e)).toBe(true);
    expect(e).toBeInstanceOf(PayloadBindingError);
    return e as PayloadBindingError;
  }
  throw new Error("expected a rejection with a PayloadBindingError");
}

const nested = (depth: number, open = "[", close = "]"): string => open.repeat(depth) + close.repeat(depth);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("json codec: prototype pollution", () => {
  const codec = json();
  const payloads = [
    '{"__proto__":{"polluted":1}}',
    '{"a":{"b":[{"__proto__":{"polluted":1}}]}}',
    '{"\\u005f_proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"polluted":1}}}',
    '[{"x":{"constructor":{"prototype":{"polluted":1}}}}]',
  ];

  it.each(payloads)("rejects %s and leaves Object.prototype alone", (payload) => {
    const err = bindingError(() => codec.decode(utf8(payload)));
    expect(err.code).toBe("PAYLOAD_BINDING");
    expect(err.message).toMatch(/prototype/);
    expect(err.cause).toBeInstanceOf(SyntaxError);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain("polluted");
  });

  it("keeps the rejected value away from merges (the attack it prevents)", () => {
    // What JSON.parse alone allows: an own __proto__ key that Object.assign turns into a prototype.
    const raw = JSON.parse('{"__proto__":{"polluted":1}}') as object;
    expect((Object.assign({}, raw) as Record<string, unknown>)["polluted"]).toBe(1);
    expect(() => codec.decode(utf8('{"__proto__":{"polluted":1}}'))).toThrow(PayloadBindingError);
  });

  it("accepts a plain constructor key and the string __proto__ as a value", () => {
    expect(codec.decode(utf8('{"constructor":"x","note":"__proto__"}'))).toEqual({
      constructor: "x",
      note: "__proto__",
    });
  });
});

describe("json codec: depth", () => {
  const codec = json();

  it("accepts depth 64 and rejects depth 65 (arrays, objects, mixed)", () => {
    expect(() => codec.decode(utf8(nested(64)))).not.toThrow();
    const err = bindingError(() => codec.decode(utf8(nested(65))));
    expect(err.message).toMatch(/deeper than 64 levels/);
    expect(err.cause).toBeInstanceOf(RangeError);

    const objects = (depth: number): string => '{"a":'.repeat(depth - 1) + "{}" + "}".repeat(depth - 1);
    expect(() => codec.decode(utf8(objects(64)))).not.toThrow();
    expect(() => codec.decode(utf8(objects(65)))).toThrow(/deeper than 64/);

    const build = (depth: number): unknown => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
      return value;
    };
    expect(() => codec.decode(utf8(JSON.stringify(build(64))))).not.toThrow();
    expect(() => codec.decode(utf8(JSON.stringify(build(65))))).toThrow(/deeper than 64/);
  });

  it("ignores brackets inside strings, including after escaped quotes", () => {
    const value = { s: "[".repeat(200), t: '\\"[[[[', u: "{".repeat(100) };
    expect(codec.decode(utf8(JSON.stringify(value)))).toEqual(value);
  });

  it("honours a custom maxDepth", () => {
    expect(() => json({ maxDepth: 2 }).decode(utf8("[[1]]"))).not.toThrow();
    expect(() => json({ maxDepth: 2 }).decode(utf8("[[[1]]]"))).toThrow(/deeper than 2 levels/);
    expect(json({ maxDepth: 0 }).decode(utf8("7"))).toBe(7);
  });

  it("rejects a 1e6-deep array quickly, with no stack overflow", () => {
    const payload = Buffer.from(nested(1_000_000));
    // With the default 1 MiB cap the size check stops it first.
    expect(() => codec.decode(payload)).toThrow(/over the 1048576-byte limit/);
    // With a larger cap, the depth scan stops it at the 65th bracket.
    const big = json({ maxBytes: 4 * 1024 * 1024 });
    const started = performance.now();
    const err = bindingError(() => big.decode(payload));
    const elapsed = performance.now() - started;
    expect(err.message).toMatch(/deeper than 64 levels \(maxDepth\) at offset 64/);
    expect(err.cause).toBeInstanceOf(RangeError);
    expect(elapsed).toBeLessThan(250);
  });
});

describe("json codec: numbers", () => {
  const codec = json();

  it.each(["12345678901234567890", "-12345678901234567890", "9007199254740992", "-9007199254740992"])(
    "rejects the unsafe integer %s by default",
    (literal) => {
      const err = bindingError(() => codec.decode(utf8(`{"id":${literal}}`)));
      expect(err.code).toBe("PAYLOAD_BINDING");
      expect(err.message).toContain(literal);
      expect(err.message).toMatch(/MAX_SAFE_INTEGER/);
    },
  );

  it("accepts the safe boundary, strings, and non-integer literals", () => {
    expect(codec.decode(utf8("[9007199254740991,-9007199254740991,0,-0]"))).toEqual([
      9007199254740991, -9007199254740991, 0, -0,
    ]);
    expect(codec.decode(utf8('{"id":"12345678901234567890"}'))).toEqual({ id: "12345678901234567890" });
    expect(codec.decode(utf8("[12345678901234567890.5, 1.2e25, 1e-400]"))).toEqual([12345678901234567000, 1.2e25, 0]);
  });

  it('accepts unsafe integers with unsafeIntegers: "allow"', () => {
    expect(json({ unsafeIntegers: "allow" }).decode(utf8("12345678901234567890"))).toBe(12345678901234567000);
  });

  it.each(["1e400", "-1e400", "[1.5E+309]", `{"n":${"9".repeat(400)}}`])("rejects the non-finite number in %s", (payload) => {
    const err = bindingError(() => json({ unsafeIntegers: "allow" }).decode(utf8(payload)));
    expect(err.message).toMatch(/not a finite double/);
    expect(() => codec.decode(utf8(payload))).toThrow(PayloadBindingError);
  });

  it("finds unsafe and non-finite numbers deep inside small payloads (the fast path)", () => {
    const text = '{"a":[{"b":[1,2,{"c":12345678901234567890}]}]}';
    const err = bindingError(() => codec.decode(utf8(text)));
    expect(err.message).toContain(`integer 12345678901234567890 at offset ${text.indexOf("1234")}, beyond Number.MAX_SAFE_INTEGER`);
    const allow = json({ unsafeIntegers: "allow" });
    expect(allow.decode(utf8('{"a":[{"c":12345678901234567890}]}'))).toEqual({ a: [{ c: 12345678901234567000 }] });
    const inf = '{"a":[1,{"b":-1e999}]}';
    expect(() => allow.decode(utf8(inf))).toThrow(`-1e999 at offset ${inf.indexOf("-1e")}, which is not a finite double`);
    // Beyond 2^53 but written with a fraction or an exponent: allowed, whatever the path.
    expect(codec.decode(utf8('{"a":[1e300,-2.5e20,12345678901234567890.0]}'))).toEqual({ a: [1e300, -2.5e20, 12345678901234567000] });
  });

  it("abbreviates huge number tokens in the message", () => {
    const err = bindingError(() => codec.decode(utf8("1".repeat(10_000))));
    expect(err.message.length).toBeLessThan(300);
    expect(err.message).toContain("10000 characters");
  });
});

describe("json codec: size, encoding and syntax", () => {
  it("rejects an oversize payload from its length, before decoding or parsing", () => {
    const parse = vi.spyOn(JSON, "parse");
    const codec = json({ maxBytes: 10 });
    // 11 bytes of invalid UTF-8 and invalid JSON: only the size may be reported.
    const err = bindingError(() => codec.decode(new Uint8Array(11).fill(0xff)));
    expect(err.message).toBe("json payload is 11 bytes, over the 10-byte limit (maxBytes)");
    expect(err.cause).toBeInstanceOf(RangeError);
    expect(parse).not.toHaveBeenCalled();
    expect(codec.decode(utf8('"12345678"'))).toBe("12345678"); // exactly 10 bytes
    expect(DEFAULT_MAX_BYTES).toBe(1_048_576);
    expect(() => json().decode(Buffer.alloc(DEFAULT_MAX_BYTES + 1, 0x20))).toThrow(/over the 1048576-byte limit/);
  });

  it.each([
    ["a lone 0xff", [0x22, 0xff, 0x22]],
    ["an overlong '/'", [0x22, 0xc0, 0xaf, 0x22]],
    ["an encoded surrogate", [0x22, 0xed, 0xa0, 0x80, 0x22]],
    ["a truncated sequence", [0x22, 0xe2, 0x82, 0x22]],
  ])("rejects invalid UTF-8 (%s)", (_name, octets) => {
    const err = bindingError(() => json().decode(new Uint8Array(octets)));
    expect(err.message).toBe("json payload is not valid UTF-8");
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it("accepts Buffers and a leading byte-order mark", () => {
    expect(json().decode(Buffer.from('{"a":"é"}'))).toEqual({ a: "é" });
    expect(json().decode(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8("[1]")]))).toEqual([1]);
  });

  it.each(["", "{", "{'a':1}", "[1,]", "NaN", "01"])("rejects malformed JSON %j with the SyntaxError as cause", (payload) => {
    const err = bindingError(() => json().decode(utf8(payload)));
    expect(err.message).toMatch(/^json payload is not valid JSON: /);
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });

  it("rejects a non-Uint8Array input", () => {
    const err = bindingError(() => json().decode("{}" as unknown as Uint8Array));
    expect(err.message).toMatch(/only decode a Uint8Array, got string/);
  });

  it("validates its options", () => {
    for (const bad of [{ maxBytes: -1 }, { maxBytes: Number.NaN }, { maxDepth: 1.5 }, { unsafeIntegers: "bigint" }]) {
      try {
        json(bad as never);
        expect.unreachable();
      } catch (e) {
        expect(PirouetteError.is(e) && e.code).toBe("INVALID_ARGUMENT");
      }
    }
  });
});

describe("json codec: encode", () => {
  const codec = json();

  it("round-trips values as UTF-8", () => {
    const value = { id: 1, name: "Zoë 🎉", tags: ["a", "b"], nested: { ok: true, none: null } };
    const encoded = codec.encode(value);
    expect(encoded).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(encoded).toString("utf8")).toBe(JSON.stringify(value));
    expect(codec.decode(encoded)).toEqual(value);
    expect(codec.name).toBe("json");
    expect(codec.contentType).toBe("application/json");
  });

  it("rejects a BigInt and a cycle with code PAYLOAD_BINDING", () => {
    const big = bindingError(() => codec.encode({ n: 1n }));
    expect(big.code).toBe("PAYLOAD_BINDING");
    expect(big.message).toMatch(/cannot serialize/);
    expect(big.cause).toBeInstanceOf(TypeError);

    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    const cycle = bindingError(() => codec.encode(cyclic));
    expect(cycle.code).toBe("PAYLOAD_BINDING");
    expect(cycle.cause).toBeInstanceOf(TypeError);
  });

  it("rejects values JSON.stringify turns into nothing", () => {
    expect(() => codec.encode(undefined)).toThrow(/cannot serialize a value of type undefined/);
    expect(() => codec.encode(() => 1)).toThrow(PayloadBindingError);
    expect(() => codec.encode(Symbol("s"))).toThrow(PayloadBindingError);
  });

  it("rejects a value too deep to stringify instead of crashing", () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    const err = bindingError(() => codec.encode(deep));
    expect(err.cause).toBeInstanceOf(RangeError);
  });

  it("decodes the same with and without the fast path (property)", () => {
    // 70 brackets in a string: the text may nest deeper than 64, so the exact scan runs first.
    const pad = "[".repeat(70);
    const outcome = (c: typeof codec, text: string): unknown => {
      try {
        return { value: c.decode(utf8(text)) };
      } catch (e) {
        return { error: (e as Error).message.replace(/ at offset \d+/, "") };
      }
    };
    for (const c of [codec, json({ unsafeIntegers: "allow" })]) {
      fc.assert(
        fc.property(
          fc.jsonValue({ maxDepth: 6 }),
          fc.oneof(fc.constant(0), fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }), fc.constantFrom("1e400", "-2e308", "1e20", "9007199254740993")),
          (value, extra) => {
            fc.pre(!hasForbiddenKey(value));
            const inner = `[${JSON.stringify(value)},${String(extra)}]`;
            const fast = outcome(c, inner);
            const exact = outcome(c, `{"pad":"${pad}","v":${inner}}`);
            if ("value" in (exact as object)) expect(fast).toEqual({ value: (exact as { value: { v: unknown } }).value.v });
            else expect(fast).toEqual(exact);
          },
        ),
        { numRuns: 200 },
      );
    }
  });

  it("maxDepth: Infinity decodes very deep nesting without recursion errors", () => {
    const deep = "[".repeat(5000) + "1" + "]".repeat(5000);
    let v = json({ maxDepth: Number.POSITIVE_INFINITY }).decode(utf8(deep));
    for (let i = 0; i < 5000; i++) v = (v as unknown[])[0];
    expect(v).toBe(1);
  });

  it("round-trips arbitrary JSON values (property)", () => {
    const allow = json<unknown>({ unsafeIntegers: "allow", maxDepth: 64 });
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 20 }), (value) => {
        fc.pre(!hasForbiddenKey(value));
        // -0 is written as 0, as JSON.stringify does.
        const expected: unknown = JSON.parse(JSON.stringify(value));
        expect(allow.decode(allow.encode(value))).toEqual(expected);
        // The default codec agrees, or refuses an integer literal beyond 2^53 that it cannot keep exact.
        try {
          expect(codec.decode(codec.encode(value))).toEqual(expected);
        } catch (e) {
          expect(e).toBeInstanceOf(PayloadBindingError);
          expect((e as Error).message).toMatch(/MAX_SAFE_INTEGER/);
          expect(hasUnsafeInteger(value)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

function hasForbiddenKey(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return value.some(hasForbiddenKey);
  return Object.entries(value).some(([k, v]) => k === "__proto__" || k === "constructor" || hasForbiddenKey(v));
}

function hasUnsafeInteger(value: unknown): boolean {
  if (typeof value === "number") return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (typeof value !== "object" || value === null) return false;
  return Object.values(value).some(hasUnsafeInteger);
}

describe("text codec", () => {
  it("round-trips strict UTF-8", () => {
    const codec = text();
    for (const s of ["", "plain", "héllo wörld", "𝄞 music", "日本語"]) expect(codec.decode(codec.encode(s))).toBe(s);
    expect(codec.contentType).toBe("text/plain; charset=utf-8");
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => codec.decode(codec.encode(s)) === s));
  });

  it("rejects invalid UTF-8 rather than inserting U+FFFD", () => {
    const err = bindingError(() => text().decode(new Uint8Array([0x61, 0xff, 0x62])));
    expect(err.message).toBe("text payload is not valid UTF-8");
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it("enforces maxBytes (default 1 MiB)", () => {
    expect(() => text({ maxBytes: 3 }).decode(utf8("abcd"))).toThrow("text payload is 4 bytes, over the 3-byte limit");
    expect(text({ maxBytes: 4 }).decode(utf8("abcd"))).toBe("abcd");
    expect(() => text().decode(Buffer.alloc(DEFAULT_MAX_BYTES + 1, 0x61))).toThrow(/over the 1048576-byte limit/);
    expect(text({ maxBytes: Number.POSITIVE_INFINITY }).decode(Buffer.alloc(DEFAULT_MAX_BYTES + 1, 0x61))).toHaveLength(
      DEFAULT_MAX_BYTES + 1,
    );
  });

  it("refuses to encode lone surrogates and non-strings", () => {
    expect(() => text().encode("a\ud800b")).toThrow(/lone surrogate \(at index 1\)/);
    expect(() => text().encode(42 as unknown as string)).toThrow(/only encode a string, got number/);
  });
});

describe("bytes codec", () => {
  it("is the identity on Uint8Array and Buffer", () => {
    const codec = bytes();
    const data = new Uint8Array([1, 2, 3]);
    expect(codec.encode(data)).toBe(data);
    expect(codec.decode(data)).toBe(data);
    const buffer = Buffer.from([4, 5]);
    expect(codec.encode(buffer)).toBe(buffer);
    expect(codec.decode(buffer)).toBe(buffer);
    expect(codec.contentType).toBe("application/octet-stream");
  });

  it("copies on decode only when asked", () => {
    const source = Buffer.from([1, 2, 3]);
    const copy = bytes({ copy: true }).decode(source);
    expect(copy).not.toBe(source);
    expect(Buffer.isBuffer(copy)).toBe(false);
    expect([...copy]).toEqual([1, 2, 3]);
    source[0] = 9;
    expect(copy[0]).toBe(1);
  });

  it("rejects non-bytes and honours maxBytes", () => {
    expect(() => bytes().encode("abc" as unknown as Uint8Array)).toThrow(PayloadBindingError);
    expect(() => bytes().decode([1, 2] as unknown as Uint8Array)).toThrow(/got Array/);
    expect(() => bytes({ maxBytes: 2 }).decode(new Uint8Array(3))).toThrow(/over the 2-byte limit/);
  });
});

describe("csv codec", () => {
  it("round-trips rows with quotes, delimiters and line breaks", () => {
    const codec = csv();
    const rows = [
      ["id", "note", "multi"],
      ["1", 'she said "hi", then left', "line 1\nline 2"],
      ["2", "", "crlf\r\ninside"],
      ["3", "  padded  ", "é, ü; 🎉"],
    ];
    const encoded = codec.encode(rows);
    expect(Buffer.from(encoded).toString()).toContain('"she said ""hi"", then left"');
    expect(codec.decode(encoded)).toEqual(rows);
    expect(codec.contentType).toBe("text/csv; charset=utf-8");
    expectTypeOf(codec).toEqualTypeOf<Codec<string[][]>>();
  });

  it("round-trips arbitrary rows (property)", () => {
    const codec = csv();
    const field = fc.string({ unit: fc.constantFrom("a", "b", ",", '"', "\n", "\r", " ", "é") });
    // A row of one empty field is an empty line, which reads back as [""]: keep rows at 2+ fields.
    const rows = fc.integer({ min: 2, max: 4 }).chain((width) => fc.array(fc.array(field, { minLength: width, maxLength: width })));
    fc.assert(
      fc.property(rows, (value) => {
        expect(codec.decode(codec.encode(value))).toEqual(value);
      }),
    );
  });

  it("reads and writes records with columns: true", () => {
    const codec = csv({ columns: true, delimiter: ";" });
    expectTypeOf(codec).toEqualTypeOf<Codec<CsvRecord[]>>();
    const records = [
      { id: "1", name: "Ada; Countess" },
      { id: "2", name: 'Grace "Amazing"', extra: "x" },
    ];
    const encoded = codec.encode(records);
    expect(Buffer.from(encoded).toString()).toBe('id;name;extra\n1;"Ada; Countess";\n2;"Grace ""Amazing""";x\n');
    expect(codec.decode(encoded)).toEqual([
      { id: "1", name: "Ada; Countess", extra: "" },
      { id: "2", name: 'Grace "Amazing"', extra: "x" },
    ]);
    expect(codec.encode([])).toHaveLength(0);
    expect(codec.decode(new Uint8Array(0))).toEqual([]);
  });

  it("rejects a __proto__ or duplicate header", () => {
    const codec = csv({ columns: true });
    expect(() => codec.decode(utf8("__proto__,b\n1,2\n"))).toThrow(/column named __proto__/);
    expect(() => codec.decode(utf8("a,b,a\n1,2,3\n"))).toThrow(/names the column "a" twice/);
    expect(Object.prototype).not.toHaveProperty("b");
  });

  it("reports malformed CSV with the csv-parse error as cause", () => {
    const unclosed = bindingError(() => csv().decode(utf8('a,"b\n')));
    expect(unclosed.message).toMatch(/^csv payload is not valid CSV: Quote Not Closed/);
    expect((unclosed.cause as { code?: string }).code).toBe("CSV_QUOTE_NOT_CLOSED");
    const ragged = bindingError(() => csv({ columns: true }).decode(utf8("a,b\n1,2,3\n")));
    expect((ragged.cause as { code?: string }).code).toBe("CSV_RECORD_INCONSISTENT_COLUMNS");
  });

  it("checks size and UTF-8, and skips empty lines on request", () => {
    expect(() => csv({ maxBytes: 3 }).decode(utf8("a,b,c"))).toThrow(/over the 3-byte limit/);
    expect(() => csv().decode(new Uint8Array([0x61, 0x2c, 0xff]))).toThrow("csv payload is not valid UTF-8");
    expect(csv({ skipEmptyLines: true }).decode(utf8("a,b\n\nc,d\n"))).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(() => csv().encode("x" as unknown as string[][])).toThrow(/only encode an array/);
  });
});

describe("validate with Standard Schema", () => {
  it("recognises Standard Schemas", () => {
    expect(isStandardSchema(z.string())).toBe(true);
    expect(isStandardSchema(v.string())).toBe(true);
    expect(isStandardSchema(type("string"))).toBe(true); // a function
    expect(isStandardSchema({ parse() {} })).toBe(false);
    expect(isStandardSchema(null)).toBe(false);
    expect(isStandardSchema({ "~standard": { version: 2, validate: () => ({ value: 1 }) } })).toBe(false);
  });

  it("zod 4: typed output with transforms", async () => {
    const Order = z.object({
      id: z.string(),
      qty: z.coerce.number().int(),
      tags: z.string().transform((s) => s.split(",")),
    });
    const order = await validate(Order, { id: "a1", qty: "3", tags: "x,y" });
    expectTypeOf(order).toEqualTypeOf<{ id: string; qty: number; tags: string[] }>();
    expect(order).toEqual({ id: "a1", qty: 3, tags: ["x", "y"] });
  });

  it("zod 4: failure lists issues as path: message, with coordinates", async () => {
    const Order = z.object({ id: z.string(), items: z.array(z.object({ qty: z.number().positive() })) });
    const coordinates = { topic: "orders", partition: 0, offset: 42 };
    const err = await rejection(validate(Order, { id: 7, items: [{ qty: -1 }] }, coordinates));
    expect(err).toBeInstanceOf(PayloadValidationError);
    const issues = (err as PayloadValidationError).issues;
    expect(err.code).toBe("PAYLOAD_VALIDATION");
    expect(err.coordinates).toEqual(coordinates);
    expect(issues.map((i) => i.path)).toEqual([["id"], ["items", 0, "qty"]]);
    expect(err.message).toBe(
      `payload validation failed:\n  id: ${issues[0]?.message}\n  items[0].qty: ${issues[1]?.message}`,
    );
    expect(issues[0]?.message).toMatch(/expected string/);
  });

  it("zod 4: async refinements", async () => {
    const Name = z.string().refine(async (s) => s !== "taken", "name is taken");
    await expect(validate(Name, "free")).resolves.toBe("free");
    const err = await rejection(validate(Name, "taken"));
    expect(err.message).toBe("payload validation failed:\n  (root): name is taken");
  });

  it("valibot 1: success with a transform, and failure", async () => {
    const Reading = v.object({
      sensor: v.string(),
      value: v.pipe(v.string(), v.transform(Number), v.number()),
    });
    const reading = await validate(Reading, { sensor: "t1", value: "21.5" });
    expectTypeOf(reading).toEqualTypeOf<{ sensor: string; value: number }>();
    expect(reading).toEqual({ sensor: "t1", value: 21.5 });

    const err = await rejection(validate(Reading, { sensor: 1, value: "x" }, { queue: "readings" }));
    const issues = (err as PayloadValidationError).issues;
    expect(issues[0]?.path).toEqual(["sensor"]); // valibot path items are { key } objects
    expect(err.message).toContain(`  sensor: ${issues[0]?.message}`);
    expect(err.coordinates).toEqual({ queue: "readings" });
  });

  it("arktype 2: success with a morph, and failure", async () => {
    const User = type({ name: "string", age: "string.integer.parse" });
    const user = await validate(User, { name: "Ada", age: "36" });
    expectTypeOf(user).toEqualTypeOf<{ name: string; age: number }>();
    expect(user).toEqual({ name: "Ada", age: 36 });

    const err = await rejection(validate(User, { name: 3, age: "x" }));
    const issues = (err as PayloadValidationError).issues;
    expect(issues.map((i) => i.path).sort()).toEqual([["age"], ["name"]]);
    for (const issue of issues) expect(Object.getPrototypeOf(issue.path)).toBe(Array.prototype);
    for (const issue of issues) expect(err.message).toContain(`  ${String(issue.path[0])}: ${issue.message}`);
  });

  it("maps { key } path segments and wraps a schema that throws", async () => {
    const custom: StandardSchemaV1<unknown, number> = {
      "~standard": {
        version: 1,
        vendor: "custom",
        validate: () => ({ issues: [{ message: "bad", path: [{ key: "a" }, 1, { key: "b" }] }] }),
      },
    };
    const err = await rejection(validate(custom, {}));
    expect((err as PayloadValidationError).issues).toEqual([{ message: "bad", path: ["a", 1, "b"] }]);
    expect(err.message).toBe("payload validation failed:\n  a[1].b: bad");

    const throwing = z.string().transform(() => {
      throw new Error("boom");
    });
    const thrown = await rejection(validate(throwing, "x", { path: "/orders" }));
    expect(thrown).not.toBeInstanceOf(PayloadValidationError);
    expect(thrown.message).toBe("zod schema threw while validating the payload: boom");
    expect(thrown.coordinates).toEqual({ path: "/orders" });
    expect((thrown.cause as Error).message).toBe("boom");
  });
});

describe("bind", () => {
  const Order = z.object({ id: z.string(), qty: z.number().int() });

  it("decodes JSON by default, then validates", async () => {
    const order = await bind(utf8('{"id":"a","qty":2}'), { schema: Order });
    expectTypeOf(order).toEqualTypeOf<{ id: string; qty: number }>();
    expect(order).toEqual({ id: "a", qty: 2 });
    await expect(bind(utf8("[1]"))).resolves.toEqual([1]);
    await expect(bind(utf8("a,b\n"), { codec: csv() })).resolves.toEqual([["a", "b"]]);
  });

  it("attaches coordinates to decode errors", async () => {
    const coordinates = { topic: "orders", partition: 1, offset: 7 };
    const err = await rejection(bind(utf8('{"__proto__":{}}'), { schema: Order, coordinates }));
    expect(err).not.toBeInstanceOf(PayloadValidationError);
    expect(err.code).toBe("PAYLOAD_BINDING");
    expect(err.coordinates).toEqual(coordinates);
    expect(err.message).toMatch(/prototype/);
    expect(err.cause).toBeInstanceOf(PayloadBindingError);

    const deep = await rejection(bind(utf8(nested(100)), { coordinates }));
    expect(deep.coordinates).toEqual(coordinates);

    const plain = await rejection(bind(utf8("{"), {}));
    expect(plain.coordinates).toBeUndefined();
  });

  it("wraps errors from a custom codec", async () => {
    const broken: Codec<unknown> = {
      name: "broken",
      contentType: "application/x-broken",
      encode: () => new Uint8Array(),
      decode: () => {
        throw new Error("nope");
      },
    };
    const err = await rejection(bind(utf8("x"), { codec: broken, coordinates: { subject: "s" } }));
    expect(err.message).toBe("broken codec could not decode the payload: nope");
    expect(err.coordinates).toEqual({ subject: "s" });
  });

  it("attaches coordinates to validation errors", async () => {
    const err = await rejection(bind(utf8('{"id":"a","qty":1.5}'), { schema: Order, coordinates: { offset: 3 } }));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.coordinates).toEqual({ offset: 3 });
    expect(err.message).toMatch(/^payload validation failed:\n {2}qty: /);
  });
});
