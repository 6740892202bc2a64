/**
 * Gathering small chunks into batches without adding latency.
 * @internal
 * @module
 */
import type { Stream } from "@pirouette/core";

/**
 * Reads `stream` chunk by chunk and returns batches of up to `max` elements: whatever arrived
 * before the next turn of the event loop. A source that yields synchronously (a generator, an
 * array) fills whole batches; a slow one gets its elements passed on as soon as they come,
 * never held back waiting for more. `next()` resolves to `null` at the end and rejects with the
 * stream's error.
 */
export function batches<T>(stream: Stream<T, unknown>, max: number): { next(): Promise<T[] | null>; close(): Promise<void> } {
  const chunks = stream.chunks();
  const it = chunks[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<readonly T[]>> | undefined;
  let done = false;
  const pull = (): Promise<IteratorResult<readonly T[]>> => {
    const p = it.next();
    p.catch(() => undefined); // awaited below; never an unhandled rejection if abandoned by close
    return p;
  };
  return {
    async next() {
      if (done) return null;
      let batch: T[] | undefined;
      let ticked = false;
      let wake: ((tick: "tick") => void) | undefined;
      let immediate: NodeJS.Immediate | undefined;
      try {
        for (;;) {
          pending ??= pull();
          let r: IteratorResult<readonly T[]> | "tick";
          if (batch === undefined) r = await pending;
          else {
            if (ticked) return batch;
            // Wait for the next chunk or the next turn of the event loop, whichever comes first
            // (a fresh promise per wait: racing one long-lived promise piles up reactions on it).
            immediate ??= setImmediate(() => {
              ticked = true;
              wake?.("tick");
            });
            const next = pending;
            r = await new Promise<IteratorResult<readonly T[]> | "tick">((resolve, reject) => {
              wake = resolve;
              next.then(resolve, reject);
            });
            wake = undefined;
          }
          if (r === "tick") return batch as T[];
          pending = undefined;
          if (r.done === true) {
            done = true;
            return batch ?? null;
          }
          const chunk = r.value;
          if (batch === undefined) batch = chunk.slice();
          else for (let i = 0; i < chunk.length; i++) batch.push(chunk[i] as T);
          if (batch.length >= max) return batch;
        }
      } finally {
        if (immediate !== undefined) clearImmediate(immediate);
      }
    },
    close: () => chunks.close(),
  };
}
