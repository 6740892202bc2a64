/**
 * `Stream<T, E>`: Pirouette's lazy, single-pass, chunked sequence type.
 *
 * @module
 */
import { PirouetteError } from "../errors.ts";
import {
  catchSource,
  chunkTimedSource,
  flatMapSource,
  mapConcurrentSource,
  mapErrorSource,
  mergeSource,
  zipSource,
  type MapConcurrentContext,
} from "./async-operators.ts";
import { pullChunk, type ChunkPuller } from "./pull.ts";
import type { PipeToOptions, Sink } from "./sink.ts";
import { composeStages, isPromiseLike, StageFailure, type Stage, type StreamSource } from "./source.ts";
import {
  arraySource,
  asyncIterableSource,
  isReadable,
  itemAccess,
  iterableSource,
  readableSource,
  type ItemAccess,
} from "./sources.ts";
import {
  chunkStage,
  filterStage,
  flatMapSyncStage,
  mapStage,
  skipStage,
  takeStage,
  takeWhileStage,
  tapStage,
} from "./stages.ts";

const EMPTY: readonly never[] = [];
const OPEN = 0;
const DONE = 1;
const FAILED = 2;
const CLOSED = 3;
const TRANSFERRED = 4;
type State = typeof OPEN | typeof DONE | typeof FAILED | typeof CLOSED | typeof TRANSFERRED;

/** What {@link Stream.next} resolves to for an element. */
export interface StreamValue<T> {
  readonly value: T;
}

/** Anything {@link Stream.from} accepts. */
export type StreamInput<T> =
  | Stream<T, unknown>
  | readonly T[]
  | Iterable<T>
  | AsyncIterable<T>
  | (() => Iterable<T> | AsyncIterable<T>);

/** Options for {@link Stream.from}. */
export interface StreamFromOptions {
  /** Called once when the stream is closed (drained, failed, or closed early). */
  readonly close?: () => unknown;
}

/**
 * A per-item implementation in Ballerina's style for {@link Stream.create}: `next()` resolves
 * to `{ value }`, the error, or `undefined` at the end.
 */
export interface StreamImplementation<T, E> {
  next(): StreamValue<T> | E | undefined | Promise<StreamValue<T> | E | undefined>;
  close?(): unknown;
}

/** An aggregate for {@link Stream.collect} and query `collect`: a fold with a final step. */
export interface Aggregate<T, R> {
  init(): unknown;
  step(acc: unknown, value: T): unknown;
  result(acc: unknown): R;
}

type AggregateResults<A> = { [K in keyof A]: A[K] extends Aggregate<never, infer R> ? R : never };

/**
 * A lazy, single-pass sequence of `T` that completes normally or with an error `E`.
 *
 * - `next()` resolves to `{ value }`, to the error `E` when the stream failed, or to `undefined`
 *   when done; `for await` throws `E` instead.
 * - `close()` releases what the stream holds; it is idempotent and runs automatically when the
 *   stream is drained, fails, or a `for await` loop exits early.
 * - Operators return new streams and take ownership of this one. Simple operators (`map`,
 *   `filter`, `take`…) are fused into one synchronous pass per chunk.
 *
 * @typeParam T - the element type
 * @typeParam E - the error the stream may complete with
 *
 * @example
 * ```ts
 * const total = await Stream.from([1, 2, 3, 4])
 *   .filter((n) => n % 2 === 0)
 *   .map((n) => n * 10)
 *   .reduce((sum, n) => sum + n, 0); // 60
 *
 * const s = Stream.of("a", "b");
 * const r = await s.next();
 * if (r !== undefined && !(r instanceof Error)) console.log(r.value); // "a"
 * ```
 */
export class Stream<T, E = Error> implements AsyncIterable<T>, AsyncDisposable, ChunkPuller<T> {
  #source: StreamSource<unknown>;
  #stage: Stage<unknown, T> | undefined;
  #buf: readonly T[] = EMPTY;
  #pos = 0;
  #state: State = OPEN;
  #exhausted = false;
  /** Set by #fetchSync when it returns the source's pending chunk unprocessed; the caller resets it. */
  #raw = false;
  /** A stage callback threw after producing the chunk just delivered: fail on the next pull. */
  #pendingFailure: { readonly error: unknown } | undefined;
  #started = false;
  /** Handed to an operator after it had started (or to an asynchronous operator): its owner pulls it. */
  #taken = false;
  #error: E | undefined;
  #inflight: Promise<unknown> | undefined;
  #sourceClosed: Promise<void> | undefined;
  // Typed `unknown` (not `E | undefined`): a parameter position would make Stream invariant in E,
  // and then a Stream<T, never> (Stream.of) would not be a Stream<T, Error>.
  #resolveClosed!: (value: unknown) => void;

