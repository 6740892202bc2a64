/**
 * Chunk sources for arrays, iterables, async iterables and Node readables.
 * @internal
 * @module
 */
import type { StreamSource } from "./source.ts";

/** Items per chunk when slicing an in-memory array. */
export const ARRAY_CHUNK = 1024;

/** @internal */
export function arraySource<T>(items: readonly T[], chunkSize = ARRAY_CHUNK): StreamSource<T> {
  let pos = 0;
  return {
    pull() {
      if (pos >= items.length) return null;
      if (pos === 0 && items.length <= chunkSize) {
        pos = items.length;
        return items;
      }
      const chunk = items.slice(pos, pos + chunkSize);
      pos += chunk.length;
      return chunk;
    },
  };
}

/**
 * A synchronous iterable is pulled one item per chunk, so a lazy generator is never run ahead
 * of its consumer; the pull itself is synchronous and costs no promise.
 * @internal
 */
export function iterableSource<T>(iterable: Iterable<T>): StreamSource<T> {
  let it: Iterator<T> | undefined;
  return {
    pull() {
      it ??= iterable[Symbol.iterator]();
      const r = it.next();
      return r.done === true ? null : [r.value];
    },
    close() {
      it?.return?.();
    },
  };
}

/**
 * @internal Method key on an {@link asyncIterableSource}: per-item access to its iterator, so
 * that a Stream with no stages can hand its source's results to `for await` without wrapping
 * each one in a chunk (the same iterator as `pull` uses, so both paths can be mixed).
 */
export const itemAccess: unique symbol = Symbol("pirouette.itemAccess");

/** @internal What {@link itemAccess} returns. */
export interface ItemAccess<T> {
  /** The source's iterator (created on first use). */
  iterator(): AsyncIterator<T>;
  /** Record that the iterator returned `done`, so that close does not call `return()`. */
  ended(): void;
}

/** @internal */
export function asyncIterableSource<T>(
  iterable: AsyncIterable<T>,
  onClose?: () => unknown,
): StreamSource<T> & { readonly [itemAccess]: ItemAccess<T> } {
  let it: AsyncIterator<T> | undefined;
  let done = false;
  const toChunk = (r: IteratorResult<T>): readonly T[] | null => {
    if (r.done === true) {
      done = true;
      return null;
    }
    return [r.value];
  };
  const iterator = (): AsyncIterator<T> => (it ??= iterable[Symbol.asyncIterator]());
  return {
    async pull() {
      const r = await iterator().next();
      return toChunk(r);
    },
    async close() {
      try {
        if (!done && it?.return !== undefined) await it.return();
      } finally {
        if (onClose !== undefined) await onClose();
      }
    },
    [itemAccess]: {
      iterator,
      ended: () => {
        done = true;
      },
    },
  };
}

interface ReadableLike<T> {
  read(size?: number): T | null;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  once(event: string, fn: (...args: unknown[]) => void): unknown;
  off(event: string, fn: (...args: unknown[]) => void): unknown;
  destroy(err?: Error): unknown;
  readonly readableEnded?: boolean;
  readonly destroyed?: boolean;
  readonly errored?: unknown;
}

/** @internal Recognise a Node.js Readable without importing node:stream. */
export function isReadable(value: unknown): value is ReadableLike<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ReadableLike<unknown>).read === "function" &&
    typeof (value as ReadableLike<unknown>).once === "function" &&
    typeof (value as ReadableLike<unknown>).destroy === "function"
  );
}

/**
 * Reads everything a Node readable has buffered in one chunk (`read()` until null), then
 * waits for `readable`. Backpressure is the readable's own highWaterMark.
 * @internal
 */
export function readableSource<T>(readable: ReadableLike<T>): StreamSource<T> {
  let ended = false;
  // The stream owns the readable from now on: an 'error' emitted while no pull is waiting
  // must not become an uncaught exception. The error stays in `readable.errored` for pull.
  readable.on("error", () => undefined);
  const drainBuffered = (): T[] => {
    const out: T[] = [];
    let v: T | null;
    while ((v = readable.read()) !== null) out.push(v);
    return out;
  };
  const wait = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        readable.off("readable", onReadable);
        readable.off("end", onEnd);
        readable.off("error", onError);
        readable.off("close", onEnd);
      };
      const onReadable = (): void => {
        cleanup();
        resolve();
      };
      const onEnd = (): void => {
        cleanup();
        ended = true;
        resolve();
      };
      const onError = (err: unknown): void => {
        cleanup();
        reject(err);
      };
      readable.once("readable", onReadable);
      readable.once("end", onEnd);
      readable.once("error", onError);
      readable.once("close", onEnd);
    });
  return {
    async pull() {
      for (;;) {
        if (readable.errored !== undefined && readable.errored !== null) throw readable.errored;
        const chunk = drainBuffered();
        if (chunk.length > 0) return chunk;
        if (ended || readable.readableEnded === true || readable.destroyed === true) {
          if (readable.errored !== undefined && readable.errored !== null) throw readable.errored;
          return null;
        }
        await wait();
      }
    },
    close() {
      if (readable.destroyed !== true) readable.destroy();
    },
  };
}
