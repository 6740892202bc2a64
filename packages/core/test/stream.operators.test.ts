// Stream operators against their array equivalents, property-style, over every kind of source.
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PirouetteError, PushSource, Stream, type Aggregate, type Sink } from "../src/index.ts";

// ---------------------------------------------------------------- sources

const KINDS = [
  "array",
  "sync-generator",
  "async-generator",
  "create",
  "create-async",
  "readable",
  "push-source",
  "chunked-source",
] as const;
type Kind = (typeof KINDS)[number];

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A stream of `items` from a source of the given kind (values must not be null: Readable). */
function streamOf<T>(kind: Kind, items: readonly T[]): Stream<T, Error> {
  switch (kind) {
    case "array":
      return Stream.from(items);
    case "sync-generator":
      return Stream.from(function* () {
        yield* items;
      });
    case "async-generator":
      return Stream.from(async function* () {
        for (const x of items) yield x;
      });
    case "create": {
      let i = 0;
      return Stream.create<T, Error>({ next: () => (i < items.length ? { value: items[i++] as T } : undefined) });
    }
    case "create-async": {
      // Mixes synchronous and asynchronous answers.
      let i = 0;
      return Stream.create<T, Error>({
        next: () => {
          const r = i < items.length ? { value: items[i++] as T } : undefined;
          return i % 2 === 0 ? Promise.resolve(r) : r;
        },
      });
    }
    case "readable":
      return Stream.from(Readable.from(items, { objectMode: true }));
    case "push-source": {
      const ps = new PushSource<T>({ highWaterMark: 64 });
      void (async () => {
        let i = 0;
        let burst = 0;
        while (i < items.length && !ps.isClosed) {
          burst = (burst % 37) + 1;
          for (let k = 0; k < burst && i < items.length; k++) ps.push(items[i++] as T);
          await ps.ready();
          await tick();
        }
        ps.end();
      })();
      return ps.stream;
    }
    case "chunked-source": {
      // Chunk sizes 0 (empty chunks), 1, 3, 700 and 1500; some answers asynchronous.
      const sizes = [0, 1, 3, 700, 1500];
      let pos = 0;
      let n = 0;
      return new Stream<T>({
        pull() {
          n++;
          if (pos >= items.length) return null;
          const size = sizes[n % sizes.length] as number;
          const chunk = items.slice(pos, pos + size);
          pos += size;
          return n % 3 === 0 ? Promise.resolve(chunk) : chunk;
        },
      });
    }
  }
}

/** A stream that yields `items` and then fails with `error`. */
function failingStreamOf<T>(kind: Kind, items: readonly T[], error: Error): Stream<T, Error> {
  switch (kind) {
    case "array": {
      // An array cannot fail by itself: fail through a map callback after the last item.
      const end = Symbol("end");
      return Stream.from<T | typeof end>([...items, end]).map((x) => {
        if (x === end) throw error;
        return x;
      });
    }
    case "sync-generator":
      return Stream.from(function* () {
        yield* items;
        throw error;
      });
    case "async-generator":
      return Stream.from(async function* () {
        for (const x of items) yield x;
        throw error;
      });
    case "create":
    case "create-async": {
      let i = 0;
      return Stream.create<T, Error>({
        next: () => {
          const r = i < items.length ? { value: items[i++] as T } : error;
          return kind === "create-async" ? Promise.resolve(r) : r;
        },
      });
    }
    case "readable":
      return Stream.from(
        Readable.from(
          (async function* () {
            for (const x of items) yield x;
            throw error;
          })(),
          { objectMode: true },
        ),
      );
    case "push-source": {
      const ps = new PushSource<T>({ highWaterMark: 64 });
      void (async () => {
        for (let i = 0; i < items.length && !ps.isClosed; i++) {
          ps.push(items[i] as T);
          if (i % 10 === 9) await ps.ready();
        }
        await tick();
        ps.fail(error);
      })();
      return ps.stream;
    }
    case "chunked-source": {
      let pos = 0;
      return new Stream<T>({
        pull() {
          if (pos >= items.length) throw error;
          const chunk = items.slice(pos, pos + 5);
          pos += 5;
          return chunk;
        },
      });
    }
  }
}

