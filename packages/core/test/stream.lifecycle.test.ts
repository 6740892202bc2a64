// Stream life cycle: the source is closed exactly once on every path, next() semantics,
// `closed`, ownership (STATE), and pipeTo's error paths.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { PirouetteError, PushSource, Stream, type Sink } from "../src/index.ts";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Let pending closes and callbacks run, so that a late second close would be counted. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await tick();
};

// ---------------------------------------------------------------- sources that count their closes

const KINDS = ["array", "sync-generator", "async-generator", "create", "readable", "push-source", "chunked-source"] as const;
type Kind = (typeof KINDS)[number];

interface Tracked {
  readonly stream: Stream<number, Error>;
  /** How many times the underlying source was released. */
  readonly closes: () => number;
  /** Extra checks once the stream is over (e.g. the Readable was destroyed). */
  readonly released: () => boolean;
}

const LONG = 5000; // "endless" sources yield 0, 1, 2… up to this (arrays), or forever

/**
 * A source of `kind` yielding 0, 1, 2… (`length` of them, or without end where the kind
 * allows it), then ending, or failing with `fail` when given.
 */
function tracked(kind: Kind, length: number | "endless", fail?: Error): Tracked {
  let closes = 0;
  const n = length === "endless" ? Number.POSITIVE_INFINITY : length;
  const onClose = (): void => {
    closes++;
  };
  switch (kind) {
    case "array": {
      const items = Array.from({ length: Math.min(n, LONG) }, (_, i) => i);
      const end = -1;
      const base = Stream.from(fail === undefined ? items : [...items, end], { close: onClose });
      const stream = fail === undefined ? base : base.map((x) => {
        if (x === end) throw fail;
        return x;
      });
      return { stream, closes: () => closes, released: () => true };
    }
    case "sync-generator": {
      let finished = false;
      const stream = Stream.from(function* () {
        try {
          for (let i = 0; i < n; i++) yield i;
          if (fail !== undefined) throw fail;
        } finally {
          finished = true;
        }
      }, { close: onClose });
      return { stream, closes: () => closes, released: () => finished };
    }
    case "async-generator": {
      let finished = false;
      const stream = Stream.from(async function* () {
        try {
          for (let i = 0; i < n; i++) yield i;
          if (fail !== undefined) throw fail;
        } finally {
          finished = true;
        }
      }, { close: onClose });
      return { stream, closes: () => closes, released: () => finished };
    }
    case "create": {
      let i = 0;
      const stream = Stream.create<number, Error>({
        next: () => (i < n ? { value: i++ } : fail),
        close: onClose,
      });
      return { stream, closes: () => closes, released: () => true };
    }
    case "readable": {
      const readable = Readable.from(
        (async function* () {
          for (let i = 0; i < n; i++) yield i;
          if (fail !== undefined) throw fail;
        })(),
        { objectMode: true },
      );
      const stream = Stream.from<number>(readable, { close: onClose });
      return { stream, closes: () => closes, released: () => readable.destroyed };
    }
    case "push-source": {
      const ps = new PushSource<number>({ highWaterMark: 16, onClose });
      void (async () => {
        let i = 0;
        while (i < n && !ps.isClosed) {
          for (let k = 0; k < 7 && i < n; k++) ps.push(i++);
          await ps.ready();
          await tick();
        }
        if (fail !== undefined) ps.fail(fail);
        else ps.end();
      })();
      return { stream: ps.stream, closes: () => closes, released: () => ps.isClosed };
    }
    case "chunked-source": {
      let i = 0;
      const stream = new Stream<number>({
        pull() {
          if (i >= n) {
            if (fail !== undefined) throw fail;
            return null;
          }
          const chunk: number[] = [];
          for (let k = 0; k < 3 && i < n; k++) chunk.push(i++);
          return i % 2 === 0 ? Promise.resolve(chunk) : chunk;
        },
        close: onClose,
      });
      return { stream, closes: () => closes, released: () => true };
    }
  }
}

