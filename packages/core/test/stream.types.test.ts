// Type-level tests for Stream and PushSource. The assertions are checked by `tsc -p
// packages/core/test/tsconfig.json` (`expectTypeOf` and `// @ts-expect-error`: an expected
// error that does not occur fails the type check); the runtime checks keep this a real test.
import { describe, expect, expectTypeOf, it } from "vitest";
import { PushSource, Stream, type Aggregate, type Sink, type StreamValue } from "../src/index.ts";

class NotFound extends Error {
  readonly kind = "not-found";
}
class Timeout extends Error {
  readonly kind = "timeout";
}

describe("Stream types", () => {
  it("next() must be narrowed before .value is read", async () => {
    const s: Stream<number, NotFound> = Stream.from([1, 2]);
    const r = await s.next();
    expectTypeOf(r).toEqualTypeOf<StreamValue<number> | NotFound | undefined>();
    // @ts-expect-error: r may be undefined or the error
    void r.value;
    const typeOnly = async (): Promise<void> => {
      // @ts-expect-error: not narrowed at all
      void (await s.next()).value;
    };
    void typeOnly;
    if (r !== undefined && !(r instanceof Error)) {
      expectTypeOf(r.value).toEqualTypeOf<number>();
      expect(r.value).toBe(1);
    }
    const r2 = await s.next();
    // @ts-expect-error: narrowing out undefined is not enough, r2 may be the error
    if (r2 !== undefined) void r2.value;
    expect(r2).toEqual({ value: 2 });

    // A stream that cannot fail still may be done.
    const never = Stream.of("a");
    const r3 = await never.next();
    expectTypeOf(r3).toEqualTypeOf<StreamValue<string> | undefined>();
    // @ts-expect-error: r3 may be undefined
    void r3.value;
    expect(r3?.value).toBe("a");
  });

  it("filter with a type guard narrows; with a predicate it keeps the type", async () => {
    const mixed = Stream.of<string | number>("a", 1, "b");
    const strings = mixed.filter((x): x is string => typeof x === "string");
    expectTypeOf(strings).toEqualTypeOf<Stream<string, never>>();
    expect(await strings.toArray()).toEqual(["a", "b"]);
    expectTypeOf(Stream.of(1, 2).filter((x) => x > 1)).toEqualTypeOf<Stream<number, never>>();
  });

  it("zip gives tuples and unions the errors; merge unions the errors", async () => {
    const a: Stream<number, NotFound> = Stream.from([1]);
    const b: Stream<string, Timeout> = Stream.from(["x"]);
    const zipped = a.zip(b);
    expectTypeOf(zipped).toEqualTypeOf<Stream<[number, string], NotFound | Timeout>>();
    const [pair] = await zipped.toArray();
    expectTypeOf(pair).toEqualTypeOf<[number, string] | undefined>();
    expect(pair).toEqual([1, "x"]);

    const c: Stream<number, Timeout> = Stream.from([2]);
    expectTypeOf(Stream.from<number, NotFound>([1]).merge(c)).toEqualTypeOf<Stream<number, NotFound | Timeout>>();
    expectTypeOf(Stream.merge(Stream.of(1), Stream.of(2))).toEqualTypeOf<Stream<number, never>>();
    // @ts-expect-error: merge needs the same element type
    void Stream.of(1).merge(Stream.of("x"));
  });

  it("operators carry the element and error types", () => {
    const s: Stream<number, NotFound> = Stream.from([1, 2, 3]);
    expectTypeOf(Stream.from<number, NotFound>([1]).map((x) => String(x))).toEqualTypeOf<Stream<string, NotFound>>();
    expectTypeOf(Stream.from<number, NotFound>([1]).chunk(2)).toEqualTypeOf<Stream<number[], NotFound>>();
    expectTypeOf(Stream.from<number, NotFound>([1]).chunks()).toEqualTypeOf<Stream<readonly number[], NotFound>>();
    expectTypeOf(Stream.from<number, NotFound>([1]).flatMapSync((x) => [x, String(x)])).toEqualTypeOf<
      Stream<number | string, NotFound>
    >();
    expectTypeOf(Stream.from<number, NotFound>([1]).flatMap((x) => Stream.from<string, Timeout>([String(x)]))).toEqualTypeOf<
      Stream<string, NotFound | Timeout>
    >();
    expectTypeOf(Stream.from<number, NotFound>([1]).mapConcurrent(2, async (x) => x > 1)).toEqualTypeOf<Stream<boolean, NotFound>>();
    expectTypeOf(Stream.from<number, NotFound>([1]).mapError((e) => new Timeout(e.message))).toEqualTypeOf<Stream<number, Timeout>>();
    expectTypeOf(Stream.from<number, NotFound>([1]).catch(() => [0])).toEqualTypeOf<Stream<number, never>>();
    expectTypeOf(Stream.from<number, NotFound>([1]).catch((e) => {
      expectTypeOf(e).toEqualTypeOf<NotFound>();
      return Stream.from<number, Timeout>([0]);
    })).toEqualTypeOf<Stream<number, Timeout>>();
    expectTypeOf(s.take(1).skip(1).takeWhile(() => true).tap(() => undefined)).toEqualTypeOf<Stream<number, NotFound>>();
    expectTypeOf(s.closed).toEqualTypeOf<Promise<NotFound | undefined>>();
    expectTypeOf(Stream.fail(new Timeout())).toEqualTypeOf<Stream<never, Timeout>>();
    expectTypeOf(Stream.create<number, NotFound>({ next: () => undefined })).toEqualTypeOf<Stream<number, NotFound>>();
    // @ts-expect-error: a per-item implementation answers { value }, the error or undefined
    void Stream.create<number, NotFound>({ next: () => 1 });
    // @ts-expect-error: the mapped element is a string
    void Stream.of(1).map(String).map((x: number) => x);
  });

  it("terminals give typed results", async () => {
    expectTypeOf(Stream.of(1).toArray()).toEqualTypeOf<Promise<number[]>>();
    expectTypeOf(Stream.of(1).reduce((acc, x) => acc + String(x), "")).toEqualTypeOf<Promise<string>>();
    expectTypeOf(Stream.of(1).first()).toEqualTypeOf<Promise<number | undefined>>();
    expectTypeOf(Stream.of(1).count()).toEqualTypeOf<Promise<number>>();

    const total: Aggregate<number, number> = { init: () => 0, step: (a, x) => (a as number) + x, result: (a) => a as number };
    const label: Aggregate<number, string> = { init: () => "", step: (a, x) => `${String(a)}${x}`, result: (a) => String(a) };
    const r = await Stream.of(1, 2, 3).collect({ total, label });
    expectTypeOf(r).toEqualTypeOf<{ total: number; label: string }>();
    expect(r).toEqual({ total: 6, label: "123" });

    const strings: Sink<string> = { write: () => undefined, close: () => undefined };
    const typeOnly = (): void => {
      // @ts-expect-error: a Sink<string> cannot take numbers
      void Stream.of(1).pipeTo(strings);
    };
    void typeOnly;
    await Stream.of("a").pipeTo(strings);

    for await (const x of Stream.of("a", "b")) expectTypeOf(x).toEqualTypeOf<string>();
  });

  it("is covariant in its element and error types", async () => {
    const total = (s: Stream<number, Error>): Promise<number> => s.reduce((a, b) => a + b, 0);
    // A stream that cannot fail (never), or fails with a subclass, is a Stream<T, Error>.
    expectTypeOf<Stream<number, never>>().toMatchTypeOf<Stream<number, Error>>();
    expectTypeOf<Stream<number, NotFound>>().toMatchTypeOf<Stream<number, Error>>();
    expectTypeOf<Stream<1 | 2, Error>>().toMatchTypeOf<Stream<number, Error>>();
    expect(await total(Stream.of(1, 2))).toBe(3);
    expect(await total(Stream.from<number, NotFound>([4]))).toBe(4);
    // …but not the other way round.
    expectTypeOf<Stream<number, Error>>().not.toMatchTypeOf<Stream<number, NotFound>>();
    expectTypeOf<Stream<number | string, Error>>().not.toMatchTypeOf<Stream<number, Error>>();
  });

  it("a Stream is an AsyncIterable and an AsyncDisposable", async () => {
    expectTypeOf<Stream<number, Error>>().toMatchTypeOf<AsyncIterable<number>>();
    expectTypeOf<Stream<number, Error>>().toMatchTypeOf<AsyncDisposable>();
    await using s = Stream.of(1);
    expect(await s.next()).toEqual({ value: 1 });
  });

  it("PushSource is typed by its element and error", async () => {
    const ps = new PushSource<number, Timeout>();
    expectTypeOf(ps.stream).toEqualTypeOf<Stream<number, Timeout>>();
    const typeOnly = (): void => {
      // @ts-expect-error: the source takes numbers
      ps.push("x");
      // @ts-expect-error: the source fails with Timeout
      ps.fail(new NotFound());
    };
    void typeOnly;
    ps.push(1);
    ps.end();
    expect(await ps.stream.toArray()).toEqual([1]);
  });
});