// ---------------------------------------------------------------- arbitraries

const kind = fc.constantFrom(...KINDS);
const small = fc.array(fc.integer({ min: -100, max: 100 }), { maxLength: 60 });
// More than one 1024-element array chunk, so that chunk boundaries are crossed.
const large = fc
  .tuple(fc.integer({ min: 1025, max: 3100 }), fc.integer({ min: 0, max: 1000 }))
  .map(([n, seed]) => Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % 201) - 100));
const ints = fc.oneof({ arbitrary: small, weight: 4 }, { arbitrary: large, weight: 1 });

const RUNS = { numRuns: 60 };

function chunkArray<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

/**
 * What a failing stream of `kind` must have delivered before its error: everything, except
 * for a Readable, which discards its buffer when it is destroyed by the error (as in Node):
 * there only a prefix is guaranteed.
 */
function expectDeliveredBeforeFailure(kind: Kind, items: readonly number[], seen: readonly number[]): void {
  if (kind === "readable") expect(items.slice(0, seen.length)).toEqual(seen);
  else expect(seen).toEqual(items);
}

/** Everything a stream yields before it fails, and the error (undefined if it ended). */
async function drainToFailure<T, E>(s: Stream<T, E>): Promise<{ values: T[]; error: unknown }> {
  const values: T[] = [];
  for (;;) {
    const r = await s.next();
    if (r === undefined) return { values, error: undefined };
    if (r instanceof Error) return { values, error: r };
    values.push((r as { value: T }).value);
  }
}

// ---------------------------------------------------------------- the sources themselves

describe("sources", () => {
  it("every kind yields its items in order", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, async (k, items) => {
        expect(await streamOf(k, items).toArray()).toEqual(items);
      }),
      RUNS,
    );
  });

  it("every failing kind yields its items, then fails with the error", async () => {
    await fc.assert(
      fc.asyncProperty(kind, small, async (k, items) => {
        const error = new Error("boom");
        const seen: number[] = [];
        await expect(failingStreamOf(k, items, error).forEach((x) => void seen.push(x))).rejects.toBe(error);
        expectDeliveredBeforeFailure(k, items, seen);
      }),
      RUNS,
    );
  });

  it("an operator applied after some next() calls continues from the remaining elements", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, fc.nat({ max: 1100 }), async (k, items, n) => {
        const s = streamOf(k, items);
        const head: number[] = [];
        for (let i = 0; i < n; i++) {
          const r = await s.next();
          if (r === undefined || r instanceof Error) break;
          head.push(r.value);
        }
        expect(head).toEqual(items.slice(0, n));
        expect(await s.map((x) => x + 1).toArray()).toEqual(items.slice(n).map((x) => x + 1));
      }),
      { numRuns: 40 },
    );
  });

  it("an array crosses 1024-element chunks", async () => {
    const items = Array.from({ length: 3000 }, (_, i) => i);
    const sizes = (await Stream.from(items).chunks().toArray()).map((c) => c.length);
    expect(sizes).toEqual([1024, 1024, 952]);
  });
});

// ---------------------------------------------------------------- fused operators

