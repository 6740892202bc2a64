// Retry policy through the Dispatcher, with fake timers: attempt counts, ctx.attempt, exact
// backoff delays (jitter off), jitter bounds, the cap, retryOn, binding errors, abort during
// backoff, and what the dead-letter record says afterwards.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { ClosedError, PayloadBindingError, PayloadValidationError } from "../src/errors.ts";
import type { DeadLetterRecord } from "../src/service/dead-letter.ts";
import { Dispatcher, type HandlerContext } from "../src/service/dispatcher.ts";
import { defaultRetryPolicy, resolveRetryPolicy, type RetryPolicy } from "../src/service/retry-policy.ts";

interface Msg {
  readonly id: number;
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2030-01-01T00:00:00.000Z") });
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** Runs one message through a dispatcher with `retry`; `fail(attempt)` decides each attempt's outcome. */
function run(retry: RetryPolicy | false | undefined, fail: (attempt: number, ctx: HandlerContext) => unknown) {
  const attempts: { attempt: number; at: number }[] = [];
  const records: DeadLetterRecord<Msg>[] = [];
  const acks: unknown[] = [];
  const rejects: Error[] = [];
  const reported: Error[] = [];
  const start = Date.now();
  const dispatcher = new Dispatcher<Msg>({
    telemetry: { system: "test" },
    ...(retry === undefined ? {} : { retry }),
    deadLetter: { send: async (r) => void records.push(r) },
    invoke: async (_d, ctx) => {
      attempts.push({ attempt: ctx.attempt, at: Date.now() - start });
      return fail(ctx.attempt, ctx);
    },
    reportError: (e) => void reported.push(e),
  });
  void dispatcher.submit({
    message: { id: 1 },
    destination: "orders",
    coordinates: { topic: "orders", offset: 1 },
    ack: (r) => void acks.push(r),
    reject: (e) => void rejects.push(e),
  });
  return { dispatcher, attempts, records, acks, rejects, reported };
}

const always = (attempt: number): never => {
  throw new Error(`attempt ${attempt} failed`);
};

describe("retry timing (fake timers)", () => {
  test("jitter off: exact delays 100, 200, 400 ms between attempts, then dead-letter", async () => {
    const r = run({ maxAttempts: 4, initialDelayMs: 100, jitter: false }, always);
    await vi.advanceTimersByTimeAsync(0);
    expect(r.attempts.map((a) => a.attempt)).toEqual([1]);
    await vi.advanceTimersByTimeAsync(99);
    expect(r.attempts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.attempts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(199);
    expect(r.attempts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.attempts).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(399);
    expect(r.attempts).toHaveLength(3);
    expect(r.records).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.attempts).toEqual([
      { attempt: 1, at: 0 },
      { attempt: 2, at: 100 },
      { attempt: 3, at: 300 },
      { attempt: 4, at: 700 },
    ]);
    expect(r.records).toHaveLength(1);
    expect(r.records[0]!.attempts).toBe(4);
    expect(r.records[0]!.error.message).toBe("attempt 4 failed");
    expect(r.acks).toEqual([undefined]);
    // onError hears about the final failure once, not about each retried attempt.
    expect(r.reported.map((e) => e.message)).toEqual(["attempt 4 failed"]);
    // No timers left behind.
    expect(vi.getTimerCount()).toBe(0);
  });

  test("multiplier and maxDelayMs shape the delays", async () => {
    const r = run({ maxAttempts: 5, initialDelayMs: 50, multiplier: 3, maxDelayMs: 200, jitter: false }, always);
    await vi.advanceTimersByTimeAsync(10_000);
    // 50, 150, then capped at 200, 200
    expect(r.attempts.map((a) => a.at)).toEqual([0, 50, 200, 400, 600]);
    expect(r.records[0]!.attempts).toBe(5);
  });

  test("jitter multiplies each delay by a factor in [1, 2)", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const r = run({ maxAttempts: 3, initialDelayMs: 100, jitter: true }, always);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.attempts.map((a) => a.at)).toEqual([0, 150, 150 + 300]);
  });

  test("jittered delays stay within [d, 2d)", async () => {
    let calls = 0;
    vi.spyOn(Math, "random").mockImplementation(() => (calls++ % 2 === 0 ? 0 : 0.999));
    const r = run({ maxAttempts: 3, initialDelayMs: 100, jitter: true }, always);
    await vi.advanceTimersByTimeAsync(10_000);
    const gaps = r.attempts.slice(1).map((a, i) => a.at - r.attempts[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[0]).toBeLessThanOrEqual(200); // × [1, 2), rounded to the millisecond
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    expect(gaps[1]).toBeLessThanOrEqual(400);
  });

  test("ctx.attempt counts 1..n and a later success is acked with its value", async () => {
    const r = run({ maxAttempts: 5, initialDelayMs: 10, jitter: false }, (attempt) => {
      if (attempt < 3) throw new Error(`fail ${attempt}`);
      return `ok on ${attempt}`;
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(r.acks).toEqual(["ok on 3"]);
    expect(r.records).toEqual([]);
    expect(r.reported).toEqual([]);
  });

  test("the default policy: 3 attempts, 100 ms then 200 ms, with jitter", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const r = run(undefined, always);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.attempts.map((a) => a.at)).toEqual([0, 100, 300]);
    expect(defaultRetryPolicy.maxAttempts).toBe(3);
  });

  test("retry: false and maxAttempts 1 mean a single attempt", async () => {
    for (const policy of [false, { maxAttempts: 1 }] as const) {
      const r = run(policy, always);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(r.attempts).toHaveLength(1);
      expect(r.records[0]!.attempts).toBe(1);
    }
  });

  test("the dead-letter record's firstFailureAt is the time of the first failure, not of the last", async () => {
    const r = run({ maxAttempts: 3, initialDelayMs: 1000, jitter: false }, always);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.attempts.map((a) => a.at)).toEqual([0, 1000, 3000]);
    expect(r.records[0]!.firstFailureAt).toBe("2030-01-01T00:00:00.000Z");
  });

