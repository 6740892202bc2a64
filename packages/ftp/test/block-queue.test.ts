/**
 * Unit tests (no server) for the download path between a driver and the consumer's Stream:
 * `BlockQueue` (ordering, batching, backpressure, end, failure, early close) and
 * `DownloadDestination` (the Writable a driver pipes into).
 */
import { pipeline, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { BlockQueue } from "../src/internal/block-queue.ts";
import { DownloadDestination } from "../src/internal/download-destination.ts";

const block = (n: number, size = 4): Buffer => Buffer.alloc(size, n);
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("BlockQueue", () => {
  it("delivers pushed blocks in order, then the end, and counts the bytes", async () => {
    const q = new BlockQueue<Error>(16, () => undefined);
    const got: number[] = [];
    const reading = (async () => {
      for await (const b of q.stream) got.push(b[0] as number);
    })();
    for (let i = 0; i < 5; i++) {
      expect(q.push(block(i))).toBe(true);
      if (i % 2 === 0) await turn();
    }
    q.end();
    await reading;
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(q.bytes).toBe(20);
    expect(q.push(block(9))).toBe(false);
  });

  it("hands the blocks pushed in one turn to a waiting consumer as one chunk", async () => {
    const q = new BlockQueue<Error>(16, () => undefined);
    const first = q.pull(); // the consumer waits
    expect(first).toBeInstanceOf(Promise);
    q.push(block(1));
    q.push(block(2));
    q.push(block(3));
    expect((await first)?.map((b) => b[0])).toEqual([1, 2, 3]);
  });

  it("asks the producer to wait at the high-water mark and releases it when the consumer takes the blocks", async () => {
    const q = new BlockQueue<Error>(3, () => undefined);
    expect(q.push(block(1))).toBe(true);
    expect(q.push(block(2))).toBe(true);
    expect(q.push(block(3))).toBe(false);
    let released = false;
    void q.ready().then(() => (released = true));
    await turn();
    expect(released).toBe(false);
    const chunk = q.pull();
    expect(Array.isArray(chunk) ? chunk.length : -1).toBe(3);
    await turn();
    expect(released).toBe(true);
  });

  it("fails the stream after the queued blocks", async () => {
    const q = new BlockQueue<Error>(16, () => undefined);
    q.push(block(1));
    q.fail(new Error("cut"));
    const got: number[] = [];
    const err = await (async () => {
      for await (const b of q.stream) got.push(b[0] as number);
    })().catch((e: unknown) => e);
    expect(got).toEqual([1]);
    expect((err as Error).message).toBe("cut");
  });

  it("wakes a waiting consumer with the failure", async () => {
    const q = new BlockQueue<Error>(16, () => undefined);
    const next = q.stream.next();
    await turn();
    q.fail(new Error("lost"));
    const r = await next;
    expect(r).toBeInstanceOf(Error);
    expect((r as Error).message).toBe("lost");
  });

  it("runs onClose once when closed early, releases the producer and refuses more blocks", async () => {
    let closes = 0;
    const q = new BlockQueue<Error>(2, () => closes++);
    q.push(block(1));
    q.push(block(2));
    const waiting = q.ready();
    expect(await q.stream.next()).toEqual({ value: block(1) });
    await q.stream.close();
    await q.stream.close();
    await waiting;
    expect(closes).toBe(1);
    expect(q.push(block(3))).toBe(false);
    expect(await q.stream.next()).toBeUndefined();
  });

  it("runs onClose when the stream is drained", async () => {
    let closes = 0;
    const q = new BlockQueue<Error>(2, () => closes++);
    q.push(block(1));
    q.end();
    expect(await q.stream.toArray()).toHaveLength(1);
    expect(closes).toBe(1);
  });
});

describe("DownloadDestination", () => {
  it("pipes every byte into the queue and keeps at most the high-water mark queued for a slow consumer", async () => {
    const q = new BlockQueue<Error>(4, () => undefined);
    const total = 200;
    let maxQueued = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < total; i++) yield block(i % 256, 1024);
      })(),
      { objectMode: false },
    );
    const done = new Promise<void>((resolve, reject) => {
      pipeline(source, new DownloadDestination(q), (e) => (e ? reject(e) : resolve()));
    });
    void done.then(() => q.end());
    let received = 0;
    let blocks = 0;
    for await (const b of q.stream) {
      received += b.length;
      blocks++;
      if (blocks % 8 === 0) {
        // Slow consumer: let the producer run for a while.
        for (let i = 0; i < 5; i++) await turn();
        maxQueued = Math.max(maxQueued, q.bytes - received);
      }
    }
    await done;
    expect(received).toBe(total * 1024);
    expect(q.bytes).toBe(total * 1024);
    // Pushed but not consumed: the queue (high-water mark, 4 blocks) and the chunk the consumer holds.
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(2 * 4 * 1024);
  });
});