async function expectClosedOnce(t: Tracked): Promise<void> {
  await settle();
  expect(t.closes()).toBe(1);
  expect(t.released()).toBe(true);
}

// ---------------------------------------------------------------- close exactly once

describe.each(KINDS)("close() runs exactly once on the %s source", (kind) => {
  it("when the stream is drained", async () => {
    const t = tracked(kind, 50);
    expect(await t.stream.toArray()).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await expectClosedOnce(t);
  });

  it("when the source fails", async () => {
    const error = new Error("source failed");
    const t = tracked(kind, 10, error);
    await expect(t.stream.toArray()).rejects.toBe(error);
    await expectClosedOnce(t);
  });

  it("when a map callback throws", async () => {
    const error = new Error("callback failed");
    const t = tracked(kind, 50);
    const s = t.stream.map((x) => {
      if (x === 20) throw error;
      return x;
    });
    await expect(s.toArray()).rejects.toBe(error);
    await expectClosedOnce(t);
  });

  it("when a forEach callback throws", async () => {
    const error = new Error("handler failed");
    const t = tracked(kind, "endless");
    await expect(
      t.stream.forEach(async (x) => {
        if (x === 5) throw error;
        await Promise.resolve();
      }),
    ).rejects.toBe(error);
    await expectClosedOnce(t);
  });

  it("when a for await loop breaks, or its body throws", async () => {
    const t = tracked(kind, "endless");
    const seen: number[] = [];
    for await (const x of t.stream) {
      seen.push(x);
      if (x === 3) break;
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    await expectClosedOnce(t);

    const u = tracked(kind, "endless");
    const error = new Error("body");
    await expect(
      (async () => {
        for await (const x of u.stream) if (x === 2) throw error;
      })(),
    ).rejects.toBe(error);
    await expectClosedOnce(u);
  });

  it("when take reaches its limit", async () => {
    const t = tracked(kind, "endless");
    expect(await t.stream.map((x) => x * 2).take(3).toArray()).toEqual([0, 2, 4]);
    await expectClosedOnce(t);

    const u = tracked(kind, "endless");
    expect(await u.stream.take(2).chunk(5).toArray()).toEqual([[0, 1]]);
    await expectClosedOnce(u);

    const v = tracked(kind, "endless");
    expect(await v.stream.first()).toBe(0);
    await expectClosedOnce(v);
  });

  it("when close() is called twice, also concurrently", async () => {
    const t = tracked(kind, "endless");
    expect(await t.stream.next()).toEqual({ value: 0 });
    await Promise.all([t.stream.close(), t.stream.close()]);
    await t.stream.close();
    await expectClosedOnce(t);
    expect(await t.stream.next()).toBeUndefined();
  });

  it("on await using", async () => {
    const t = tracked(kind, "endless");
    {
      await using s = t.stream;
      expect(await s.next()).toEqual({ value: 0 });
    }
    await expectClosedOnce(t);
  });

  it("through an asynchronous operator closed early", async () => {
    const t = tracked(kind, "endless");
    expect(await t.stream.mapConcurrent(3, async (x) => x + 1).take(4).toArray()).toEqual([1, 2, 3, 4]);
    await expectClosedOnce(t);
  });
});

describe("close()", () => {
  it("ends a pending next() and releases a push source once", async () => {
    let closes = 0;
    const ps = new PushSource<number>({ onClose: () => void closes++ });
    const pending = ps.stream.next();
    await tick();
    await ps.stream.close();
    expect(await pending).toBeUndefined();
    expect(closes).toBe(1);
    expect(ps.push(1)).toBe(false);
  });

  it("releases every input of merge and zip", async () => {
    const a = tracked("async-generator", "endless");
    const b = tracked("push-source", "endless");
    const c = tracked("chunked-source", "endless");
    expect((await Stream.merge(a.stream, b.stream, c.stream).take(10).toArray()).length).toBe(10);
    await expectClosedOnce(a);
    await expectClosedOnce(b);
    await expectClosedOnce(c);

    const d = tracked("array", 3);
    const e = tracked("readable", "endless");
    expect(await d.stream.zip(e.stream).toArray()).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    await expectClosedOnce(d);
    await expectClosedOnce(e);
  });

  it("releases the inner and outer streams of flatMap", async () => {
    const outer = tracked("async-generator", "endless");
    const inners: Tracked[] = [];
    const s = outer.stream.flatMap(() => {
      const inner = tracked("chunked-source", "endless");
      inners.push(inner);
      return inner.stream;
    });
    expect(await s.take(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    await expectClosedOnce(outer);
    expect(inners.length).toBe(1);
    await expectClosedOnce(inners[0] as Tracked);
  });

  it("releases the stream a catch handler switched to", async () => {
    const first = tracked("create", 2, new Error("x"));
    const second = tracked("async-generator", "endless");
    expect(await first.stream.catch(() => second.stream).take(4).toArray()).toEqual([0, 1, 0, 1]);
    await expectClosedOnce(first);
    await expectClosedOnce(second);
  });
});

// ---------------------------------------------------------------- next()

describe("next()", () => {
  it("resolves to { value }, then undefined when done (and stays so)", async () => {
    const s = Stream.of("a", "b");
    expect(await s.next()).toEqual({ value: "a" });
    expect(await s.next()).toEqual({ value: "b" });
    expect(await s.next()).toBeUndefined();
    expect(await s.next()).toBeUndefined();
  });

  it("resolves to the error object when the stream failed, never rejects", async () => {
    const error = new RangeError("bad");
    const s = Stream.from(async function* () {
      yield 1;
      throw error;
    });
    expect(await s.next()).toEqual({ value: 1 });
    const r = s.next();
    await expect(r).resolves.toBe(error);
    await expect(s.next()).resolves.toBe(error);
    const fromCallback = Stream.of(1).map(() => {
      throw error;
    });
    await expect(fromCallback.next()).resolves.toBe(error);
  });

  it("answers calls made without awaiting in call order", async () => {
    for (const make of [
      () => Stream.from(async function* () {
        yield* [1, 2, 3];
      }),
      () => Stream.of(1, 2, 3),
      () => Stream.from([1, 2, 3]).chunk(1).map((c) => c[0] as number),
    ]) {
      const s = make();
      const results = await Promise.all([s.next(), s.next(), s.next(), s.next(), s.next()]);
      expect(results).toEqual([{ value: 1 }, { value: 2 }, { value: 3 }, undefined, undefined]);
    }
  });

  it("for await throws the error instead", async () => {
    const error = new Error("fails");
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const x of Stream.from(function* () {
          yield 1;
          yield 2;
          throw error;
        }))
          seen.push(x);
      })(),
    ).rejects.toBe(error);
    expect(seen).toEqual([1, 2]);
  });

  it("an operator applied after some next() calls continues from the remaining elements", async () => {
    const items = Array.from({ length: 3000 }, (_, i) => i);
    for (const make of [
      () => Stream.from(items),
      () => Stream.from(async function* () {
        yield* items;
      }),
      () => new Stream<number>({
        pull: (() => {
          let p = 0;
          return () => (p >= items.length ? null : items.slice(p, (p += 700)));
        })(),
      }),
    ]) {
      const s = make();
      expect(await s.next()).toEqual({ value: 0 });
      expect(await s.next()).toEqual({ value: 1 });
      expect(await s.map((x) => x * 2).filter((x) => x % 3 === 0).toArray()).toEqual(
        items.slice(2).map((x) => x * 2).filter((x) => x % 3 === 0),
      );

      const t = make();
      await t.next();
      expect(await t.mapConcurrent(2, (x) => x).take(3).toArray()).toEqual([1, 2, 3]);
    }
  });
});

