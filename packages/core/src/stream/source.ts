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
  /** Set on plain per-item `map` / `filter` stages so that a pair can be fused into one loop. */
  readonly fusable?: FusableStep;
}

/** @internal The per-item function of a fresh `map` or `filter` stage. */
export type FusableStep =
  | { readonly kind: "map"; readonly fn: (value: never, index: number) => unknown }
  | { readonly kind: "filter"; readonly fn: (value: never, index: number) => unknown };

/**
 * Thrown by a stage whose user callback threw: `output` holds the stage's results for the
 * elements before the failing one, so that the stream can deliver them and then fail (the
 * same sequence as a per-item pipeline, whatever the chunking). Internal.
 * @internal
 */
export class StageFailure {
  readonly error: unknown;
  readonly output: readonly unknown[];
  constructor(error: unknown, output: readonly unknown[]) {
    this.error = error;
    this.output = output;
  }
}

/** @internal */
export function composeStages<A, B, C>(first: Stage<A, B>, second: Stage<B, C>): Stage<A, C> {
  const fused = fuse<A, C>(first.fusable, second.fusable);
  if (fused !== undefined) return fused;
  return {
    run(chunk) {
      let mid: readonly B[];
      try {
        mid = first.run(chunk);
      } catch (e) {
        if (!(e instanceof StageFailure)) throw e;
        // The second stage still gets the elements before the failure; a failure of its own
        // among them comes first in the sequence and propagates as is.
        const out = e.output.length > 0 ? second.run(e.output as readonly B[]) : EMPTY;
        throw new StageFailure(e.error, out);
      }
      return mid.length === 0 && !first.ended ? EMPTY : second.run(mid);
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

const EMPTY: readonly never[] = [];

/** Trim a preallocated output to the `k` elements written (setting length costs a runtime call). */
export function trimmed<T>(out: T[], k: number): readonly T[] {
  if (k === out.length) return out;
  if (k === 0) return EMPTY;
  out.length = k;
  return out;
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
  if (a.kind === "map") {
    const mapFn = a.fn as Fn;
    const filterFn = b.fn as Fn;
    return {
      ended: false,
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
          throw new StageFailure(error, trimmed(out, k));
        }
        return trimmed(out, k);
      },
    };
  }
  const filterFn = a.fn as Fn;
  const mapFn = b.fn as Fn;
  let mapIndex = 0;
  return {
    ended: false,
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
        throw new StageFailure(error, trimmed(out, k));
      }
      return trimmed(out, k);
    },
  };
}
