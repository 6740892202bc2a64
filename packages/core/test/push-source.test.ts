// PushSource: the bounded push-to-pull bridge (bursts, backpressure, overflow, life cycle).
import { describe, expect, it } from "vitest";
import { PirouetteError, PushSource } from "../src/index.ts";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const isCode = (e: unknown, code: string): boolean => PirouetteError.is(e) && e.code === code;

describe("PushSource bursts", () => {
  it("hands 100 synchronous pushes to a waiting consumer as one chunk", async () => {
    const ps = new PushSource<number>();
    const chunks = ps.stream.chunks();
    const first = chunks.next();
    await tick(); // the consumer is now waiting
    for (let i = 0; i < 100; i++) ps.push(i);
    expect(await first).toEqual({ value: Array.from({ length: 100 }, (_, i) => i) });
    ps.end();
    expect(await chunks.next()).toBeUndefined();
  });

  it("hands over each burst (one macrotask of pushes) as its own chunk", async () => {
    const ps = new PushSource<string>();
    const chunks = ps.stream.chunks();
    const collected = chunks.toArray();
    await tick();
    ps.push("a");
    ps.push("b");
    await tick();
    ps.push("c");
    await tick();
    ps.pushMany(["d", "e", "f"]);
    ps.end();
    expect(await collected).toEqual([["a", "b"], ["c"], ["d", "e", "f"]]);
  });

  it("hands what was pushed before the first pull over at once", async () => {
    const ps = new PushSource<number>();
    for (let i = 0; i < 10; i++) ps.push(i);
    ps.end();
    expect(await ps.stream.chunks().toArray()).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  });
});

describe("PushSource backpressure", () => {
  it("push returns false at the high-water mark and onPause runs once; onResume once the consumer took the buffer", async () => {
    const events: string[] = [];
    const ps = new PushSource<number>({
      highWaterMark: 4,
      onPause: () => events.push("pause"),
      onResume: () => events.push("resume"),
    });
    expect([ps.push(1), ps.push(2), ps.push(3)]).toEqual([true, true, true]);
    expect(events).toEqual([]);
    expect(ps.push(4)).toBe(false);
    expect(events).toEqual(["pause"]);
    expect(ps.push(5)).toBe(false); // still paused: no second onPause
    expect(events).toEqual(["pause"]);
    expect(ps.buffered).toBe(5);

    expect(await ps.stream.next()).toEqual({ value: 1 });
    expect(events).toEqual(["pause", "resume"]);
    expect(ps.buffered).toBe(0);
    expect(ps.push(6)).toBe(true);

    // A second cycle pauses and resumes again.
    ps.pushMany([7, 8, 9]);
    expect(events).toEqual(["pause", "resume", "pause"]);
    const rest: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await ps.stream.next();
      if (r !== undefined && !(r instanceof Error)) rest.push(r.value);
    }
    expect(rest).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(events).toEqual(["pause", "resume", "pause", "resume"]);
  });

  it("pushMany reports whether the producer may go on", () => {
    const ps = new PushSource<number>({ highWaterMark: 3 });
    expect(ps.pushMany([1, 2])).toBe(true);
    expect(ps.pushMany([3])).toBe(false);
  });

  it("ready() resolves below the high-water mark, after the consumer drained, or on close", async () => {
    const ps = new PushSource<number>({ highWaterMark: 2 });
    let readyAt: string | undefined;
    await ps.ready(); // empty: at once
    ps.push(1);
    ps.push(2);
    const ready = ps.ready().then(() => {
      readyAt = "drained";
    });
    await tick();
    expect(readyAt).toBeUndefined();
    expect(await ps.stream.next()).toEqual({ value: 1 });
    await ready;
    expect(readyAt).toBe("drained");

    const closing = new PushSource<number>({ highWaterMark: 1 });
    closing.push(1);
    const onClose = closing.ready();
    await closing.stream.close();
    await onClose; // would time out if close did not release it
    const ending = new PushSource<number>({ highWaterMark: 1 });
    ending.push(1);
    const onEnd = ending.ready();
    ending.end();
    await onEnd;
  });

  it("a slow consumer with a producer that awaits ready() holds the buffer to the high-water mark plus one burst", async () => {
    const hwm = 32;
    const burst = 10;
    const total = 2000;
    const ps = new PushSource<number>({ highWaterMark: hwm, overflow: "error" });
    let maxBuffered = 0;
    const producer = (async () => {
      let i = 0;
      while (i < total) {
        await ps.ready();
        for (let k = 0; k < burst && i < total; k++) {
          ps.push(i++);
          maxBuffered = Math.max(maxBuffered, ps.buffered);
        }
        await tick();
      }
      ps.end();
    })();
    const received: number[] = [];
    for await (const x of ps.stream) {
      received.push(x);
      if (x % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1)); // slow
    }
    await producer;
    expect(received).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(maxBuffered).toBeLessThanOrEqual(hwm + burst);
    expect(maxBuffered).toBeGreaterThanOrEqual(hwm); // the consumer really was slower
  });
});