describe("fused operators match arrays", () => {
  it("map (with index)", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, async (k, items) => {
        const f = (x: number, i: number): number => x * 2 + i;
        expect(await streamOf(k, items).map(f).toArray()).toEqual(items.map(f));
      }),
      RUNS,
    );
  });

  it("filter (with index)", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, fc.integer({ min: 1, max: 5 }), async (k, items, m) => {
        const p = (x: number, i: number): boolean => (x + i) % m === 0;
        expect(await streamOf(k, items).filter(p).toArray()).toEqual(items.filter(p));
      }),
      RUNS,
    );
  });

  it("chains of map and filter (fused pairs) keep each stage's own index", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, async (k, items) => {
        const a = (x: number, i: number): number => x + i;
        const p = (x: number, i: number): boolean => (x + i) % 2 === 0;
        const b = (x: number, i: number): number => x * 3 - i;
        const q = (_: number, i: number): boolean => i % 3 !== 1;
        expect(await streamOf(k, items).map(a).filter(p).map(b).toArray()).toEqual(items.map(a).filter(p).map(b));
        expect(await streamOf(k, items).filter(q).map(b).filter(p).toArray()).toEqual(items.filter(q).map(b).filter(p));
      }),
      RUNS,
    );
  });

  it("take, skip and takeWhile", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, fc.nat({ max: 3200 }), fc.integer({ min: -100, max: 100 }), async (k, items, n, t) => {
        expect(await streamOf(k, items).take(n).toArray()).toEqual(items.slice(0, n));
        expect(await streamOf(k, items).limit(n).toArray()).toEqual(items.slice(0, n));
        expect(await streamOf(k, items).skip(n).toArray()).toEqual(items.slice(n));
        const stop = items.findIndex((x) => !(x < t));
        expect(await streamOf(k, items).takeWhile((x) => x < t).toArray()).toEqual(
          stop < 0 ? items : items.slice(0, stop),
        );
        expect(await streamOf(k, items).skip(n).take(n).toArray()).toEqual(items.slice(n, 2 * n));
      }),
      RUNS,
    );
  });

  it("tap sees every element and changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, async (k, items) => {
        const seen: number[] = [];
        expect(await streamOf(k, items).tap((x) => seen.push(x)).toArray()).toEqual(items);
        expect(seen).toEqual(items);
      }),
      RUNS,
    );
  });

  it("chunk(n) groups like slicing the array", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, fc.integer({ min: 1, max: 1100 }), async (k, items, size) => {
        expect(await streamOf(k, items).chunk(size).toArray()).toEqual(chunkArray(items, size));
      }),
      RUNS,
    );
  });

  it("chunk(n, { maxWaitMs }) loses and reorders nothing", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, fc.integer({ min: 1, max: 100 }), async (k, items, size) => {
        const groups = await streamOf(k, items).chunk(size, { maxWaitMs: 5 }).toArray();
        expect(groups.flat()).toEqual(items);
        for (const g of groups) expect(g.length).toBeGreaterThan(0);
        for (const g of groups) expect(g.length).toBeLessThanOrEqual(size);
      }),
      { numRuns: 30 },
    );
  });

  it("chunk(n, { maxWaitMs }) emits a partial group once its first element has waited", async () => {
    const ps = new PushSource<number>();
    const groups = ps.stream.chunk(10, { maxWaitMs: 20 });
    ps.push(1);
    ps.push(2);
    // No end(): only the timer can release the partial group.
    expect(await groups.next()).toEqual({ value: [1, 2] });
    ps.push(3);
    ps.end();
    expect(await groups.toArray()).toEqual([[3]]);
  });

  it("chunks() hands over non-empty chunks holding every element in order", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, async (k, items) => {
        const chunks = await streamOf(k, items).chunks().toArray();
        for (const c of chunks) expect(c.length).toBeGreaterThan(0);
        expect(chunks.flat()).toEqual(items);
      }),
      RUNS,
    );
  });

  it("flatMapSync with arrays and generators", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, async (k, items) => {
        const f = (x: number): number[] => (x % 3 === 0 ? [] : x % 3 === 1 || x % 3 === -1 ? [x] : [x, -x]);
        expect(await streamOf(k, items).flatMapSync(f).toArray()).toEqual(items.flatMap(f));
        const g = function* (x: number): Generator<number> {
          yield* f(x);
        };
        expect(await streamOf(k, items).flatMapSync(g).toArray()).toEqual(items.flatMap(f));
      }),
      RUNS,
    );
  });

  it("flatMap with arrays, iterables, async iterables and streams", async () => {
    await fc.assert(
      fc.asyncProperty(kind, small, fc.constantFrom("array", "generator", "async-generator", "stream", "mixed"), async (k, items, inner) => {
        const f = (x: number): number[] => (x % 3 === 0 ? [] : x % 3 === 1 || x % 3 === -1 ? [x] : [x, -x]);
        const lift = (x: number, how: string): Iterable<number> | AsyncIterable<number> | Stream<number, never> => {
          switch (how) {
            case "array":
              return f(x);
            case "generator":
              return (function* () {
                yield* f(x);
              })();
            case "async-generator":
              return (async function* () {
                for (const v of f(x)) yield v;
              })();
            case "stream":
              return Stream.of(...f(x));
            default:
              return lift(x, ["array", "generator", "async-generator", "stream"][Math.abs(x) % 4] as string);
          }
        };
        expect(await streamOf(k, items).flatMap((x) => lift(x, inner)).toArray()).toEqual(items.flatMap(f));
      }),
      RUNS,
    );
  });
});

