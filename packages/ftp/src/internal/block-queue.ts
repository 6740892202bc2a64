/**
 * The bounded push-to-pull bridge between a driver delivering download blocks and the
 * consumer's `Stream`.
 *
 * LOCAL WORKAROUND for core's `PushSource`, which does the same job: on a 32 MiB FTP download
 * it cost about 20% more CPU than this queue, because it wakes the consumer through
 * `queueMicrotask` (an `AsyncResource` per call) and one more promise (`.then(unwrap)`) for
 * every block. Replace it with `PushSource` once core's wake is as cheap.
 *
 * Written for V8 on the hot path: the driver calls methods of this class and the wake is a
 * static function, so no closure is created per download. (Per-download closures there made
 * V8 throw away and rebuild the optimized stream code after every download: "weak objects"
 * deoptimizations.)
 *
 * @internal
 * @module
 */
import { Stream, type StreamSource } from "@pirouette/core";
import type { DownloadSink } from "./port.ts";

interface Waiter {
  resolve(chunk: readonly Uint8Array[] | null): void;
  reject(error: unknown): void;
}

const OPEN = 0;
const ENDED = 1;
const FAILED = 2;
const CLOSED = 3;

/**
 * Blocks pushed by a producer and pulled by one `Stream`. `push` returns false once
 * `highWaterMark` blocks wait; `ready()` resolves when the consumer has taken them. The
 * consumer is woken once per event-loop turn, so the blocks read from a socket in one turn
 * reach it as one chunk. `onClose` runs once: when the stream is drained, fails or is closed
 * early.
 */
export class BlockQueue<E> implements StreamSource<Uint8Array>, DownloadSink {
  /** The consumer side. */
  readonly stream: Stream<Uint8Array, E>;
  /** Bytes pushed so far. */
  bytes = 0;
  readonly #highWaterMark: number;
  readonly #onClose: () => void;
  #state = OPEN;
  #error: unknown = undefined;
  #blocks: Uint8Array[] = [];
  #waiter: Waiter | undefined = undefined;
  #ready: (() => void)[] = [];
  #wakeScheduled = false;

  constructor(highWaterMark: number, onClose: () => void) {
    this.#highWaterMark = highWaterMark;
    this.#onClose = onClose;
    this.stream = new Stream<Uint8Array, E>(this);
  }

  /** Offer a block; false when the producer should wait for `ready()` (or the queue is closed). */
  push(block: Uint8Array): boolean {
    if (this.#state !== OPEN) return false;
    this.bytes += block.length;
    this.#blocks.push(block);
    if (this.#waiter !== undefined && !this.#wakeScheduled) {
      this.#wakeScheduled = true;
      setImmediate(BlockQueue.#wake, this);
    }
    return this.#blocks.length < this.#highWaterMark;
  }

  /** Resolves once the queue takes blocks again, or is closed. */
  ready(): Promise<void> {
    if (this.#blocks.length < this.#highWaterMark || this.#state !== OPEN) return Promise.resolve();
    return new Promise((resolve) => this.#ready.push(resolve));
  }

  /** No more blocks: the consumer sees the end after the queued ones. */
  end(): void {
    if (this.#state !== OPEN) return;
    this.#state = ENDED;
    this.#settleWaiter();
    this.#releaseReady();
  }

  /** Fail the stream with `error`, after the queued blocks. */
  fail(error: E): void {
    if (this.#state !== OPEN) return;
    this.#state = FAILED;
    this.#error = error;
    this.#settleWaiter();
    this.#releaseReady();
  }

  /** @internal The Stream's pull. */
  pull(): readonly Uint8Array[] | null | Promise<readonly Uint8Array[] | null> {
    if (this.#blocks.length > 0) return this.#take();
    if (this.#state === FAILED) throw this.#error;
    if (this.#state !== OPEN) return null;
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** @internal The Stream's close: runs once. */
  close(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#blocks = [];
    this.#settleWaiter();
    this.#releaseReady();
    this.#onClose();
  }

  static #wake(queue: BlockQueue<unknown>): void {
    queue.#wakeScheduled = false;
    queue.#settleWaiter();
  }

  /** Hand a waiting consumer the queued blocks, else the end or the failure. */
  #settleWaiter(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    if (this.#blocks.length > 0) {
      this.#waiter = undefined;
      waiter.resolve(this.#take());
    } else if (this.#state === FAILED) {
      this.#waiter = undefined;
      waiter.reject(this.#error);
    } else if (this.#state !== OPEN) {
      this.#waiter = undefined;
      waiter.resolve(null);
    }
  }

  #take(): Uint8Array[] {
    const chunk = this.#blocks;
    this.#blocks = [];
    this.#releaseReady();
    return chunk;
  }

  #releaseReady(): void {
    if (this.#ready.length === 0) return;
    const ready = this.#ready;
    this.#ready = [];
    for (const resolve of ready) resolve();
  }
}
