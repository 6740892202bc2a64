/**
 * A resolver's `Stream` as the async generator graphql-js and graphql-ws drive.
 * @internal
 * @module
 */
import { toError, type Stream } from "@pirouette/core";

const DONE: IteratorResult<unknown, undefined> = Object.freeze({ done: true, value: undefined });

function isStreamValue(r: unknown): r is { readonly value: unknown } {
  return typeof r === "object" && r !== null && !(r instanceof Error) && "value" in r;
}

/**
 * Pulls the source stream one element at a time (no read-ahead: the source is paced by the
 * socket). An element is yielded as is (an `Error` element becomes `next` with `errors` in the
 * field resolver); the stream failing with `E` yields `E` as a last error element, then ends, so
 * neither the socket nor the other subscriptions suffer. `return()` (client `complete`, socket
 * closed) and `end()` (listener stopping) close the source at once, even while a pull waits.
 */
export class SubscriptionSource implements AsyncGenerator<unknown, undefined> {
  readonly #stream: Stream<unknown, unknown>;
  readonly #onDone: (source: SubscriptionSource) => void;
  readonly #onCloseError: (error: Error) => void;
  #done = false;
  #pending: ((r: IteratorResult<unknown, undefined>) => void) | undefined;

  constructor(stream: Stream<unknown, unknown>, onDone: (source: SubscriptionSource) => void, onCloseError: (error: Error) => void) {
    this.#stream = stream;
    this.#onDone = onDone;
    this.#onCloseError = onCloseError;
  }

  /** True once the subscription ended (drained, failed, completed by the client or stopped). */
  get isDone(): boolean {
    return this.#done;
  }

  next(): Promise<IteratorResult<unknown, undefined>> {
    if (this.#done) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.#pending = resolve;
      this.#stream.next().then(this.#onResult, this.#onFailure);
    });
  }

  // Bound once: no closures per element.
  readonly #onResult = (r: unknown): void => {
    const resolve = this.#pending;
    if (resolve === undefined) return; // ended meanwhile: already resolved as done
    this.#pending = undefined;
    if (r === undefined) {
      this.#finish(false);
      resolve(DONE);
    } else if (isStreamValue(r)) {
      resolve({ done: false, value: r.value });
    } else {
      // The stream failed (it closed itself): its error is the last element.
      this.#finish(false);
      resolve({ done: false, value: toError(r) });
    }
  };

  readonly #onFailure = (e: unknown): void => {
    const resolve = this.#pending;
    if (resolve === undefined) return;
    this.#pending = undefined;
    this.#finish(true);
    resolve({ done: false, value: toError(e) });
  };

  return(): Promise<IteratorResult<unknown, undefined>> {
    this.end();
    return Promise.resolve(DONE);
  }

  throw(): Promise<IteratorResult<unknown, undefined>> {
    this.end();
    return Promise.resolve(DONE);
  }

  /** End the subscription now: a waiting pull resolves as done, and the source is closed. */
  end(): void {
    if (this.#done) return;
    this.#finish(true);
    const p = this.#pending;
    this.#pending = undefined;
    p?.(DONE);
  }

  #finish(close: boolean): void {
    this.#done = true;
    if (close) this.#stream.close().catch((e: unknown) => this.#onCloseError(toError(e)));
    this.#onDone(this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.end();
    return Promise.resolve();
  }
}