describe("a callback that throws mid-chunk", () => {
  // Per-item semantics whatever the chunking: the results for the elements before the failing
  // one are delivered, then the error.
  const items = Array.from({ length: 3000 }, (_, i) => i);
  const boom = new Error("callback failed");
  const at = (k: number) => (x: number): number => {
    if (x === k) throw boom;
    return x;
  };
  const cases: Record<string, [(s: Stream<number, Error>) => Stream<unknown, Error>, unknown[]]> = {
    map: [(s) => s.map(at(1500)), items.slice(0, 1500)],
    filter: [(s) => s.filter((x) => at(1500)(x) % 2 === 0), items.slice(0, 1500).filter((x) => x % 2 === 0)],
    "map → filter (fused)": [(s) => s.map(at(1500)).filter((x) => x % 3 === 0), items.slice(0, 1500).filter((x) => x % 3 === 0)],
    "filter → map (fused)": [(s) => s.filter((x) => x % 3 === 0).map(at(1500)), items.slice(0, 1500).filter((x) => x % 3 === 0)],
    "map → filter, failing in the filter": [(s) => s.map((x) => x * 2).filter((x) => at(3000)(x) >= 0), items.slice(0, 1500).map((x) => x * 2)],
    tap: [(s) => s.tap((x) => void at(1500)(x)), items.slice(0, 1500)],
    takeWhile: [(s) => s.takeWhile((x) => at(1500)(x) >= 0), items.slice(0, 1500)],
    flatMapSync: [(s) => s.flatMapSync((x) => [at(1500)(x), x]), items.slice(0, 1500).flatMap((x) => [x, x])],
    flatMap: [(s) => s.flatMap((x) => [at(1500)(x), x]), items.slice(0, 1500).flatMap((x) => [x, x])],
    "map → take (composed)": [(s) => s.map(at(1500)).take(2000), items.slice(0, 1500)],
    "chunk → map (composed)": [(s) => s.chunk(100).map((c) => at(1500)(c[0] as number)), items.slice(0, 1500).filter((x) => x % 100 === 0)],
    "skip → map → tap": [(s) => s.skip(10).map(at(1500)).tap(() => undefined), items.slice(10, 1500)],
    "first stage fails, second sees the rest": [(s) => s.map(at(2500)).map(at(1500)), items.slice(0, 1500)],
  };
  for (const [name, [op, expected]] of Object.entries(cases)) {
    it(`${name}: delivers the results before the failing element, then the error`, async () => {
      for (const k of ["array", "chunked-source"] as const) {
        const { values, error } = await drainToFailure(op(streamOf(k, items)));
        expect(error).toBe(boom);
        expect(values).toEqual(expected);
      }
      await expect(op(Stream.from(items)).toArray()).rejects.toBe(boom);
    });
  }
});

// ---------------------------------------------------------------- asynchronous operators