describe("PushSource overflow", () => {
  it("'error' (the default) fails the stream with BACKPRESSURE after what was buffered", async () => {
    const ps = new PushSource<number>({ highWaterMark: 2, limit: 3 });
    expect([ps.push(1), ps.push(2), ps.push(3)]).toEqual([true, false, false]);
    expect(ps.push(4)).toBe(false);
    expect(ps.push(5)).toBe(false);
    const got: unknown[] = [];
    for (let r = await ps.stream.next(); r !== undefined; r = await ps.stream.next()) {
      if (r instanceof Error) {
        got.push(r);
        break;
      }
      got.push(r.value);
    }
    expect(got.slice(0, 3)).toEqual([1, 2, 3]);
    expect(isCode(got[3], "BACKPRESSURE")).toBe(true);
    expect(isCode(await ps.stream.closed, "BACKPRESSURE")).toBe(true);
  });

  it("the default limit is 4 × highWaterMark", async () => {
    const ps = new PushSource<number>({ highWaterMark: 2 });
    for (let i = 0; i < 8; i++) ps.push(i);
    expect(ps.isClosed).toBe(false);
    ps.push(8);
    expect(ps.isClosed).toBe(true);
    await expect(ps.stream.toArray()).rejects.toSatisfy((e: unknown) => isCode(e, "BACKPRESSURE"));
  });

  it("'drop-newest' refuses new elements and reports them to onDrop", async () => {
    const dropped: unknown[] = [];
    const ps = new PushSource<number>({ highWaterMark: 2, limit: 3, overflow: "drop-newest", onDrop: (v) => dropped.push(v) });
    for (let i = 1; i <= 5; i++) ps.push(i);
    ps.end();
    expect(await ps.stream.toArray()).toEqual([1, 2, 3]);
    expect(dropped).toEqual([4, 5]);
  });

  it("'drop-oldest' makes room by dropping the oldest, reported to onDrop", async () => {
    const dropped: unknown[] = [];
    const ps = new PushSource<number>({ highWaterMark: 2, limit: 3, overflow: "drop-oldest", onDrop: (v) => dropped.push(v) });
    for (let i = 1; i <= 5; i++) ps.push(i);
    ps.end();
    expect(await ps.stream.toArray()).toEqual([3, 4, 5]);
    expect(dropped).toEqual([1, 2]);
  });

  it("rejects inconsistent options", () => {
    for (const options of [{ highWaterMark: 0 }, { highWaterMark: 4, limit: 3 }, { highWaterMark: Number.NaN }]) {
      let thrown: unknown;
      try {
        new PushSource(options);
      } catch (e) {
        thrown = e;
      }
      expect(isCode(thrown, "INVALID_ARGUMENT")).toBe(true);
    }
  });
});

describe("PushSource life cycle", () => {
  it("end() delivers the buffered elements, then the end; later pushes are refused", async () => {
    const ps = new PushSource<number>();
    ps.push(1);
    ps.push(2);
    ps.end();
    expect(ps.push(3)).toBe(false);
    expect(await ps.stream.toArray()).toEqual([1, 2]);
  });

  it("fail() delivers the buffered elements, then the error", async () => {
    const error = new Error("socket reset");
    const ps = new PushSource<number>();
    ps.push(1);
    ps.push(2);
    ps.fail(error);
    ps.end(); // no effect after fail
    expect(await ps.stream.next()).toEqual({ value: 1 });
    expect(await ps.stream.next()).toEqual({ value: 2 });
    expect(await ps.stream.next()).toBe(error);
  });

  it("end() and fail() wake a waiting consumer", async () => {
    const ended = new PushSource<number>();
    const a = ended.stream.next();
    await tick();
    ended.end();
    expect(await a).toBeUndefined();

    const error = new Error("x");
    const failed = new PushSource<number>();
    const b = failed.stream.next();
    await tick();
    failed.fail(error);
    expect(await b).toBe(error);
  });

  it("a consumer close() runs onClose once; later pushes return false and are not delivered", async () => {
    let closes = 0;
    const dropped: unknown[] = [];
    const ps = new PushSource<number>({ onClose: () => void closes++, onDrop: (v) => dropped.push(v) });
    ps.push(1);
    expect(await ps.stream.next()).toEqual({ value: 1 });
    await ps.stream.close();
    await ps.stream.close();
    expect(closes).toBe(1);
    expect(ps.isClosed).toBe(true);
    expect(ps.push(2)).toBe(false);
    ps.end();
    ps.fail(new Error("late"));
    expect(await ps.stream.next()).toBeUndefined();
    expect(closes).toBe(1);
    expect(dropped).toEqual([]);
  });

  it("onClose also runs once when the stream ends or fails and is drained", async () => {
    let closes = 0;
    const ps = new PushSource<number>({ onClose: () => void closes++ });
    ps.push(1);
    ps.end();
    expect(await ps.stream.toArray()).toEqual([1]);
    await ps.stream.close();
    expect(closes).toBe(1);

    let failedCloses = 0;
    const error = new Error("y");
    const failing = new PushSource<number>({ onClose: () => void failedCloses++ });
    failing.fail(error);
    await expect(failing.stream.toArray()).rejects.toBe(error);
    expect(failedCloses).toBe(1);
  });

  it("a take() that is satisfied closes the source", async () => {
    let closes = 0;
    const ps = new PushSource<number>({ onClose: () => void closes++ });
    const firstTwo = ps.stream.take(2).toArray();
    await tick();
    ps.pushMany([1, 2, 3, 4]);
    expect(await firstTwo).toEqual([1, 2]);
    expect(closes).toBe(1);
    expect(ps.push(5)).toBe(false);
  });
});

describe("drop-oldest without onDrop", () => {
  it("still bounds the buffer", () => {
    const s = new PushSource<number>({ highWaterMark: 10, limit: 10, overflow: "drop-oldest" });
    for (let i = 0; i < 50; i++) s.push(i);
    expect(s.buffered).toBe(10);
  });
});
