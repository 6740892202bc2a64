/**
 * The buffering query clauses (`orderBy`, `groupBy`, `join`) as Streams built on the public
 * Stream API. Nothing is pulled until the returned stream is.
 * @internal
 * @module
 */
import { Stream } from "../stream/stream.ts";
import { KeyMap } from "./keys.ts";
import { sortBy, type OrderSpec } from "./order.ts";

/**
 * A group emitted by `groupBy`: its key (the first-seen key value) and its items in input order.
 *
 * @example
 * ```ts
 * from(orders)
 *   .groupBy((o) => o.customer)
 *   .select((g: Group<string, Order>) => ({ customer: g.key, n: g.items.length }));
 * ```
 */
export interface Group<K, T> {
  readonly key: K;
  readonly items: T[];
}

/** Read all of `up` on the first pull, then emit `finish(items)` as one chunk. */
function bufferAll<T, U, E>(up: Stream<T, E>, finish: (items: T[]) => readonly U[]): Stream<U, E> {
  const chunks = up.chunks();
  let done = false;
  return new Stream<U, E>({
    async pull() {
      if (done) return null;
      done = true;
      const items: T[] = [];
      await chunks.forEach((c) => {
        for (let i = 0; i < c.length; i++) items.push(c[i] as T);
      });
      return finish(items);
    },
    close: () => chunks.close(),
  });
}

/** @internal `orderBy`: stable, buffers all input. */
export function sortStream<T, E>(up: Stream<T, E>, specs: readonly OrderSpec<T>[]): Stream<T, E> {
  return bufferAll(up, (items) => sortBy(items, specs));
}

/** @internal `groupBy`: buffers all input; groups in first-seen order. */
export function groupStream<T, K, E>(up: Stream<T, E>, keyFn: (value: T) => K): Stream<Group<K, T>, E> {
  return bufferAll(up, (items) => {
    const groups: Group<K, T>[] = [];
    const index = new KeyMap<T[]>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as T;
      const key = keyFn(item);
      const members = index.get(key);
      if (members !== undefined) {
        members.push(item);
      } else {
        const g: Group<K, T> = { key, items: [item] };
        groups.push(g);
        index.set(key, g.items);
      }
    }
    return groups;
  });
}

/**
 * @internal Equality join: on the first pull the right side is read completely into a map keyed
 * by `rightKey`; each left value then yields `[left, right]` for every right value with an equal
 * key, in right-side order (with `outer`, `[left, undefined]` when there is none).
 */
export function joinStream<T, U, E, E2>(
  left: Stream<T, E>,
  right: Stream<U, E2>,
  leftKey: (value: T) => unknown,
  rightKey: (value: U) => unknown,
  outer: boolean,
): Stream<[T, U | undefined], E | E2> {
  const leftChunks = left.chunks();
  let it: AsyncIterator<readonly T[]> | undefined;
  let index: KeyMap<U[]> | undefined;
  return new Stream<[T, U | undefined], E | E2>({
    async pull() {
      if (index === undefined) {
        const built = new KeyMap<U[]>();
        await right.forEach((u) => {
          const key = rightKey(u);
          const members = built.get(key);
          if (members !== undefined) members.push(u);
          else built.set(key, [u]);
        });
        index = built;
      }
      it ??= leftChunks[Symbol.asyncIterator]();
      const r = await it.next();
      if (r.done === true) return null;
      const out: [T, U | undefined][] = [];
      const chunk = r.value;
      for (let i = 0; i < chunk.length; i++) {
        const l = chunk[i] as T;
        const matches = index.get(leftKey(l));
        if (matches !== undefined) {
          for (let j = 0; j < matches.length; j++) out.push([l, matches[j]]);
        } else if (outer) {
          out.push([l, undefined]);
        }
      }
      return out;
    },
    async close() {
      await Promise.all([leftChunks.close(), right.close()]);
    },
  });
}
