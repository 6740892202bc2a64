import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { TcpError } from "../src/errors.ts";
import { createDecoder, createEncoder, DEFAULT_MAX_FRAME_SIZE, resolveFraming, type FrameDecoder } from "../src/internal/framing.ts";
import type { Framing } from "../src/options.ts";

/** Encode frames, concatenate, cut at `cuts` (sorted offsets), decode piece by piece. */
function roundTrip(framing: Framing, frames: Buffer[], cuts: number[], max = DEFAULT_MAX_FRAME_SIZE): Buffer[] {
  const r = resolveFraming(framing, max);
  const enc = createEncoder(r.framing, r.maxFrameSize);
  const parts: Buffer[] = [];
  for (const f of frames) {
    const e = enc.encode(f);
    if (Buffer.isBuffer(e)) parts.push(e);
    else parts.push(...e);
  }
  const wire = Buffer.concat(parts);
  const dec = createDecoder(r.framing!, r.maxFrameSize);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...new Set(cuts.map((x) => x % (wire.length + 1)))].sort((a, b) => a - b).concat(wire.length)) {
    // copy each piece, as a socket hands out fresh buffers
    expect(dec.decode(Buffer.from(wire.subarray(prev, c)), out)).toBeUndefined();
    prev = c;
  }
  expect(dec.buffered).toBe(0);
  return out;
}

const bytesArb = (maxLength: number) => fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));
const cutsArb = fc.array(fc.nat(), { maxLength: 40 });

describe("framing: round trips across arbitrary chunk boundaries (property)", () => {
  for (const framing of [
    "length-prefixed",
    { type: "length-prefixed", headerBytes: 1 },
    { type: "length-prefixed", headerBytes: 2, byteOrder: "little" },
    { type: "length-prefixed", headerBytes: 4, byteOrder: "little" },
  ] as Framing[]) {
    test(`length-prefixed ${JSON.stringify(framing)}`, () => {
      fc.assert(
        fc.property(fc.array(bytesArb(200), { maxLength: 30 }), cutsArb, (frames, cuts) => {
          expect(roundTrip(framing, frames, cuts)).toEqual(frames);
        }),
        { numRuns: 300 },
      );
    });
  }

  for (const delimiter of ["\n", "\r\n", "END", "\x00\x00"]) {
    test(`delimiter ${JSON.stringify(delimiter)}`, () => {
      const d = Buffer.from(delimiter);
      // Frames must not contain the delimiter, nor end with a prefix of it that would merge
      // with the delimiter (e.g. "E" + "END" reads as "EEND": the delimiter is found at 0).
      const frameArb = fc
        .array(fc.constantFrom(...Buffer.from(`ab${delimiter}`)), { maxLength: 60 })
        .map((a) => Buffer.from(a))
        .filter((b) => b.indexOf(d) < 0 && Buffer.concat([b, d]).indexOf(d) === b.length);
      fc.assert(
        fc.property(fc.array(frameArb, { maxLength: 30 }), cutsArb, (frames, cuts) => {
          expect(roundTrip({ type: "delimiter", delimiter }, frames, cuts)).toEqual(frames);
        }),
        { numRuns: 300 },
      );
    });
  }

  test("line: \\n and \\r\\n both end a line", () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z \t]{0,40}$/), { maxLength: 30 }), fc.array(fc.boolean()), cutsArb, (lines, crlf, cuts) => {
        const wire = Buffer.from(lines.map((l, i) => l + (crlf[i] === true ? "\r\n" : "\n")).join(""));
        const dec = createDecoder(resolveFraming("line", undefined).framing!, DEFAULT_MAX_FRAME_SIZE);
        const out: Buffer[] = [];
        let prev = 0;
        for (const c of [...new Set(cuts.map((x) => x % (wire.length + 1)))].sort((a, b) => a - b).concat(wire.length)) {
          dec.decode(Buffer.from(wire.subarray(prev, c)), out);
          prev = c;
        }
        expect(out.map((b) => b.toString())).toEqual(lines);
      }),
      { numRuns: 300 },
    );
  });

  test("fixed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 17 }), fc.nat({ max: 20 }), cutsArb, (size, count, cuts) => {
        const frames = Array.from({ length: count }, (_, i) => Buffer.alloc(size, i));
        expect(roundTrip({ type: "fixed", size }, frames, cuts)).toEqual(frames);
      }),
      { numRuns: 300 },
    );
  });

  test("large frames (over the copy limit) and one-byte dribbles", () => {
    const big = Buffer.alloc(100_000, 7);
    const small = Buffer.from("x");
    // Buffer.equals, not toEqual: a deep equality walks 100 KB byte by byte.
    const same = (a: Buffer[], b: Buffer[]): boolean => a.length === b.length && a.every((x, i) => x.equals(b[i]!));
    for (const framing of ["length-prefixed", { type: "delimiter", delimiter: "\r\n" }, "line"] as Framing[]) {
      const frames = [small, big, small];
      expect(same(roundTrip(framing, frames, []), frames)).toBe(true);
      expect(same(roundTrip(framing, frames, [1, 2, 3, 50_000, 100_003, 100_004]), frames)).toBe(true);
    }
    // one byte per chunk: linear (a quadratic decoder would take seconds here)
    const r = resolveFraming("length-prefixed", undefined);
    const wire = Buffer.concat(createEncoder(r.framing, r.maxFrameSize).encode(Buffer.alloc(100_000, 1)) as Buffer[]);
    expect(wire.length).toBe(100_004);
    const dec = createDecoder(r.framing!, r.maxFrameSize);
    const out: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) dec.decode(wire.subarray(i, i + 1), out);
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(Buffer.alloc(100_000, 1))).toBe(true);
  });

  test("zero-length frames", () => {
    expect(roundTrip("length-prefixed", [Buffer.alloc(0), Buffer.from("a"), Buffer.alloc(0)], [1, 2, 5])).toEqual([
      Buffer.alloc(0),
      Buffer.from("a"),
      Buffer.alloc(0),
    ]);
    expect(roundTrip("line", [Buffer.alloc(0), Buffer.alloc(0)], [1])).toEqual([Buffer.alloc(0), Buffer.alloc(0)]);
  });

  test("frames inside one chunk are views of it (no copy)", () => {
    const chunk = Buffer.from("\x00\x00\x00\x02hi\x00\x00\x00\x03you");
    const dec = createDecoder(resolveFraming("length-prefixed", undefined).framing!, 100);
    const out: Buffer[] = [];
    dec.decode(chunk, out);
    expect(out.map(String)).toEqual(["hi", "you"]);
    expect(out[0]!.buffer).toBe(chunk.buffer);
    expect(out[1]!.buffer).toBe(chunk.buffer);
  });
});

