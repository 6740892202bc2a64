/**
 * Stream operators that need their own asynchronous source: concurrency, merging, timers,
 * error recovery. Each reads its upstream chunk by chunk.
 * @internal
 * @module
 */
import { pullAsync, pullChunk, type ChunkPuller } from "./pull.ts";
import type { StreamSource } from "./source.ts";

/** The context `mapConcurrent` passes to its function. */
export interface MapConcurrentContext {
  /** Aborted when the stream is closed before the call finished. */
  readonly signal: AbortSignal;
  /** Position of the element in the input. */
  readonly index: number;
}

interface Slot<U> {
  done: boolean;
  ok: boolean;
  value?: U;
  error?: unknown;
  promise?: Promise<void>;
}

/** @internal */
export function mapConcurrentSource<T, U>(
  up: ChunkPuller<T>,
  concurrency: number,
  fn: (value: T, context: MapConcurrentContext) => U | Promise<U>,
): StreamSource<U> {
  const controller = new AbortController();
  const queue: Slot<U>[] = [];
  let input: readonly T[] = [];
  let inputPos = 0;
  let index = 0;
  let upDone = false;
  let upError: { error: unknown } | undefined;
  let upPending: Promise<void> | undefined;

  const start = (value: T): void => {
    const slot: Slot<U> = { done: false, ok: false };
    queue.push(slot);
    let result: U | Promise<U>;
    try {
      result = fn(value, { signal: controller.signal, index: index++ });
    } catch (error) {
      slot.done = true;
      slot.error = error;
      return;
    }
    if (!(result instanceof Promise)) {
      slot.done = true;
      slot.ok = true;
      slot.value = result;
      return;
    }
    slot.promise = result.then(
      (v) => {
        slot.done = true;
        slot.ok = true;
        slot.value = v;
      },
      (error: unknown) => {
        slot.done = true;
        slot.error = error;
      },
    );
  };

  const requestUpstream = (): void => {
    if (upPending !== undefined || upDone || upError !== undefined) return;
    upPending = pullAsync(up).then(
      (c) => {
        upPending = undefined;
        if (c === null) upDone = true;
        else {
          input = c;
          inputPos = 0;
        }
      },
      (error: unknown) => {
        upPending = undefined;
        upError = { error };
      },
    );
  };

  return {
    async pull() {
      for (;;) {
        while (queue.length < concurrency && inputPos < input.length) start(input[inputPos++] as T);
        // Emit the settled prefix, in input order; an error surfaces at its position.
        const out: U[] = [];
        while (queue.length > 0 && (queue[0] as Slot<U>).done) {
          const head = queue[0] as Slot<U>;
          if (!head.ok) {
            if (out.length > 0) return out;
            queue.shift();
            throw head.error;
          }
          queue.shift();
          out.push(head.value as U);
        }
        if (out.length > 0) return out;
        if (queue.length === 0 && inputPos >= input.length) {
          if (upError !== undefined) throw upError.error;
          if (upDone) return null;
        }
        if (queue.length < concurrency && inputPos >= input.length) requestUpstream();
        const waits: Promise<void>[] = [];
        const head = queue[0];
        if (head?.promise !== undefined && !head.done) waits.push(head.promise);
        if (upPending !== undefined) waits.push(upPending);
        if (waits.length === 0) continue;
        await Promise.race(waits);
      }
    },
    async close() {
      controller.abort();
      await up.close();
    },
  };
}

/** @internal */
export function mergeSource<T>(ups: ChunkPuller<T>[]): StreamSource<T> {
  const live = new Set(ups.map((_, i) => i));
  const pending = new Map<number, Promise<{ i: number; c: readonly T[] | null }>>();
  return {
    async pull() {
      for (;;) {
        if (live.size === 0) return null;
        for (const i of live) {
          if (!pending.has(i)) {
            pending.set(
              i,
              pullAsync(ups[i] as ChunkPuller<T>).then((c) => ({ i, c })),
            );
          }
        }
        const { i, c } = await Promise.race(pending.values());
        pending.delete(i);
        if (c === null) {
          live.delete(i);
          continue;
        }
        if (c.length > 0) return c;
      }
    },
    async close() {
      for (const p of pending.values()) p.catch(() => undefined);
      await Promise.all(ups.map((u) => u.close().catch(() => undefined)));
    },
  };
}

/** @internal */
export function zipSource<A, B>(left: ChunkPuller<A>, right: ChunkPuller<B>): StreamSource<[A, B]> {
  let lb: readonly A[] = [];
  let rb: readonly B[] = [];
  let lp = 0;
  let rp = 0;
  return {
    async pull() {
      if (lp >= lb.length) {
        const c = await pullAsync(left);
        if (c === null) return null;
        lb = c;
        lp = 0;
      }
      if (rp >= rb.length) {
        const c = await pullAsync(right);
        if (c === null) return null;
        rb = c;
        rp = 0;
      }
      const n = Math.min(lb.length - lp, rb.length - rp);
      const out = new Array<[A, B]>(n);
      for (let k = 0; k < n; k++) out[k] = [lb[lp + k] as A, rb[rp + k] as B];
      lp += n;
      rp += n;
      return out;
    },
    async close() {
      await Promise.all([left.close(), right.close()]);
    },
  };
}

