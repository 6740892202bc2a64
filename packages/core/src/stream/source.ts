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
  /**
   * Set when a user callback threw during `run` (or `flush`): the chunk returned holds the
   * results for the elements before the failing one; the stream delivers it, then fails.
   */
  readonly failure?: { readonly error: unknown } | undefined;
  /** Set on plain per-item `map` / `filter` stages so that a pair can be fused into one loop. */
  readonly fusable?: FusableStep;
}

/** @internal The per-item function of a fresh `map` or `filter` stage. */
export type FusableStep =
  | { readonly kind: "map"; readonly fn: (value: never, index: number) => unknown }
  | { readonly kind: "filter"; readonly fn: (value: never, index: number) => unknown };

/** @internal */
export function composeStages<A, B, C>(first: Stage<A, B>, second: Stage<B, C>): Stage<A, C> {
  const fused = fuse<A, C>(first.fusable, second.fusable);
  if (fused !== undefined) return fused;
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
    // The second stage only saw elements before the first one's failure: its failure comes first.
    get failure() {
      return second.failure ?? first.failure;
    },
  };
}

/** @internal */
export function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<T>).then === "function";
}

type Fn = (value: unknown, index: number) => unknown;

/**
 * One loop for `map → filter` and `filter → map` (the commonest pairs): no intermediate chunk.
 * Both stages are fresh (composition happens before the stream starts), so their index
 * counters agree: a map's output index is its input index.
 */
function fuse<A, C>(a: FusableStep | undefined, b: FusableStep | undefined): Stage<A, C> | undefined {
  if (a === undefined || b === undefined || a.kind === b.kind) return undefined;
  let index = 0;
  let failure: { error: unknown } | undefined;
  if (a.kind === "map") {
    const mapFn = a.fn as Fn;
    const filterFn = b.fn as Fn;
    return {
      ended: false,
      get failure() {
        return failure;
      },
      run(chunk) {
        const n = chunk.length;
        const out = new Array<C>(n);
        const base = index;
        index += n;
        let k = 0;
        try {
          for (let i = 0; i < n; i++) {
            const v = mapFn(chunk[i], base + i);
            if (filterFn(v, base + i)) out[k++] = v as C;
          }
        } catch (error) {
          failure = { error };
        }
        out.length = k;
        return out;
      },
    };
  }
  const filterFn = a.fn as Fn;
  const mapFn = b.fn as Fn;
  let mapIndex = 0;
  return {
    ended: false,
    get failure() {
      return failure;
    },
    run(chunk) {
      const n = chunk.length;
      const out = new Array<C>(n);
      const base = index;
      index += n;
      let k = 0;
      try {
        for (let i = 0; i < n; i++) {
          const v = chunk[i];
          if (filterFn(v, base + i)) {
            const mapped = mapFn(v, mapIndex++) as C; // before k moves: a throw must not leave a hole
            out[k++] = mapped;
          }
        }
      } catch (error) {
        failure = { error };
      }
      out.length = k;
      return out;
    },
  };
}