describe("framing: frames over maxFrameSize", () => {
  const expectTooLarge = (e: TcpError | undefined): void => {
    expect(e).toBeInstanceOf(TcpError);
    expect(e!.code).toBe("TCP_FRAME_TOO_LARGE");
  };

  test("length-prefixed: detected from the header, before any of the body arrives", () => {
    const dec = createDecoder(resolveFraming("length-prefixed", 1024).framing!, 1024);
    const out: Buffer[] = [];
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025);
    const ok = Buffer.from([0, 0, 0, 1, 65]);
    expectTooLarge(dec.decode(Buffer.concat([ok, header]), out));
    expect(out.map(String)).toEqual(["A"]); // the frame before it is still delivered
    expect(dec.buffered).toBe(0);
    // stays failed
    expectTooLarge(dec.decode(Buffer.from([0, 0, 0, 0]), out));
  });

  test("length-prefixed: exactly maxFrameSize is fine", () => {
    expect(roundTrip("length-prefixed", [Buffer.alloc(1024, 1)], [3, 700], 1024)).toHaveLength(1);
  });

  test("length-prefixed: a header split across chunks", () => {
    const dec = createDecoder(resolveFraming("length-prefixed", 1024).framing!, 1024);
    const out: Buffer[] = [];
    expect(dec.decode(Buffer.from([0, 0]), out)).toBeUndefined();
    expectTooLarge(dec.decode(Buffer.from([0x04, 0x01]), out));
  });

  test("delimiter: more than maxFrameSize bytes without a delimiter fails without waiting for it", () => {
    const dec = createDecoder(resolveFraming("line", 1024).framing!, 1024);
    const out: Buffer[] = [];
    expect(dec.decode(Buffer.from("ok\n" + "a".repeat(600)), out)).toBeUndefined();
    expect(dec.buffered).toBe(600);
    expectTooLarge(dec.decode(Buffer.alloc(600, 97), out));
    expect(out.map(String)).toEqual(["ok"]);
    expect(dec.buffered).toBe(0);
  });

  test("delimiter: a complete line one byte over fails; at the limit (with \\r\\n) passes", () => {
    const dec = createDecoder(resolveFraming("line", 10).framing!, 10);
    const out: Buffer[] = [];
    expect(dec.decode(Buffer.from("0123456789\r\n"), out)).toBeUndefined();
    expect(out.map(String)).toEqual(["0123456789"]);
    expectTooLarge(dec.decode(Buffer.from("0123456789A\n"), out));
  });

  test("delimiter: held bytes are bounded by maxFrameSize while dribbling", () => {
    const dec = createDecoder(resolveFraming({ type: "delimiter", delimiter: "END" }, 100).framing!, 100);
    const out: Buffer[] = [];
    let err: TcpError | undefined;
    let i = 0;
    while (err === undefined && i < 10_000) {
      err = dec.decode(Buffer.from("x"), out);
      expect(dec.buffered).toBeLessThanOrEqual(102);
      i++;
    }
    expectTooLarge(err);
    expect(i).toBe(103);
  });
});