/** @internal */
export function flatMapSource<T, U>(
  up: ChunkPuller<T>,
  fn: (value: T) => Iterable<U> | AsyncIterable<U>,
  toStream: (x: AsyncIterable<U>) => ChunkPuller<U>,
): StreamSource<U> {
  let input: readonly T[] = [];
  let pos = 0;
  let inner: ChunkPuller<U> | undefined;
  let pendingError: { error: unknown } | undefined;
  return {
    async pull() {
      if (pendingError !== undefined) throw pendingError.error;
      for (;;) {
        if (inner !== undefined) {
          const c = await pullAsync(inner);
          if (c !== null) return c;
          inner = undefined;
        }
        if (pos >= input.length) {
          const c = await pullAsync(up);
          if (c === null) return null;
          input = c;
          pos = 0;
        }
        const out: U[] = [];
        while (pos < input.length) {
          let r: Iterable<U> | AsyncIterable<U>;
          try {
            r = fn(input[pos++] as T);
          } catch (error) {
            // Deliver what the elements before the failing one produced, then fail.
            if (out.length === 0) throw error;
            pendingError = { error };
            return out;
          }
          if (Array.isArray(r)) {
            for (let j = 0; j < r.length; j++) out.push(r[j] as U);
          } else if (typeof (r as Iterable<U>)[Symbol.iterator] === "function" && !isPuller(r)) {
            for (const v of r as Iterable<U>) out.push(v);
          } else {
            inner = toStream(r as AsyncIterable<U>);
            break;
          }
        }
        if (out.length > 0) return out;
      }
    },
    async close() {
      await Promise.all([inner?.close(), up.close()]);
    },
  };
}

function isPuller(x: unknown): boolean {
  return typeof x === "object" && x !== null && pullChunk in x;
}

/** @internal */
export function catchSource<T, E>(
  up: ChunkPuller<T>,
  handler: (error: E) => unknown,
  toStream: (x: unknown) => ChunkPuller<T>,
): StreamSource<T> {
  let current = up;
  let recovered = false;
  return {
    async pull() {
      try {
        return await pullAsync(current);
      } catch (e) {
        if (recovered) throw e;
        recovered = true;
        const next = handler(e as E);
        if (next === undefined) return null;
        current = toStream(next);
        return pullAsync(current);
      }
    },
    async close() {
      await current.close();
    },
  };
}

/** @internal */
export function mapErrorSource<T, E, E2>(up: ChunkPuller<T>, fn: (error: E) => E2): StreamSource<T> {
  return {
    async pull() {
      try {
        return await pullAsync(up);
      } catch (e) {
        throw fn(e as E);
      }
    },
    close: () => up.close(),
  };
}

/** @internal A chunk of `size`, or fewer once the first buffered element has waited `maxWaitMs`. */
export function chunkTimedSource<T>(up: ChunkPuller<T>, size: number, maxWaitMs: number): StreamSource<T[]> {
  let buffer: T[] = [];
  let firstAt = 0;
  let upPending: Promise<readonly T[] | null> | undefined;
  let upDone = false;
  const take = (): T[][] => {
    const out: T[][] = [];
    while (buffer.length >= size) out.push(buffer.splice(0, size));
    return out;
  };
  return {
    async pull() {
      for (;;) {
        const full = take();
        if (full.length > 0) {
          if (buffer.length > 0) firstAt = Date.now();
          return full;
        }
        if (upDone) {
          if (buffer.length === 0) return null;
          const last = buffer;
          buffer = [];
          return [last];
        }
        upPending ??= pullAsync(up);
        let c: readonly T[] | null | "timeout";
        if (buffer.length === 0) {
          c = await upPending;
        } else {
          const left = Math.max(0, firstAt + maxWaitMs - Date.now());
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<"timeout">((resolve) => {
            timer = setTimeout(() => resolve("timeout"), left);
          });
          c = await Promise.race([upPending, timeout]);
          clearTimeout(timer);
        }
        if (c === "timeout") {
          const partial = buffer;
          buffer = [];
          return [partial];
        }
        upPending = undefined;
        if (c === null) {
          upDone = true;
          continue;
        }
        if (buffer.length === 0 && c.length > 0) firstAt = Date.now();
        for (let i = 0; i < c.length; i++) buffer.push(c[i] as T);
      }
    },
    async close() {
      upPending?.catch(() => undefined);
      await up.close();
    },
  };
}