describe("asynchronous operators", () => {
  it("mapConcurrent keeps input order and never has more than n calls in flight", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, fc.integer({ min: 1, max: 8 }), async (k, items, n) => {
        let inFlight = 0;
        let maxInFlight = 0;
        const indexes: number[] = [];
        const out = await streamOf(k, items)
          .mapConcurrent(n, async (x, { index }) => {
            indexes.push(index);
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            // 1, 2 or 3 macrotask hops: calls finish out of order.
            for (let h = 0; h <= Math.abs(x) % 3; h++) await tick();
            inFlight--;
            return x * 10;
          })
          .toArray();
        expect(out).toEqual(items.map((x) => x * 10));
        expect(indexes).toEqual(items.map((_, i) => i));
        expect(maxInFlight).toBeLessThanOrEqual(n);
        // An array's chunk is all there at once: the concurrency is actually used.
        if (k === "array" && items.length >= n) expect(maxInFlight).toBe(n);
      }),
      { numRuns: 40 },
    );
  });

  it("mapConcurrent accepts synchronous results and surfaces a failure at its position", async () => {
    const error = new Error("at 3");
    const s = Stream.of(1, 2, 3, 4, 5).mapConcurrent(3, (x) => {
      if (x === 3) return Promise.reject(error);
      return x % 2 === 0 ? x : Promise.resolve(x);
    });
    expect(await s.next()).toEqual({ value: 1 });
    expect(await s.next()).toEqual({ value: 2 });
    expect(await s.next()).toBe(error);
    // A failed stream keeps answering with its error.
    expect(await s.next()).toBe(error);
  });

  it("mapConcurrent aborts the signal of calls still running when the stream closes", async () => {
    const signals: AbortSignal[] = [];
    const s = Stream.of(1, 2, 3).mapConcurrent(3, (x, { signal }) => {
      signals.push(signal);
      return x === 1 ? x : new Promise<number>(() => undefined);
    });
    expect(await s.next()).toEqual({ value: 1 });
    await s.close();
    expect(signals.length).toBe(3);
    for (const sig of signals) expect(sig.aborted).toBe(true);
  });

  it("merge yields the multiset union", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(kind, small), { minLength: 1, maxLength: 4 }), async (parts) => {
        const streams = parts.map(([k, items]) => streamOf(k, items));
        const all = parts.flatMap(([, items]) => items);
        expect(sorted(await Stream.merge(...streams).toArray())).toEqual(sorted(all));
        const again = parts.map(([k, items]) => streamOf(k, items));
        expect(sorted(await (again[0] as Stream<number, Error>).merge(...again.slice(1)).toArray())).toEqual(sorted(all));
      }),
      RUNS,
    );
  });

  it("merge fails when one input fails", async () => {
    const error = new Error("one failed");
    let closes = 0;
    // An input that never ends: the failure of the other one must end the merge and close it.
    const endless = new PushSource<number>({ onClose: () => void closes++ });
    endless.push(0);
    await expect(Stream.merge(endless.stream, failingStreamOf("async-generator", [1, 2], error)).toArray()).rejects.toBe(error);
    expect(closes).toBe(1);
  });

  it("zip pairs elements by position up to the shorter input", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, kind, small, async (ka, a, kb, b) => {
        const n = Math.min(a.length, b.length);
        const expected = a.slice(0, n).map((x, i) => [x, String(b[i])]);
        expect(await streamOf(ka, a).zip(streamOf(kb, b).map(String)).toArray()).toEqual(expected);
      }),
      RUNS,
    );
  });

  it("catch continues with the handler's stream, or ends when it returns undefined", async () => {
    await fc.assert(
      fc.asyncProperty(kind, small, small, async (k, items, rest) => {
        const error = new Error("boom");
        let got: unknown;
        const recovered = await failingStreamOf(k, items, error)
          .catch((e) => {
            got = e;
            return rest;
          })
          .toArray();
        expect(got).toBe(error);
        expect(recovered.slice(recovered.length - rest.length)).toEqual(rest);
        expectDeliveredBeforeFailure(k, items, recovered.slice(0, recovered.length - rest.length));
        const ended = await failingStreamOf(k, items, error).catch(() => undefined).toArray();
        expectDeliveredBeforeFailure(k, items, ended);
      }),
      RUNS,
    );
  });

  it("catch does not call its handler for a stream that ends normally, and recovers once", async () => {
    let calls = 0;
    expect(await Stream.of(1, 2).catch(() => void calls++).toArray()).toEqual([1, 2]);
    expect(calls).toBe(0);
    const second = new Error("second");
    await expect(
      Stream.fail(new Error("first"))
        .catch(() => Stream.fail(second))
        .toArray(),
    ).rejects.toBe(second);
  });

  it("mapError transforms the error and nothing else", async () => {
    await fc.assert(
      fc.asyncProperty(kind, small, async (k, items) => {
        const error = new Error("low level");
        const s = failingStreamOf(k, items, error).mapError((e) => new PirouetteError("CONNECTION", "wrapped", { cause: e }));
        const seen: number[] = [];
        let r = await s.next();
        while (r !== undefined && !(r instanceof Error)) {
          seen.push(r.value);
          r = await s.next();
        }
        expect(PirouetteError.is(r) && r.code === "CONNECTION" && r.cause === error).toBe(true);
        expectDeliveredBeforeFailure(k, items, seen);
        expect(await streamOf(k, items).mapError(() => new Error("never")).toArray()).toEqual(items);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------- terminals

describe("terminals", () => {
  it("reduce, toArray, count and first", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, async (k, items) => {
        expect(await streamOf(k, items).reduce((acc, x) => acc + x, 7)).toBe(items.reduce((acc, x) => acc + x, 7));
        expect(await streamOf(k, items).reduce<number[]>((acc, x) => [x, ...acc.slice(0, 2)], [])).toEqual(
          items.reduce<number[]>((acc, x) => [x, ...acc.slice(0, 2)], []),
        );
        expect(await streamOf(k, items).toArray()).toEqual(items);
        expect(await streamOf(k, items).count()).toBe(items.length);
        expect(await streamOf(k, items).first()).toBe(items[0]);
      }),
      RUNS,
    );
  });

  it("toArray returns a new array, never the source array", async () => {
    const items = [1, 2, 3];
    const out = await Stream.from(items).toArray();
    expect(out).toEqual(items);
    expect(out).not.toBe(items);
    // Elements that are arrays stay elements (no flattening).
    expect(await Stream.of([1], [2, 3]).toArray()).toEqual([[1], [2, 3]]);
  });

  it("collect runs several aggregates in one pass", async () => {
    const sum: Aggregate<number, number> = {
      init: () => 0,
      step: (acc, x) => (acc as number) + x,
      result: (acc) => acc as number,
    };
    const stats: Aggregate<number, { n: number; max: number | undefined }> = {
      init: () => ({ n: 0, max: undefined as number | undefined }),
      step: (acc, x) => {
        const a = acc as { n: number; max: number | undefined };
        return { n: a.n + 1, max: a.max === undefined || x > a.max ? x : a.max };
      },
      result: (acc) => acc as { n: number; max: number | undefined },
    };
    await fc.assert(
      fc.asyncProperty(kind, ints, async (k, items) => {
        const r = await streamOf(k, items).collect({ total: sum, stats });
        expect(r).toEqual({
          total: items.reduce((a, b) => a + b, 0),
          stats: { n: items.length, max: items.length === 0 ? undefined : Math.max(...items) },
        });
      }),
      RUNS,
    );
  });

  it("pipeTo writes every element to the sink (write and writeMany) and closes it once", async () => {
    await fc.assert(
      fc.asyncProperty(kind, ints, fc.boolean(), fc.boolean(), async (k, items, many, asyncWrites) => {
        const written: number[] = [];
        let closes = 0;
        let aborts = 0;
        const sink: Sink<number> = {
          write: (x) => {
            written.push(x);
            return asyncWrites ? Promise.resolve() : undefined;
          },
          close: () => void closes++,
          abort: () => void aborts++,
        };
        if (many) {
          sink.writeMany = (xs) => {
            written.push(...xs);
            return asyncWrites ? tick() : undefined;
          };
        }
        await streamOf(k, items).pipeTo(sink);
        expect(written).toEqual(items);
        expect(closes).toBe(1);
        expect(aborts).toBe(0);
      }),
      { numRuns: 40 },
    );
  });
});