describe("closed", () => {
  it("resolves with undefined when drained or closed, with the error when failed", async () => {
    const drained = Stream.of(1, 2);
    await drained.toArray();
    expect(await drained.closed).toBeUndefined();

    const closed = Stream.of(1, 2);
    await closed.close();
    expect(await closed.closed).toBeUndefined();

    const error = new Error("x");
    const failed = Stream.fail(error);
    expect(await failed.next()).toBe(error);
    expect(await failed.closed).toBe(error);

    const failedInCallback = Stream.of(1).map(() => {
      throw error;
    });
    await expect(failedInCallback.toArray()).rejects.toBe(error);
    expect(await failedInCallback.closed).toBe(error);
  });

  it("resolves on a stream handed to an operator when the result closes", async () => {
    const error = new Error("y");
    const s = Stream.from(function* () {
      yield 1;
      throw error;
    });
    const mapped = s.map((x) => x);
    await expect(mapped.toArray()).rejects.toBe(error);
    expect(await mapped.closed).toBe(error);
    expect(await s.closed).toBe(error);
  });
});

// ---------------------------------------------------------------- ownership

describe("a stream handed to an operator", () => {
  type Op = (s: Stream<number, Error>) => unknown;
  const operators: Record<string, Op> = {
    map: (s) => s.map((x) => x),
    filter: (s) => s.filter(() => true),
    flatMap: (s) => s.flatMap((x) => [x]),
    flatMapSync: (s) => s.flatMapSync((x) => [x]),
    take: (s) => s.take(1),
    limit: (s) => s.limit(1),
    skip: (s) => s.skip(1),
    takeWhile: (s) => s.takeWhile(() => true),
    tap: (s) => s.tap(() => undefined),
    chunk: (s) => s.chunk(2),
    chunkTimed: (s) => s.chunk(2, { maxWaitMs: 10 }),
    chunks: (s) => s.chunks(),
    mapConcurrent: (s) => s.mapConcurrent(2, (x) => x),
    merge: (s) => s.merge(Stream.of(1)),
    mergeArgument: (s) => Stream.of(1).merge(s),
    staticMerge: (s) => Stream.merge(s),
    zip: (s) => s.zip(Stream.of(1)),
    zipArgument: (s) => Stream.of(1).zip(s),
    catch: (s) => s.catch(() => undefined),
    mapError: (s) => s.mapError((e) => e),
  };
  const terminals: Record<string, (s: Stream<number, Error>) => Promise<unknown>> = {
    toArray: (s) => s.toArray(),
    forEach: (s) => s.forEach(() => undefined),
    reduce: (s) => s.reduce((a, b) => a + b, 0),
    count: (s) => s.count(),
    first: (s) => s.first(),
    collect: (s) => s.collect({}),
    pipeTo: (s) => s.pipeTo({ write: () => undefined, close: () => undefined }),
    forAwait: async (s) => {
      for await (const _ of s) void _;
    },
  };
  const isState = (e: unknown): boolean => PirouetteError.is(e) && e.code === "STATE";
  // Ways a stream gets consumed: before it started, after next() calls, by an async operator.
  const consumers: Record<string, (s: Stream<number, Error>) => Promise<void>> = {
    "a fused operator": async (s) => void s.map((x) => x),
    "a fused operator after next()": async (s) => {
      await s.next();
      void s.filter(() => true);
    },
    "an asynchronous operator": async (s) => void s.mapConcurrent(1, (x) => x),
  };

  for (const [how, consume] of Object.entries(consumers)) {
    it(`rejects further use with code STATE (consumed by ${how})`, async () => {
      for (const [name, op] of Object.entries(operators)) {
        const s = Stream.from([1, 2, 3]);
        await consume(s);
        let thrown: unknown;
        try {
          op(s);
        } catch (e) {
          thrown = e;
        }
        expect(isState(thrown), name).toBe(true);
      }
      for (const [name, terminal] of Object.entries(terminals)) {
        const s = Stream.from([1, 2, 3]);
        await consume(s);
        const outcome = await terminal(s).then(
          () => "resolved",
          (e: unknown) => e,
        );
        expect(isState(outcome), name).toBe(true);
      }
      const s = Stream.from([1, 2, 3]);
      await consume(s);
      expect(isState(await s.next())).toBe(true);
    });
  }

  it("still works through the stream the operator returned", async () => {
    const s = Stream.from([1, 2, 3]);
    const first = await s.next();
    const rest = s.mapConcurrent(2, (x) => x * 10);
    expect(first).toEqual({ value: 1 });
    expect(await rest.toArray()).toEqual([20, 30]);
  });

  it("rejects invalid arguments with INVALID_ARGUMENT", () => {
    const codes = [
      () => Stream.of(1).take(-1),
      () => Stream.of(1).skip(1.5),
      () => Stream.of(1).chunk(0),
      () => Stream.of(1).chunk(0, { maxWaitMs: 5 }),
      () => Stream.of(1).mapConcurrent(0, (x) => x),
      () => Stream.from(42 as never),
    ].map((f) => {
      try {
        f();
        return "no error";
      } catch (e) {
        return PirouetteError.is(e) ? e.code : String(e);
      }
    });
    expect(codes).toEqual(Array(6).fill("INVALID_ARGUMENT"));
  });
});

