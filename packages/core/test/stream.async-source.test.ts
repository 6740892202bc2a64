// for await / next() over Stream.from(async iterable): the per-item path hands the source
// iterator's results on directly; the end, failures and closes keep the chunked path's rules.
import { describe, expect, it } from "vitest";
import { Stream } from "../src/index.ts";

interface Gen {
  readonly stream: Stream<number, Error>;
  readonly log: string[];
}

/** An async generator of 0..n-1 (then `fail` if given) that logs its finally and the stream's close. */
function gen(n: number, fail?: Error): Gen {
  const log: string[] = [];
  const stream = Stream.from<number>(
    async function* () {
      try {
        for (let i = 0; i < n; i++) yield i;
        if (fail !== undefined) throw fail;
      } finally {
        log.push("finally");
      }
    },
    {
      close: async () => {
        await Promise.resolve();
        log.push("close");
      },
    },
  );
  return { stream, log };
}

describe("for await over Stream.from(async generator)", () => {
  it("yields every item, then closes before the loop ends and resolves closed", async () => {
    const { stream, log } = gen(4);
    const out: number[] = [];
    for await (const v of stream) out.push(v);
    expect(out).toEqual([0, 1, 2, 3]);
    expect(log).toEqual(["finally", "close"]);
    await expect(stream.closed).resolves.toBeUndefined();
    expect(await stream.next()).toBeUndefined();
  });

  it("throws the generator's error after closing, and closed resolves to it", async () => {
    const boom = new Error("boom");
    const { stream, log } = gen(2, boom);
    const out: number[] = [];
    let caught: unknown;
    try {
      for await (const v of stream) out.push(v);
    } catch (e) {
      caught = e;
    }
    expect(out).toEqual([0, 1]);
    expect(caught).toBe(boom);
    expect(log).toEqual(["finally", "close"]);
    await expect(stream.closed).resolves.toBe(boom);
  });

  it("break calls the generator's return() and closes once", async () => {
    const { stream, log } = gen(100);
    for await (const v of stream) if (v === 2) break;
    expect(log).toEqual(["finally", "close"]);
    await stream.close();
    expect(log).toEqual(["finally", "close"]);
  });

  it("close() while a next is pending ends the loop", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const stream = Stream.from<number>(async function* () {
      yield 1;
      await gate;
      yield 2;
    });
    const it = stream[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 1, done: false });
    const pending = it.next();
    const closing = stream.close();
    release();
    await closing;
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it("runs map, filter and take over the generator and closes it when take is reached", async () => {
    const { stream, log } = gen(100);
    const out: number[] = [];
    for await (const v of stream.map((x) => x * 10).filter((x) => x % 20 === 0).take(3)) out.push(v);
    expect(out).toEqual([0, 20, 40]);
    expect(log).toEqual(["finally", "close"]);
  });

  it("a throwing map delivers the items before it, then throws", async () => {
    const boom = new Error("map");
    const { stream, log } = gen(10);
    const out: number[] = [];
    await expect(
      (async () => {
        for await (const v of stream.map((x) => {
          if (x === 3) throw boom;
          return x;
        }))
          out.push(v);
      })(),
    ).rejects.toBe(boom);
    expect(out).toEqual([0, 1, 2]);
    await Promise.resolve();
    expect(log).toContain("close");
  });

  it("mixes next() and for await on the same stream in order", async () => {
    const { stream } = gen(5);
    expect(await stream.next()).toEqual({ value: 0 });
    const out: number[] = [];
    for await (const v of stream) {
      out.push(v);
      if (v === 2) break;
    }
    expect(out).toEqual([1, 2]);
    expect(await stream.next()).toBeUndefined();
  });
});

describe("next() over Stream.from(async generator)", () => {
  it("resolves { value } per item, then undefined after closing", async () => {
    const { stream, log } = gen(2);
    expect(await stream.next()).toEqual({ value: 0 });
    expect(await stream.next()).toEqual({ value: 1 });
    expect(await stream.next()).toBeUndefined();
    expect(log).toEqual(["finally", "close"]);
    expect(await stream.next()).toBeUndefined();
  });

  it("resolves to the error after closing the source", async () => {
    const boom = new Error("boom");
    const { stream, log } = gen(1, boom);
    expect(await stream.next()).toEqual({ value: 0 });
    expect(await stream.next()).toBe(boom);
    expect(log).toEqual(["finally", "close"]);
    await expect(stream.closed).resolves.toBe(boom);
  });

  it("keeps call order for concurrent calls", async () => {
    const { stream } = gen(3);
    const rs = await Promise.all([stream.next(), stream.next(), stream.next(), stream.next()]);
    expect(rs).toEqual([{ value: 0 }, { value: 1 }, { value: 2 }, undefined]);
  });
});