  /** Resolves (never rejects) when the stream has closed: with the error, or `undefined`. */
  readonly closed: Promise<E | undefined>;

  /**
   * Build a stream over a chunk-level {@link StreamSource}. Most code uses {@link Stream.from}.
   *
   * @example
   * ```ts
   * const s = new Stream<number>({ pull: () => null }); // an empty stream
   * ```
   */
  constructor(source: StreamSource<T>);
  /** @internal */
  constructor(source: StreamSource<unknown>, stage: Stage<unknown, T> | undefined);
  constructor(source: StreamSource<unknown>, stage?: Stage<unknown, T>) {
    this.#source = source;
    this.#stage = stage;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve as (value: unknown) => void;
    });
  }

  // ---------------------------------------------------------------- construction

  /**
   * A stream over an array, iterable, async iterable (including Node readables and async
   * generators), a generator function, or another stream (returned as is).
   *
   * @example
   * ```ts
   * Stream.from([1, 2, 3]);
   * Stream.from(async function* () { yield "tick"; });
   * Stream.from(fs.createReadStream("big.bin"), { close: () => console.log("done") });
   * ```
   */
  static from<T, E = Error>(input: StreamInput<T>, options: StreamFromOptions = {}): Stream<T, E> {
    if (input instanceof Stream) return input as Stream<T, E>;
    const onClose = options.close;
    let source: StreamSource<T>;
    const value = typeof input === "function" ? input() : input;
    if (Array.isArray(value)) source = arraySource(value as readonly T[]);
    else if (isReadable(value)) source = readableSource(value as never);
    else if (typeof (value as AsyncIterable<T>)[Symbol.asyncIterator] === "function")
      // onClose goes in the source itself (same order as withClose): it keeps its item access.
      return new Stream<T, E>(asyncIterableSource(value as AsyncIterable<T>, onClose));
    else if (typeof (value as Iterable<T>)[Symbol.iterator] === "function") source = iterableSource(value as Iterable<T>);
    else throw new PirouetteError("INVALID_ARGUMENT", "Stream.from needs an array, iterable or async iterable");
    if (onClose !== undefined) source = withClose(source, onClose);
    return new Stream<T, E>(source);
  }

  /**
   * A stream of the given values.
   *
   * @example
   * ```ts
   * await Stream.of(1, 2, 3).toArray(); // [1, 2, 3]
   * ```
   */
  static of<T>(...values: T[]): Stream<T, never> {
    return new Stream<T, never>(arraySource(values));
  }

  /**
   * A stream that ends at once.
   *
   * @example
   * ```ts
   * await Stream.empty<number>().count(); // 0
   * ```
   */
  static empty<T = never>(): Stream<T, never> {
    return new Stream<T, never>({ pull: () => null });
  }

  /**
   * A stream that fails at once with `error`.
   *
   * @example
   * ```ts
   * const r = await Stream.fail(new Error("boom")).next(); // the Error
   * ```
   */
  static fail<E>(error: E): Stream<never, E> {
    return new Stream<never, E>({
      pull: () => {
        throw error;
      },
    });
  }

  /**
   * A stream from a per-item implementation, as Ballerina's `new stream<T, E>(impl)`.
   *
   * @example
   * ```ts
   * let i = 0;
   * const s = Stream.create<number, Error>({ next: () => (i < 3 ? { value: i++ } : undefined) });
   * ```
   */
  static create<T, E = Error>(impl: StreamImplementation<T, E>): Stream<T, E> {
    const fromResult = (r: StreamValue<T> | E | undefined): readonly T[] | null => {
      if (r === undefined) return null;
      if (isStreamValue<T>(r)) return [r.value];
      throw r;
    };
    return new Stream<T, E>({
      pull() {
        const r = impl.next();
        return isPromiseLike(r) ? Promise.resolve(r).then(fromResult) : fromResult(r);
      },
      close: () => {
        const r = impl.close?.();
        return isPromiseLike(r) ? Promise.resolve(r).then(() => undefined) : undefined;
      },
    });
  }

  /**
   * Interleave several streams in arrival order; fails as soon as one fails.
   *
   * @example
   * ```ts
   * Stream.merge(kafkaOrders, mqttOrders).forEach(handle);
   * ```
   */
  static merge<T, E>(...streams: Stream<T, E>[]): Stream<T, E> {
    return new Stream<T, E>(mergeSource(streams.map((s) => s.#transfer())));
  }

  // ---------------------------------------------------------------- per-item API

  /**
   * The next element as `{ value }`, the error `E` if the stream failed, or `undefined` when
   * it is done. Narrow the result before reading `.value`.
   *
   * @example
   * ```ts
   * for (let r = await s.next(); r !== undefined; r = await s.next()) {
   *   if (r instanceof Error) throw r;
   *   console.log(r.value);
   * }
   * ```
   */
  next(): Promise<StreamValue<T> | E | undefined> {
    if (this.#taken) return Promise.resolve(takenError() as E);
    if (this.#inflight === undefined && this.#pos < this.#buf.length) {
      return Promise.resolve({ value: this.#buf[this.#pos++] as T });
    }
    // Calls made while a pull is pending queue behind it, in call order.
    const p =
      this.#inflight !== undefined
        ? this.#inflight.then(() => this.#nextUnqueued())
        : (this.#nextItem() ?? this.#nextSlow());
    this.#inflight = p;
    void p.then(() => {
      if (this.#inflight === p) this.#inflight = undefined;
    });
    return p;
  }

  /**
   * `next()` on a stream with no stages over an async iterable source: the source iterator's
   * `next()` plus one `then`, no chunk array. Undefined when the chunked path must serve.
   */
  #nextItem(): Promise<StreamValue<T> | E | undefined> | undefined {
    const access = (this.#source as { readonly [itemAccess]?: ItemAccess<T> })[itemAccess];
    if (access === undefined || this.#stage !== undefined || this.#state !== OPEN || this.#exhausted) return undefined;
    this.#started = true;
    // A failure closes the source, then resolves to the error (as #nextSlow does).
    const onError = (e: unknown): Promise<E> => this.#fail(e).then(undefined, () => e as E);
    let p: unknown;
    try {
      p = access.iterator().next();
    } catch (e) {
      return onError(e);
    }
    return (p instanceof Promise ? (p as Promise<IteratorResult<T>>) : Promise.resolve(p as IteratorResult<T>)).then(
      (r): StreamValue<T> | E | undefined | Promise<StreamValue<T> | E | undefined> => {
        if (this.#state !== OPEN) return this.#nextSlow(); // closed (or failed) while the pull was pending
        if (r.done !== true) return { value: r.value };
        access.ended();
        this.#exhausted = true;
        const f = this.#finish();
        return f === null ? undefined : f.then(() => undefined, (e: unknown) => e as E);
      },
      onError,
    );
  }

  #nextUnqueued(): Promise<StreamValue<T> | E | undefined> | StreamValue<T> {
    if (this.#pos < this.#buf.length) return { value: this.#buf[this.#pos++] as T };
    return this.#nextSlow();
  }

  async #nextSlow(): Promise<StreamValue<T> | E | undefined> {
    for (;;) {
      let c: readonly T[] | null | undefined;
      try {
        const r = this.#pullRaw();
        if (!isPromiseLike(r)) c = r;
        else if (!this.#raw) c = (await r) as readonly T[] | null;
        else {
          this.#raw = false;
          let raw: readonly unknown[] | null;
          try {
            raw = (await r) as readonly unknown[] | null;
          } catch (e) {
            await this.#fail(e); // closes the source, then rejects with e
            throw e;
          }
          c = this.#apply(raw);
        }
      } catch (e) {
        return e as E;
      }
      if (c === undefined) continue;
      if (c === null) return undefined;
      if (c.length === 0) continue;
      this.#buf = c;
      this.#pos = 1;
      return { value: c[0] as T };
    }
  }

  /** Iterate with `for await`; the loop throws `E` if the stream fails and closes it on `break`. */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    const access = (this.#source as { readonly [itemAccess]?: ItemAccess<unknown> })[itemAccess];
    const chunked = this.#chunkIterator();
    return access === undefined ? chunked : this.#itemIterator(access, chunked);
  }

  /**
   * `for await` over a stream on an async iterable source: each `next()` is the source
   * iterator's own `next()` plus one `then`. With no stages, the source's result is handed on
   * as is (no chunk array, no new result record). The end, a failure and a close go through
   * the same paths as the chunked iterator (`chunked`), which also serves anything unusual
   * (buffered items, a pending stage failure, a stream that is no longer open).
   */
  #itemIterator(access: ItemAccess<unknown>, chunked: AsyncIterator<T, undefined>): AsyncIterator<T, undefined> {
    const stage = this.#stage;
    let it: AsyncIterator<unknown> | undefined;
    const onResult = (r: IteratorResult<unknown>): IteratorResult<T, undefined> | Promise<IteratorResult<T, undefined>> => {
      if (this.#state !== OPEN) return chunked.next(); // closed (or failed) while the pull was pending
      if (stage === undefined) {
        if (r.done !== true) return r.done === false ? (r as IteratorResult<T>) : { value: r.value as T, done: false };
        access.ended();
        this.#exhausted = true;
        const f = this.#finish();
        return f === null ? iterDone() : f.then(iterDone);
      }
      if (r.done === true) access.ended();
      const c = this.#apply(r.done === true ? null : [r.value]); // throws (after failing the stream) as in the chunked path
      if (c === undefined) return chunked.next(); // filtered out, or the end: pull again / finish
      this.#buf = c;
      this.#pos = 1;
      return { value: c[0] as T, done: false };
    };
    const onError = (e: unknown): Promise<never> => this.#fail(e); // closes the source, then rejects with e
    return {
      next: () => {
        if (
          this.#taken ||
          this.#state !== OPEN ||
          this.#exhausted ||
          this.#pos < this.#buf.length ||
          this.#pendingFailure !== undefined ||
          stage?.ended === true
        ) {
          return chunked.next();
        }
        this.#started = true;
        let p: unknown;
        try {
          p = (it ??= access.iterator()).next();
        } catch (e) {
          return onError(e);
        }
        return (p instanceof Promise ? (p as Promise<IteratorResult<unknown>>) : Promise.resolve(p as IteratorResult<unknown>)).then(
          onResult,
          onError,
        );
      },
      return: async () => {
        await this.close();
        return iterDone();
      },
    };
  }

  #chunkIterator(): AsyncIterator<T, undefined> {
    const slow = async (): Promise<IteratorResult<T, undefined>> => {
      for (;;) {
        const r = this.#pullRaw();
        let c: readonly T[] | null | undefined;
        if (!isPromiseLike(r)) c = r;
        else if (!this.#raw) c = (await r) as readonly T[] | null;
        else {
          this.#raw = false;
          let raw: readonly unknown[] | null;
          try {
            raw = (await r) as readonly unknown[] | null;
          } catch (e) {
            await this.#fail(e); // closes the source, then rejects with e
            throw e;
          }
          c = this.#apply(raw);
        }
        if (c === undefined) continue;
        if (c === null) return { value: undefined, done: true };
        if (c.length === 0) continue;
        this.#buf = c;
        this.#pos = 1;
        return { value: c[0] as T, done: false };
      }
    };
    return {
      next: () => {
        if (this.#taken) return Promise.reject(takenError());
        if (this.#pos < this.#buf.length) return Promise.resolve({ value: this.#buf[this.#pos++] as T, done: false });
        return slow();
      },
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Release what the stream holds (cursor, socket, subscription). Idempotent; later `next()`
   * calls resolve to `undefined`.
   *
   * @example
   * ```ts
   * const first = await rows.next();
   * await rows.close(); // the cursor is released
   * ```
   */
  close(): Promise<void> {
    if (this.#state === OPEN) {
      this.#state = CLOSED;
      this.#buf = EMPTY;
      this.#pos = 0;
      this.#resolveClosed(undefined);
    }
    return this.#closeSource();
  }

  /** Same as {@link Stream.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- chunk pull (internal)

  /** @internal */
  [pullChunk](): readonly T[] | null | Promise<readonly T[] | null> {
    if (this.#pos < this.#buf.length) {
      const rest = this.#pos === 0 ? this.#buf : this.#buf.slice(this.#pos);
      this.#buf = EMPTY;
      this.#pos = 0;
      return rest;
    }
    this.#started = true;
    return this.#fetch();
  }

  #fetch(): readonly T[] | null | Promise<readonly T[] | null> {
    const r = this.#fetchSync();
    if (!this.#raw) return r as readonly T[] | null | Promise<readonly T[] | null>;
    this.#raw = false;
    return this.#fetchAsync(r as PromiseLike<readonly unknown[] | null>);
  }

  /**
   * A pull for the loops of the terminals and the per-item API: like [pullChunk], but when the
   * source answers asynchronously, its pending raw chunk is returned as is with `#raw` set; the
   * caller awaits it and passes it through #apply itself. One promise less per chunk.
   */
  #pullRaw(): readonly T[] | null | PromiseLike<unknown> {
    if (this.#pos < this.#buf.length) return this[pullChunk]();
    this.#started = true;
    return this.#fetchSync();
  }

  /** The synchronous part of a pull; an asynchronous source's pending chunk is returned raw, `#raw` set. */
  #fetchSync(): readonly T[] | null | PromiseLike<unknown> {
    for (;;) {
      if (this.#state !== OPEN) return this.#terminal();
      if (this.#pendingFailure !== undefined) this.#failSync(this.#pendingFailure.error);
      if (this.#exhausted || this.#stage?.ended === true) return this.#finish();
      let r: readonly unknown[] | null | Promise<readonly unknown[] | null>;
      try {
        r = this.#source.pull();
      } catch (e) {
        return this.#fail(e);
      }
      if (isPromiseLike(r)) {
        this.#raw = true;
        return r;
      }
      const out = this.#apply(r);
      if (out !== undefined) return out;
    }
  }

  /**
   * The asynchronous continuation of #fetch. It loops (rather than recursing into #fetch from
   * a `then`) while the stages reduce chunks to nothing: recursion would chain one pending
   * promise per skipped chunk, so a filter rejecting a long run would grow memory without bound.
   */
  async #fetchAsync(pending: PromiseLike<readonly unknown[] | null>): Promise<readonly T[] | null> {
    let r: readonly unknown[] | null | PromiseLike<readonly unknown[] | null> = pending;
    for (;;) {
      let c: readonly unknown[] | null;
      try {
        c = isPromiseLike(r) ? await r : r;
      } catch (e) {
        return this.#fail(e);
      }
      const out = this.#apply(c);
      if (out !== undefined) return out;
      if (this.#state !== OPEN) return this.#terminal();
      if (this.#exhausted || this.#stage?.ended === true) return this.#finish();
      try {
        r = this.#source.pull();
      } catch (e) {
        return this.#fail(e);
      }
    }
  }

  /** Returns the processed chunk, or undefined to pull again. Throws via #fail. */
  #apply(c: readonly unknown[] | null): readonly T[] | undefined {
    if (this.#state !== OPEN) return EMPTY;
    const stage = this.#stage;
    if (stage === undefined) {
      if (c === null) this.#exhausted = true;
      return c !== null && c.length > 0 ? (c as readonly T[]) : undefined;
    }
    let out: readonly T[];
    try {
      if (c === null) {
        this.#exhausted = true;
        out = stage.flush?.() ?? EMPTY;
      } else {
        out = stage.run(c);
        if (stage.ended && stage.flush !== undefined) {
          this.#exhausted = true;
          const tail = stage.flush();
          if (tail.length > 0) out = [...out, ...tail];
        }
      }
    } catch (e) {
      if (!(e instanceof StageFailure)) this.#failSync(e);
      // A callback threw: deliver the results before it, fail on the next pull.
      if (e.output.length === 0) this.#failSync(e.error);
      this.#pendingFailure = { error: e.error };
      return e.output as readonly T[];
    }
    return out.length > 0 ? out : undefined;
  }

  #terminal(): null | Promise<never> {
    if (this.#state === FAILED) return Promise.reject(this.#error);
    if (this.#state === TRANSFERRED) return Promise.reject(takenError());
    return null;
  }

  #finish(): null | Promise<null> {
    this.#state = DONE;
    this.#resolveClosed(undefined);
    const closing = this.#closeSource();
    return this.#sourceCloseIsSync ? null : closing.then(() => null, (e: unknown) => this.#failAfterClose(e));
  }

  #sourceCloseIsSync = false;

  #failSync(e: unknown): never {
    this.#state = FAILED;
    this.#error = e as E;
    this.#resolveClosed(e);
    void this.#closeSource().catch(() => undefined);
    throw e;
  }

  #fail(e: unknown): Promise<never> {
    if (this.#state === OPEN) {
      this.#state = FAILED;
      this.#error = e as E;
      this.#resolveClosed(e);
    }
    return this.#closeSource().then(
      () => Promise.reject(e as Error),
      () => Promise.reject(e as Error),
    );
  }

  #failAfterClose(e: unknown): never {
    this.#state = FAILED;
    this.#error = e as E;
    throw e;
  }

  #closeSource(): Promise<void> {
    if (this.#sourceClosed !== undefined) return this.#sourceClosed;
    if (this.#state === TRANSFERRED) {
      this.#sourceClosed = Promise.resolve();
      return this.#sourceClosed;
    }
    let r: unknown;
    try {
      r = this.#source.close?.();
    } catch (e) {
      this.#sourceClosed = Promise.reject(e);
      return this.#sourceClosed;
    }
    if (isPromiseLike(r)) {
      this.#sourceClosed = Promise.resolve(r).then(() => undefined);
    } else {
      this.#sourceCloseIsSync = true;
      this.#sourceClosed = Promise.resolve();
    }
    return this.#sourceClosed;
  }

  // ---------------------------------------------------------------- operators

  /** Hand this stream's source to a new owner. */
  #transfer(): ChunkPuller<T> {
    this.#assertOwnable();
    this.#taken = true;
    return this;
  }

  #assertOwnable(): void {
    if (this.#state === TRANSFERRED || this.#taken) throw takenError();
  }

  #derive<U>(stage: Stage<T, U>): Stream<U, E> {
    this.#assertOwnable();
    if (!this.#started && this.#state === OPEN) {
      this.#state = TRANSFERRED;
      const composed = this.#stage === undefined ? (stage as Stage<unknown, U>) : composeStages(this.#stage, stage);
      const derived = new Stream<U, E>(this.#source, composed);
      // The source now closes through `derived`: report that on this stream's `closed` too.
      void derived.closed.then((e) => this.#resolveClosed(e));
      return derived;
    }
    this.#taken = true;
    return new Stream<U, E>(
      { pull: () => this[pullChunk](), close: () => this.close() },
      stage,
    );
  }

  /** Callers have already taken ownership of this stream through #transfer. */
  #wrap<U, E2 = E>(source: StreamSource<U>): Stream<U, E2> {
    return new Stream<U, E2>(source);
  }

  /**
   * Transform each element.
   *
   * @example
   * ```ts
   * Stream.of(1, 2).map((n) => n * 2); // 2, 4
   * ```
   */
  map<U>(fn: (value: T, index: number) => U): Stream<U, E> {
    return this.#derive(mapStage(fn));
  }

  /**
   * Keep the elements for which `fn` is truthy (a type guard narrows the element type).
   *
   * @example
   * ```ts
   * Stream.of(1, 2, 3).filter((n) => n > 1); // 2, 3
   * ```
   */
  filter<U extends T>(fn: (value: T, index: number) => value is U): Stream<U, E>;
  filter(fn: (value: T, index: number) => unknown): Stream<T, E>;
  filter(fn: (value: T, index: number) => unknown): Stream<T, E> {
    return this.#derive(filterStage(fn));
  }

  /**
   * Replace each element by the elements of what `fn` returns: an array or iterable (fused,
   * synchronous), or an async iterable / stream (drained in order).
   *
   * @example
   * ```ts
   * Stream.of("a b", "c").flatMap((s) => s.split(" ")); // "a", "b", "c"
   * ```
   */
  flatMap<U>(fn: (value: T) => Iterable<U>): Stream<U, E>;
  flatMap<U, E2 = never>(fn: (value: T) => Iterable<U> | AsyncIterable<U> | Stream<U, E2>): Stream<U, E | E2>;
  flatMap<U>(fn: (value: T) => Iterable<U> | AsyncIterable<U>): Stream<U, E> {
    return this.#wrap(flatMapSource(this.#transfer(), fn, (x) => Stream.from(x as StreamInput<U>)));
  }

  /**
   * Like {@link Stream.flatMap} for functions that always return arrays or sync iterables;
   * fused into the synchronous chunk pass.
   *
   * @example
   * ```ts
   * Stream.of([1, 2], [3]).flatMapSync((xs) => xs); // 1, 2, 3
   * ```
   */
  flatMapSync<U>(fn: (value: T) => Iterable<U>): Stream<U, E> {
    return this.#derive(flatMapSyncStage(fn));
  }

  /**
   * At most the first `n` elements (Ballerina's `limit`); the source is closed once reached.
   *
   * @example
   * ```ts
   * Stream.from(endless()).take(10);
   * ```
   */
  take(n: number): Stream<T, E> {
    return this.#derive(takeStage<T>(n));
  }

  /** Alias of {@link Stream.take}, Ballerina's name. @example `s.limit(5)` */
  limit(n: number): Stream<T, E> {
    return this.take(n);
  }

  /**
   * Drop the first `n` elements.
   *
   * @example
   * ```ts
   * Stream.of("header", "a", "b").skip(1); // "a", "b"
   * ```
   */
  skip(n: number): Stream<T, E> {
    return this.#derive(skipStage<T>(n));
  }

  /**
   * Elements while `fn` holds; ends at the first that fails it.
   *
   * @example
   * ```ts
   * Stream.of(1, 2, 9, 3).takeWhile((n) => n < 5); // 1, 2
   * ```
   */
  takeWhile(fn: (value: T) => unknown): Stream<T, E> {
    return this.#derive(takeWhileStage(fn));
  }

  /**
   * Run `fn` for each element as it passes (for logging, metrics).
   *
   * @example
   * ```ts
   * s.tap((order) => metrics.inc("orders"));
   * ```
   */
  tap(fn: (value: T) => void): Stream<T, E> {
    return this.#derive(tapStage(fn));
  }

  /**
   * Group elements into arrays of `size` (the last may be shorter). With `maxWaitMs`, a
   * partial group is emitted once its first element has waited that long.
   *
   * @example
   * ```ts
   * events.chunk(100, { maxWaitMs: 50 }).forEach((batch) => db.insertMany(batch));
   * ```
   */
  chunk(size: number, options: { readonly maxWaitMs?: number } = {}): Stream<T[], E> {
    if (options.maxWaitMs === undefined) return this.#derive(chunkStage<T>(size));
    chunkStage<T>(size); // validates size
    return this.#wrap(chunkTimedSource(this.#transfer(), size, options.maxWaitMs));
  }

  /**
   * Expose the stream's internal chunks as elements: cheap batch access for consumers that
   * handle arrays.
   *
   * @example
   * ```ts
   * for await (const batch of Stream.from(bigArray).chunks()) insertMany(batch);
   * ```
   */
  chunks(): Stream<readonly T[], E> {
    const up = this.#transfer();
    return this.#wrap({
      pull: () => {
        const r = up[pullChunk]();
        return isPromiseLike(r) ? Promise.resolve(r).then((c) => (c === null ? null : [c])) : r === null ? null : [r];
      },
      close: () => up.close(),
    });
  }

  /**
   * Map with up to `concurrency` calls of `fn` in flight; output order is input order. `fn`
   * receives an `AbortSignal` that aborts when the stream is closed.
   *
   * @example
   * ```ts
   * urls.mapConcurrent(8, (url, { signal }) => fetch(url, { signal }).then((r) => r.json()));
   * ```
   */
  mapConcurrent<U>(concurrency: number, fn: (value: T, context: MapConcurrentContext) => U | Promise<U>): Stream<U, E> {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new PirouetteError("INVALID_ARGUMENT", "mapConcurrent needs a concurrency of at least 1");
    }
    return this.#wrap(mapConcurrentSource(this.#transfer(), concurrency, fn));
  }

  /**
   * Interleave this stream with others in arrival order.
   *
   * @example
   * ```ts
   * a.merge(b, c).forEach(handle);
   * ```
   */
  merge<E2>(...others: Stream<T, E2>[]): Stream<T, E | E2> {
    return this.#wrap(mergeSource<T>([this.#transfer(), ...others.map((o) => o.#transfer())]));
  }

  /**
   * Pair elements by position; ends when either stream ends.
   *
   * @example
   * ```ts
   * Stream.of(1, 2).zip(Stream.of("a", "b")); // [1, "a"], [2, "b"]
   * ```
   */
  zip<U, E2>(other: Stream<U, E2>): Stream<[T, U], E | E2> {
    return this.#wrap(zipSource(this.#transfer(), other.#transfer()));
  }

  /**
   * On failure, continue with what `handler` returns (a stream, iterable or async iterable),
   * or end normally when it returns `undefined`.
   *
   * @example
   * ```ts
   * feed.catch((err) => { log.warn(err); return cachedFeed(); });
   * ```
   */
  catch<E2 = never>(handler: (error: E) => StreamInput<T> | Stream<T, E2> | undefined | void): Stream<T, E2> {
    return this.#wrap(
      catchSource<T, E>(this.#transfer(), handler as (e: E) => unknown, (x) => Stream.from(x as StreamInput<T>)),
    );
  }

  /**
   * Transform the error the stream fails with.
   *
   * @example
   * ```ts
   * rows.mapError((e) => new SqlError("QUERY", "query failed", { cause: e }));
   * ```
   */
  mapError<E2>(fn: (error: E) => E2): Stream<T, E2> {
    return this.#wrap(mapErrorSource<T, E, E2>(this.#transfer(), fn));
  }

  // ---------------------------------------------------------------- terminals

  /** Drive the stream chunk by chunk; `fn` returns true to stop early. */
  async #drain(fn: (chunk: readonly T[]) => boolean | void | Promise<boolean | void>): Promise<void> {
    this.#assertOwnable();
    try {
      for (;;) {
        const r = this.#pullRaw();
        let c: readonly T[] | null | undefined;
        if (!isPromiseLike(r)) c = r;
        else if (!this.#raw) c = (await r) as readonly T[] | null;
        else {
          this.#raw = false;
          let raw: readonly unknown[] | null;
          try {
            raw = (await r) as readonly unknown[] | null;
          } catch (e) {
            await this.#fail(e); // closes the source, then rejects with e
            throw e;
          }
          c = this.#apply(raw);
        }
        if (c === undefined) continue;
        if (c === null) return;
        const stop = fn(c);
        if ((isPromiseLike(stop) ? await stop : stop) === true) {
          await this.close();
          return;
        }
      }
    } catch (e) {
      await this.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Call `fn` for every element, awaiting it when it returns a promise (Ballerina's `do`).
   * Rejects with `E` if the stream fails, or with what `fn` threw (the stream is closed).
   *
   * @example
   * ```ts
   * await orders.forEach(async (o) => { await save(o); });
   * ```
   */
  forEach(fn: (value: T) => unknown): Promise<void> {
    return this.#drain(async (c) => {
      for (let i = 0; i < c.length; i++) {
        const r = fn(c[i] as T);
        if (isPromiseLike(r)) await r;
      }
    });
  }

  /**
   * Fold the elements into one value.
   *
   * @example
   * ```ts
   * await Stream.of(1, 2, 3).reduce((a, b) => a + b, 0); // 6
   * ```
   */
  async reduce<A>(fn: (acc: A, value: T) => A, initial: A): Promise<A> {
    let acc = initial;
    await this.#drain((c) => {
      for (let i = 0; i < c.length; i++) acc = fn(acc, c[i] as T);
    });
    return acc;
  }

  /**
   * All elements in an array.
   *
   * @example
   * ```ts
   * const rows = await client.query(sql`SELECT 1`).toArray();
   * ```
   */
  async toArray(): Promise<T[]> {
    // Keep the chunks and join them once at the end: one copy, no per-item push into a
    // growing array (chunks are never mutated after a source hands them over).
    const parts: (readonly T[])[] = [];
    await this.#drain((c) => {
      if (c.length > 0) parts.push(c);
    });
    return concatChunks(parts);
  }

  /**
   * How many elements the stream has.
   *
   * @example
   * ```ts
   * await Stream.of("a", "b").count(); // 2
   * ```
   */
  async count(): Promise<number> {
    let n = 0;
    await this.#drain((c) => {
      n += c.length;
    });
    return n;
  }

  /**
   * The first element, or `undefined` for an empty stream; the stream is closed afterwards.
   *
   * @example
   * ```ts
   * const latest = await events.first();
   * ```
   */
  async first(): Promise<T | undefined> {
    let found: T | undefined;
    await this.#drain((c) => {
      if (c.length === 0) return false;
      found = c[0];
      return true;
    });
    return found;
  }

  /**
   * Compute several aggregates in one pass.
   *
   * @example
   * ```ts
   * const { total, n } = await orders.collect({ total: sum((o) => o.amount), n: count() });
   * ```
   */
  async collect<A extends Record<string, Aggregate<T, unknown>>>(aggregates: A): Promise<AggregateResults<A>> {
    const keys = Object.keys(aggregates);
    const aggs = keys.map((k) => aggregates[k] as Aggregate<T, unknown>);
    const accs = aggs.map((a) => a.init());
    await this.#drain((c) => {
      for (let i = 0; i < c.length; i++) {
        for (let j = 0; j < aggs.length; j++) accs[j] = (aggs[j] as Aggregate<T, unknown>).step(accs[j], c[i] as T);
      }
    });
    const out: Record<string, unknown> = {};
    keys.forEach((k, j) => {
      out[k] = (aggs[j] as Aggregate<T, unknown>).result(accs[j]);
    });
    return out as AggregateResults<A>;
  }

  /**
   * Write every element to `sink`, awaiting each write (backpressure), then close the sink.
   * If the stream fails, the sink is aborted (or closed) and the promise rejects with `E`;
   * if the sink fails, the stream is closed and the promise rejects with that error.
   *
   * @example
   * ```ts
   * await kafkaConsumer.stream().filter(isPaid).pipeTo(wsClient);
   * ```
   */
  async pipeTo(sink: Sink<T>, options: PipeToOptions = {}): Promise<void> {
    const { signal } = options;
    let sourceFailed = false;
    const onAbort = (): void => {
      void this.close();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await this.#drain(async (c) => {
        if (signal?.aborted === true) return true;
        if (sink.writeMany !== undefined) {
          const r = sink.writeMany(c);
          if (isPromiseLike(r)) await r;
        } else {
          for (let i = 0; i < c.length; i++) {
            const r = sink.write(c[i] as T);
            if (isPromiseLike(r)) await r;
          }
        }
        return false;
      }).catch((e: unknown) => {
        sourceFailed = this.#state === FAILED && this.#error === e;
        throw e;
      });
    } catch (e) {
      if (sourceFailed && sink.abort !== undefined) await sink.abort(e);
      else if (options.preventClose !== true) await Promise.resolve(sink.close()).catch(() => undefined);
      throw e;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (options.preventClose !== true) await sink.close();
    if (signal?.aborted === true) throw signal.reason;
  }
}

