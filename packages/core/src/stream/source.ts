/**
 * The chunk-level source protocol every {@link Stream} is built on.
 *
 * @module
 */

/**
 * A pull-based source of chunks. `pull()` returns the next chunk (a non-empty or empty
 * array), or `null` when the source is exhausted; it throws (or rejects) to fail the stream.
 * It may answer synchronously, which lets in-memory pipelines run without a promise per
 * chunk. `close()` releases whatever the source holds; a {@link Stream} calls it exactly once.
 *
 * @example
 * ```ts
 * let n = 0;
 * const counter: StreamSource<number> = {
 *   pull: () => (n < 3 ? [n++] : null),
 *   close: () => console.log("released"),
 * };
 * const s = new Stream(counter); // yields 0, 1, 2 then logs "released"
 * ```
 */
export interface StreamSource<T> {
  pull(): readonly T[] | null | Promise<readonly T[] | null>;
  close?(): void | Promise<void>;
}

/**
 * A synchronous, fusable transformation applied to each chunk. Internal.
 * @internal
 */
export interface Stage<I, O> {
  /** Transform one chunk; sets `ended` when no more input is wanted (e.g. `take`). */
  run(chunk: readonly I[]): readonly O[];
  /** Called once when the input is exhausted; may emit buffered items (e.g. `chunk`). */
  flush?(): readonly O[];
  /** True once the stage wants no more input. */
  readonly ended: boolean;
}

/** @internal */
export function composeStages<A, B, C>(first: Stage<A, B>, second: Stage<B, C>): Stage<A, C> {
  return {
    run(chunk) {
      const mid = first.run(chunk);
      return mid.length === 0 && !first.ended ? [] : second.run(mid);
    },
    flush() {
      const mid = first.flush?.() ?? [];
      const out = mid.length > 0 ? [...second.run(mid)] : [];
      if (second.flush !== undefined) out.push(...second.flush());
      return out;
    },
    get ended() {
      return first.ended || second.ended;
    },
  };
}

/** @internal */
export function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<T>).then === "function";
}