// ---------------------------------------------------------------- pipeTo

describe("pipeTo", () => {
  interface Recorder extends Sink<number> {
    readonly written: number[];
    closes: number;
    aborts: unknown[];
  }
  const recorder = (options: { failAt?: number; withAbort?: boolean } = {}): Recorder => {
    const r: Recorder = {
      written: [],
      closes: 0,
      aborts: [],
      write(x) {
        if (x === options.failAt) throw new Error(`write ${x} failed`);
        r.written.push(x);
        return Promise.resolve();
      },
      close() {
        r.closes++;
      },
    };
    if (options.withAbort !== false) {
      r.abort = (reason: unknown) => {
        r.aborts.push(reason);
      };
    }
    return r;
  };

  it("a failing sink write closes the stream and rejects with the write error", async () => {
    const t = tracked("async-generator", "endless");
    const sink = recorder({ failAt: 3 });
    await expect(t.stream.pipeTo(sink)).rejects.toThrow("write 3 failed");
    expect(sink.written).toEqual([0, 1, 2]);
    expect(sink.aborts).toEqual([]);
    await expectClosedOnce(t);
  });

  it("a failing source aborts the sink, which is not closed", async () => {
    const error = new Error("source failed");
    const t = tracked("push-source", 5, error);
    const sink = recorder();
    await expect(t.stream.pipeTo(sink)).rejects.toBe(error);
    expect(sink.written).toEqual([0, 1, 2, 3, 4]);
    expect(sink.aborts).toEqual([error]);
    expect(sink.closes).toBe(0);
    await expectClosedOnce(t);
  });

  it("a failing callback upstream also aborts the sink", async () => {
    const error = new Error("map failed");
    const sink = recorder();
    await expect(
      Stream.of(1, 2)
        .map(() => {
          throw error;
        })
        .pipeTo(sink),
    ).rejects.toBe(error);
    expect(sink.aborts).toEqual([error]);
    expect(sink.closes).toBe(0);
  });

  it("a sink without abort is closed once when the source fails", async () => {
    const error = new Error("source failed");
    const sink = recorder({ withAbort: false });
    await expect(tracked("create", 2, error).stream.pipeTo(sink)).rejects.toBe(error);
    expect(sink.closes).toBe(1);
  });

  it("preventClose leaves the sink open", async () => {
    const sink = recorder();
    await Stream.of(1, 2).pipeTo(sink, { preventClose: true });
    expect(sink.written).toEqual([1, 2]);
    expect(sink.closes).toBe(0);
  });

  it("an abort signal stops the pump and closes the stream", async () => {
    const t = tracked("push-source", "endless");
    const controller = new AbortController();
    const reason = new Error("stop");
    const sink: Sink<number> = {
      write: (x) => {
        if (x === 10) controller.abort(reason);
      },
      close: () => undefined,
    };
    await expect(t.stream.pipeTo(sink, { signal: controller.signal })).rejects.toBe(reason);
    await expectClosedOnce(t);
  });
});