/** Join chunks into one new array (Array.prototype.concat copies in bulk). */
function concatChunks<T>(parts: readonly (readonly T[])[]): T[] {
  if (parts.length === 0) return [];
  if (parts.length === 1) return (parts[0] as readonly T[]).slice();
  // concat takes its chunks as arguments: join in groups to stay far below argument limits.
  const GROUP = 4096;
  if (parts.length <= GROUP) return ([] as T[]).concat(...parts);
  const groups: T[][] = [];
  for (let i = 0; i < parts.length; i += GROUP) groups.push(([] as T[]).concat(...parts.slice(i, i + GROUP)));
  return ([] as T[]).concat(...groups);
}

function iterDone(): IteratorReturnResult<undefined> {
  return { value: undefined, done: true };
}

function takenError(): PirouetteError {
  return new PirouetteError("STATE", "this stream was consumed by an operator; use the stream it returned");
}

function isStreamValue<T>(r: unknown): r is StreamValue<T> {
  return typeof r === "object" && r !== null && !(r instanceof Error) && "value" in r;
}

function withClose<T>(source: StreamSource<T>, onClose: () => unknown): StreamSource<T> {
  return {
    pull: () => source.pull(),
    async close() {
      try {
        await source.close?.();
      } finally {
        await onClose();
      }
    },
  };
}
