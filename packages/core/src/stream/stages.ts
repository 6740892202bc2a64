/**
 * Synchronous, fusable per-chunk stages behind the simple Stream operators.
 * @internal
 * @module
 */
import { PirouetteError } from "../errors.ts";
import { StageFailure, trimmed, type Stage } from "./source.ts";

const EMPTY: readonly never[] = [];

// A callback that throws does not lose the results before it: `run` throws a StageFailure
// holding them; the stream delivers them, then fails (as a per-item pipeline would).

/** @internal */
export function mapStage<T, U>(fn: (value: T, index: number) => U): Stage<T, U> {
  let index = 0;
  return {
    ended: false,
    fusable: { kind: "map", fn: fn },
    run(chunk) {
      const n = chunk.length;
      const out = new Array<U>(n);
      const base = index;
      index += n;
      let i = 0;
      try {
        for (; i < n; i++) out[i] = fn(chunk[i] as T, base + i);
      } catch (error) {
        throw new StageFailure(error, trimmed(out, i));
      }
      return out;
    },
  };
}

/** @internal */
export function filterStage<T>(fn: (value: T, index: number) => unknown): Stage<T, T> {
  let index = 0;
  return {
    ended: false,
    fusable: { kind: "filter", fn: fn },
    run(chunk) {
      // Preallocate and trim: cheaper than growing the output by push.
      const n = chunk.length;
      const out = new Array<T>(n);
      const base = index;
      index += n;
      let k = 0;
      try {
        for (let i = 0; i < n; i++) {
          const v = chunk[i] as T;
          if (fn(v, base + i)) out[k++] = v;
        }
      } catch (error) {
        throw new StageFailure(error, trimmed(out, k));
      }
      return trimmed(out, k);
    },
  };
}

/** @internal */
export function tapStage<T>(fn: (value: T) => void): Stage<T, T> {
  return {
    ended: false,
    run(chunk) {
      let i = 0;
      try {
        for (; i < chunk.length; i++) fn(chunk[i] as T);
      } catch (error) {
        throw new StageFailure(error, chunk.slice(0, i));
      }
      return chunk;
    },
  };
}

/** @internal */
export function takeStage<T>(n: number): Stage<T, T> {
  assertCount(n, "take");
  let left = n;
  return {
    get ended() {
      return left <= 0;
    },
    run(chunk) {
      if (left <= 0) return EMPTY;
      if (chunk.length <= left) {
        left -= chunk.length;
        return chunk;
      }
      const out = chunk.slice(0, left);
      left = 0;
      return out;
    },
  };
}

/** @internal */
export function skipStage<T>(n: number): Stage<T, T> {
  assertCount(n, "skip");
  let left = n;
  return {
    ended: false,
    run(chunk) {
      if (left === 0) return chunk;
      if (chunk.length <= left) {
        left -= chunk.length;
        return EMPTY;
      }
      const out = chunk.slice(left);
      left = 0;
      return out;
    },
  };
}

/** @internal */
export function takeWhileStage<T>(fn: (value: T) => unknown): Stage<T, T> {
  let done = false;
  return {
    get ended() {
      return done;
    },
    run(chunk) {
      if (done) return EMPTY;
      let i = 0;
      try {
        for (; i < chunk.length; i++) {
          if (!fn(chunk[i] as T)) {
            done = true;
            return chunk.slice(0, i);
          }
        }
      } catch (error) {
        throw new StageFailure(error, chunk.slice(0, i));
      }
      return chunk;
    },
  };
}

/** @internal */
export function flatMapSyncStage<T, U>(fn: (value: T) => Iterable<U>): Stage<T, U> {
  return {
    ended: false,
    run(chunk) {
      const out: U[] = [];
      try {
        for (let i = 0; i < chunk.length; i++) {
          const r = fn(chunk[i] as T);
          if (Array.isArray(r)) for (let j = 0; j < r.length; j++) out.push(r[j] as U);
          else for (const v of r) out.push(v);
        }
      } catch (error) {
        throw new StageFailure(error, out);
      }
      return out;
    },
  };
}

/** @internal */
export function chunkStage<T>(size: number): Stage<T, T[]> {
  assertCount(size, "chunk");
  if (size < 1) throw new PirouetteError("INVALID_ARGUMENT", "chunk size must be at least 1");
  let current: T[] = [];
  return {
    ended: false,
    run(chunk) {
      const out: T[][] = [];
      for (let i = 0; i < chunk.length; i++) {
        current.push(chunk[i] as T);
        if (current.length === size) {
          out.push(current);
          current = [];
        }
      }
      return out;
    },
    flush() {
      if (current.length === 0) return EMPTY;
      const last = current;
      current = [];
      return [last];
    },
  };
}

function assertCount(n: number, op: string): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new PirouetteError("INVALID_ARGUMENT", `${op}(n) needs a non-negative integer, got ${String(n)}`);
  }
}
