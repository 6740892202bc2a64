/**
 * The push-to-pull bridge that sockets and broker clients use to feed a {@link Stream}.
 *
 * @module
 */
import { PirouetteError } from "../errors.ts";
import { Stream } from "./stream.ts";

/** What to do when a producer keeps pushing past {@link PushSourceOptions.limit}. */
export type OverflowPolicy = "error" | "drop-newest" | "drop-oldest";

/** Options for {@link PushSource}. */
export interface PushSourceOptions {
  /**
   * Buffered elements at which the producer is asked to pause (`push` returns false and
   * `onPause` runs). Default 1024.
   */
  readonly highWaterMark?: number;
  /** Hard cap on buffered elements. Default 4 × highWaterMark. */
  readonly limit?: number;
  /** At the hard cap: fail the stream with a `BACKPRESSURE` error (default) or drop. */
  readonly overflow?: OverflowPolicy;
  /** Called when the buffer reaches the high-water mark: pause the producer (e.g. `socket.pause()`). */
  readonly onPause?: () => void;
  /** Called when the consumer has drained the buffer: resume the producer. */
  readonly onResume?: () => void;
  /** Called once when the consumer closes the stream or it ends: release the producer. */
  readonly onClose?: () => unknown;
  /** Called for each element dropped by the overflow policy. */
  readonly onDrop?: (value: unknown) => void;
}

/**
 * A bounded buffer between a push producer (events, callbacks) and a pull consumer
 * (`for await`, operators). Everything pushed in one burst (one synchronous run of callbacks)
 * reaches the consumer as one chunk. When the buffer reaches the high-water mark the producer
 * is paused through `onPause` and `push` returns false; it is resumed through `onResume` once
 * the consumer has taken the buffer.
 *
 * @example
 * ```ts
 * const src = new PushSource<Buffer>({
 *   highWaterMark: 64,
 *   onPause: () => socket.pause(),
 *   onResume: () => socket.resume(),
 *   onClose: () => socket.destroy(),
 * });
 * socket.on("data", (d) => src.push(d));
 * socket.on("end", () => src.end());
 * socket.on("error", (e) => src.fail(e));
 * for await (const chunk of src.stream) handle(chunk);
 * ```
 */
export class PushSource<T, E = Error> {
  /** The consumer side. */
  readonly stream: Stream<T, E>;
  readonly #hwm: number;
  readonly #limit: number;
  readonly #options: PushSourceOptions;
  #buffer: T[] = [];
  #ended = false;
  #failed: { error: unknown } | undefined;
  #closed = false;
  #paused = false;
  #waiter: ((chunk: readonly T[] | null | { error: unknown }) => void) | undefined;
  #wakeScheduled = false;
  #readyWaiters: (() => void)[] = [];

  constructor(options: PushSourceOptions = {}) {
    this.#options = options;
    this.#hwm = options.highWaterMark ?? 1024;
    this.#limit = options.limit ?? this.#hwm * 4;
    if (!(this.#hwm >= 1) || !(this.#limit >= this.#hwm)) {
      throw new PirouetteError("INVALID_ARGUMENT", "PushSource needs highWaterMark >= 1 and limit >= highWaterMark");
    }
    this.stream = new Stream<T, E>({
      pull: () => this.#pull(),
      close: () => this.#close(),
    });
  }

  /** Elements buffered and not yet taken by the consumer. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** True once the consumer closed the stream, or the source ended or failed. */
  get isClosed(): boolean {
    return this.#closed || this.#ended || this.#failed !== undefined;
  }

  /**
   * Offer one element. Returns false when the producer should pause (buffer at or above the
   * high-water mark) or the stream is closed.
   */
  push(value: T): boolean {
    if (this.isClosed) return false;
    if (this.#buffer.length >= this.#limit) {
      const policy = this.#options.overflow ?? "error";
      if (policy === "drop-newest") {
        this.#options.onDrop?.(value);
        return false;
      }
      if (policy === "drop-oldest") {
        const dropped = this.#buffer.shift();
        this.#options.onDrop?.(dropped);
      } else {
        this.fail(
          new PirouetteError("BACKPRESSURE", `push source overflow: ${this.#limit} elements buffered and the producer did not pause`) as E,
        );
        return false;
      }
    }
    this.#buffer.push(value);
    this.#scheduleWake();
    if (this.#buffer.length >= this.#hwm) {
      if (!this.#paused) {
        this.#paused = true;
        this.#options.onPause?.();
      }
      return false;
    }
    return true;
  }

  /** Offer several elements at once; same return value as {@link PushSource.push}. */
  pushMany(values: Iterable<T>): boolean {
    let ok = true;
    for (const v of values) ok = this.push(v);
    return ok && !this.isClosed;
  }

  /** Resolves when the buffer is below the high-water mark (for producers that can await). */
  ready(): Promise<void> {
    if (this.#buffer.length < this.#hwm || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** No more elements: the consumer sees the end after the buffered ones. */
  end(): void {
    if (this.isClosed) return;
    this.#ended = true;
    this.#scheduleWake();
    this.#releaseReady();
  }

  /** Fail the stream with `error`, after the elements already buffered. */
  fail(error: E): void {
    if (this.isClosed) return;
    this.#failed = { error };
    this.#scheduleWake();
    this.#releaseReady();
  }

  #scheduleWake(): void {
    if (this.#waiter === undefined || this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    // Defer so that a burst of synchronous pushes is handed over as one chunk.
    queueMicrotask(() => {
      this.#wakeScheduled = false;
      const waiter = this.#waiter;
      if (waiter === undefined) return;
      const next = this.#take();
      if (next === undefined) return;
      this.#waiter = undefined;
      waiter(next);
    });
  }

  /** The next thing to hand the consumer, or undefined when nothing is ready yet. */
  #take(): readonly T[] | null | { error: unknown } | undefined {
    if (this.#buffer.length > 0) {
      const chunk = this.#buffer;
      this.#buffer = [];
      if (this.#paused && !this.isClosed) {
        this.#paused = false;
        this.#options.onResume?.();
      }
      this.#releaseReady();
      return chunk;
    }
    if (this.#failed !== undefined) return this.#failed;
    if (this.#ended || this.#closed) return null;
    return undefined;
  }

  #pull(): readonly T[] | null | Promise<readonly T[] | null> {
    const next = this.#take();
    if (next !== undefined) return unwrap(next);
    return new Promise<readonly T[] | null | { error: unknown }>((resolve) => {
      this.#waiter = resolve;
    }).then(unwrap);
  }

  #releaseReady(): void {
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w();
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer = [];
    this.#releaseReady();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(null);
    await this.#options.onClose?.();
  }
}

function unwrap<T>(next: readonly T[] | null | { error: unknown }): readonly T[] | null {
  if (next === null || Array.isArray(next)) return next as readonly T[] | null;
  throw (next as { error: unknown }).error;
}