describe("framing: encoders and options", () => {
  test("length-prefixed header layout", () => {
    const enc = (f: Framing, p: string): Buffer => createEncoder(resolveFraming(f, undefined).framing, DEFAULT_MAX_FRAME_SIZE).encode(Buffer.from(p)) as Buffer;
    expect([...enc("length-prefixed", "ab")]).toEqual([0, 0, 0, 2, 97, 98]);
    expect([...enc({ type: "length-prefixed", headerBytes: 2, byteOrder: "little" }, "ab")]).toEqual([2, 0, 97, 98]);
    expect([...enc({ type: "length-prefixed", headerBytes: 1 }, "ab")]).toEqual([2, 97, 98]);
    expect(enc("line", "ab").toString()).toBe("ab\n");
    expect(enc({ type: "delimiter", delimiter: new Uint8Array([0]) }, "ab")).toEqual(Buffer.from("ab\0"));
  });

  test("encoders refuse what the peer could not decode", () => {
    const encoder = (f: Framing, max?: number) => {
      const r = resolveFraming(f, max);
      return createEncoder(r.framing, r.maxFrameSize);
    };
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return (e as TcpError).code;
      }
      return undefined;
    };
    expect(code(() => encoder({ type: "length-prefixed", headerBytes: 1 }).encode(Buffer.alloc(256)))).toBe("TCP_FRAME_TOO_LARGE");
    expect(code(() => encoder({ type: "length-prefixed", headerBytes: 1 }).encode(Buffer.alloc(255)))).toBeUndefined();
    expect(code(() => encoder("length-prefixed", 10).encode(Buffer.alloc(11)))).toBe("TCP_FRAME_TOO_LARGE");
    expect(code(() => encoder("line").encode(Buffer.from("a\nb")))).toBe("INVALID_ARGUMENT");
    expect(code(() => encoder({ type: "fixed", size: 4 }).encode(Buffer.from("abc")))).toBe("INVALID_ARGUMENT");
    expect(code(() => encoder("line", 4).encode(Buffer.from("abcde")))).toBe("TCP_FRAME_TOO_LARGE");
  });

  test("bad options are INVALID_ARGUMENT", () => {
    const bad: unknown[] = [
      { type: "length-prefixed", headerBytes: 3 },
      { type: "length-prefixed", byteOrder: "middle" },
      { type: "delimiter", delimiter: "" },
      { type: "delimiter" },
      { type: "fixed", size: 0 },
      { type: "fixed", size: 2_000_000 },
      { type: "chunked" },
      "lines",
    ];
    for (const f of bad) {
      expect(() => resolveFraming(f as Framing, undefined), JSON.stringify(f)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
    expect(() => resolveFraming(undefined, 0)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => resolveFraming(undefined, 1.5)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  test("a decoder never throws on garbage (property)", () => {
    fc.assert(
      fc.property(fc.array(bytesArb(64), { maxLength: 20 }), (chunks) => {
        const decs: FrameDecoder[] = (["length-prefixed", "line", { type: "delimiter", delimiter: "ab" }, { type: "fixed", size: 3 }] as Framing[]).map(
          (f) => createDecoder(resolveFraming(f, 50).framing!, 50),
        );
        for (const d of decs) {
          const out: Buffer[] = [];
          for (const c of chunks) {
            const e = d.decode(c, out);
            if (e !== undefined) expect(e.code).toBe("TCP_FRAME_TOO_LARGE");
          }
          for (const f of out) expect(f.length).toBeLessThanOrEqual(50);
        }
      }),
      { numRuns: 300 },
    );
  });
});
