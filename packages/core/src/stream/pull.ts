/**
 * The internal chunk-pull hook shared by Stream and its asynchronous operators.
 * @internal
 * @module
 */

/** @internal Method key: pull the next processed chunk of a Stream (null = done; throws the error). */
export const pullChunk: unique symbol = Symbol("pirouette.pullChunk");

/** @internal What an asynchronous operator needs from its upstream stream. */
export interface ChunkPuller<T> {
  [pullChunk](): readonly T[] | null | Promise<readonly T[] | null>;
  close(): Promise<void>;
}

/** @internal Pull as a promise, turning a synchronous throw into a rejection. */
export function pullAsync<T>(up: ChunkPuller<T>): Promise<readonly T[] | null> {
  try {
    return Promise.resolve(up[pullChunk]());
  } catch (e) {
    return Promise.reject(e);
  }
}