  test("errors of any class are retried by default, TypeError included", async () => {
    const r = run({ maxAttempts: 3, initialDelayMs: 10, jitter: false }, (attempt) => {
      if (attempt < 3) throw new TypeError("cannot read properties of undefined");
      return "recovered";
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(r.acks).toEqual(["recovered"]);
  });

  test("thrown non-errors are retried and reported as Errors", async () => {
    const r = run({ maxAttempts: 2, initialDelayMs: 10, jitter: false }, () => {
      throw "a string";
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.attempts).toHaveLength(2);
    expect(r.records[0]!.error).toBeInstanceOf(Error);
    expect(r.records[0]!.error.message).toBe("a string");
  });
});

describe("which errors are retried", () => {
  test("retryOn false for the first error: no retry", async () => {
    const retryOn = vi.fn(() => false);
    const r = run({ maxAttempts: 5, initialDelayMs: 10, retryOn }, always);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.attempts).toHaveLength(1);
    expect(retryOn).toHaveBeenCalledTimes(1);
    expect((retryOn.mock.calls[0] as unknown[])[0]).toEqual(new Error("attempt 1 failed"));
    expect(r.records[0]!.attempts).toBe(1);
  });

  test("retryOn false for a later error stops retrying; the record holds that error, unwrapped", async () => {
    class Permanent extends Error {}
    const permanent = new Permanent("permanent");
    const r = run({ maxAttempts: 5, initialDelayMs: 10, jitter: false, retryOn: (e) => !(e instanceof Permanent) }, (attempt) => {
      if (attempt === 2) throw permanent;
      throw new Error("transient");
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    expect(r.records).toHaveLength(1);
    expect(r.records[0]!.error).toBe(permanent);
    expect(r.records[0]!.attempts).toBe(2);
    expect(r.reported).toEqual([permanent]);
  });

  test("payload binding and validation errors are never retried, even if retryOn says yes", async () => {
    for (const error of [new PayloadValidationError([{ message: "bad", path: ["id"] }]), new PayloadBindingError("not json")]) {
      const r = run({ maxAttempts: 5, initialDelayMs: 10, retryOn: () => true }, () => {
        throw error;
      });
      await vi.advanceTimersByTimeAsync(10_000);
      expect(r.attempts).toHaveLength(1);
      expect(r.records).toHaveLength(1);
      expect(r.records[0]!.error).toBe(error);
      expect(r.records[0]!.attempts).toBe(1);
    }
  });

  test("the default retryOn excludes binding errors only", () => {
    expect(defaultRetryPolicy.retryOn(new Error("x"))).toBe(true);
    expect(defaultRetryPolicy.retryOn(new PayloadValidationError([]))).toBe(false);
    expect(defaultRetryPolicy.retryOn(new PayloadBindingError("x"))).toBe(false);
  });

  test("maxAttempts must be an integer >= 1", () => {
    expect(() => resolveRetryPolicy({ maxAttempts: 0 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => resolveRetryPolicy({ maxAttempts: 2.5 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(resolveRetryPolicy(false).maxAttempts).toBe(1);
  });
});

describe("abort during retries", () => {
  test("abortAll during a backoff delay: no further attempt, the message is rejected, not dead-lettered", async () => {
    const r = run({ maxAttempts: 5, initialDelayMs: 1000, jitter: false }, always);
    await vi.advanceTimersByTimeAsync(500);
    expect(r.attempts).toHaveLength(1);
    r.dispatcher.abortAll();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.attempts).toHaveLength(1);
    expect(r.rejects).toHaveLength(1);
    expect(r.rejects[0]).toBeInstanceOf(ClosedError);
    expect(r.records).toEqual([]);
    expect(r.acks).toEqual([]);
    expect(r.reported).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("a handler aborted on its first attempt is not retried", async () => {
    const r = run({ maxAttempts: 5, initialDelayMs: 10 }, (_attempt, ctx) => {
      return new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("aborted"))));
    });
    await vi.advanceTimersByTimeAsync(0);
    r.dispatcher.abortAll();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.attempts).toHaveLength(1);
    expect(r.rejects.map((e) => e.message)).toEqual(["aborted"]);
    expect(r.records).toEqual([]);
  });

  test("drain waits through retries of a running message", async () => {
    let result: boolean | undefined;
    const r = run({ maxAttempts: 3, initialDelayMs: 100, jitter: false }, (attempt) => {
      if (attempt < 3) throw new Error("again");
      return "done";
    });
    await vi.advanceTimersByTimeAsync(0);
    void r.dispatcher.drain(10_000).then((x) => (result = x));
    await vi.advanceTimersByTimeAsync(299);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe(true);
    expect(r.acks).toEqual(["done"]);
  });
});
