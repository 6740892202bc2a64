// The Dispatcher on its own: per-key ordering, concurrency, backpressure, settlement
// (ack / dead-letter / skip / stop), drain and abort. Retry timing lives in retry.test.ts.
// Every failure path here must also leave no unhandled rejection (scripts/vitest-guard.ts).
import { describe, expect, test, vi } from "vitest";
import { ClosedError, PayloadValidationError, PirouetteError } from "../src/errors.ts";
import type { DeadLetterRecord } from "../src/service/dead-letter.ts";
import { Dispatcher, type AckOutcome, type Delivery, type DispatcherOptions, type HandlerContext } from "../src/service/dispatcher.ts";
import type { Logger } from "../src/service/logger.ts";

interface Msg {
  readonly id: number;
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let every queued microtask and promise continuation run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function isPending(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await settle();
  return !done;
}

/** A dispatcher plus bookkeeping: every ack/reject/report is logged in order. */
function setup(options: Partial<DispatcherOptions<Msg>> & { handler?: (msg: Msg, ctx: HandlerContext) => unknown } = {}) {
  const log: string[] = [];
  const acks = new Map<number, unknown[]>();
  const outcomes = new Map<number, AckOutcome[]>();
  const rejects = new Map<number, Error[]>();
  const reported: Error[] = [];
  const { handler, ...rest } = options;
  const dispatcher = new Dispatcher<Msg>({
    telemetry: { system: "test" },
    invoke: (d, ctx) => (handler ?? (() => undefined))(d.message, ctx),
    reportError: (e) => {
      reported.push(e);
      log.push(`report ${e.message}`);
    },
    ...rest,
  });
  const delivery = (id: number, key?: string): Delivery<Msg> => ({
    message: { id },
    key,
    destination: "orders",
    coordinates: { topic: "orders", offset: id },
    ack: (result, outcome) => {
      acks.set(id, [...(acks.get(id) ?? []), result]);
      outcomes.set(id, [...(outcomes.get(id) ?? []), outcome]);
      log.push(`ack ${id}`);
    },
    reject: (error) => {
      rejects.set(id, [...(rejects.get(id) ?? []), error]);
      log.push(`reject ${id}`);
    },
  });
  return { dispatcher, delivery, log, acks, outcomes, rejects, reported };
}

/** Handlers that block until released, tracking how many run at once. */
function gatedHandler() {
  const gates = new Map<number, Deferred<unknown>>();
  const started: number[] = [];
  const finished: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const gate = (id: number): Deferred<unknown> => {
    let g = gates.get(id);
    if (g === undefined) {
      g = deferred<unknown>();
      gates.set(id, g);
    }
    return g;
  };
  const handler = async (msg: Msg): Promise<unknown> => {
    started.push(msg.id);
    running++;
    maxRunning = Math.max(maxRunning, running);
    try {
      return await gate(msg.id).promise;
    } finally {
      running--;
      finished.push(msg.id);
    }
  };
  return {
    handler,
    started,
    finished,
    release: (id: number, value?: unknown) => gate(id).resolve(value),
    fail: (id: number, error: Error) => gate(id).reject(error),
    get running() {
      return running;
    },
    get maxRunning() {
      return maxRunning;
    },
  };
}

describe("Dispatcher: ordering and concurrency", () => {
  test("messages with the same key run one at a time, in submission order", async () => {
    const g = gatedHandler();
    const { dispatcher, delivery, acks } = setup({ concurrency: 4, maxInFlight: 10, handler: g.handler });
    for (let i = 0; i < 5; i++) void dispatcher.submit(delivery(i, "k"));
    await settle();
    // Four slots are free, but the key holds the others back.
    expect(g.started).toEqual([0]);
    for (let i = 0; i < 5; i++) {
      expect(g.running).toBe(1);
      g.release(i);
      await settle();
    }
    expect(g.started).toEqual([0, 1, 2, 3, 4]);
    expect(g.finished).toEqual([0, 1, 2, 3, 4]);
    expect(g.maxRunning).toBe(1);
    expect([...acks.keys()]).toEqual([0, 1, 2, 3, 4]);
    expect(dispatcher.inFlight).toBe(0);
  });

  test("different keys run in parallel while each key stays in order", async () => {
    const g = gatedHandler();
    const { dispatcher, delivery } = setup({ concurrency: 4, maxInFlight: 10, handler: g.handler });
    // a: 0, 2, 4   b: 1, 3
    const keys = ["a", "b", "a", "b", "a"];
    keys.forEach((k, i) => void dispatcher.submit(delivery(i, k)));
    await settle();
    expect(g.started).toEqual([0, 1]);
    g.release(1);
    await settle();
    expect(g.started).toEqual([0, 1, 3]); // b continues while a's head still runs
    g.release(0);
    await settle();
    expect(g.started).toEqual([0, 1, 3, 2]);
    for (const id of [3, 2, 4]) {
      g.release(id);
      await settle();
    }
    const order = (key: string): number[] => g.started.filter((id) => keys[id] === key);
    expect(order("a")).toEqual([0, 2, 4]);
    expect(order("b")).toEqual([1, 3]);
    expect(g.maxRunning).toBe(2);
    expect(dispatcher.inFlight).toBe(0);
  });

  test("different keys run up to `concurrency` at once and never more", async () => {
    const g = gatedHandler();
    const { dispatcher, delivery, acks } = setup({ concurrency: 3, maxInFlight: 20, handler: g.handler });
    for (let i = 0; i < 10; i++) void dispatcher.submit(delivery(i, i % 2 === 0 ? `k${i}` : undefined));
    await settle();
    expect(g.started).toEqual([0, 1, 2]);
    expect(g.running).toBe(3);
    // Release in an order different from the start order; a new one starts per release.
    for (const id of [1, 0, 2, 5, 3, 4, 8, 6, 7, 9]) {
      g.release(id);
      await settle();
      expect(g.running).toBeLessThanOrEqual(3);
    }
    expect(g.maxRunning).toBe(3);
    expect(g.started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(acks.size).toBe(10);
  });

  test("concurrency defaults to 1", async () => {
    const g = gatedHandler();
    const { dispatcher, delivery } = setup({ maxInFlight: 5, handler: g.handler });
    for (let i = 0; i < 3; i++) void dispatcher.submit(delivery(i));
    await settle();
    expect(g.started).toEqual([0]);
    g.release(0);
    await settle();
    expect(g.started).toEqual([0, 1]);
    g.release(1);
    g.release(2);
    await settle();
    expect(g.maxRunning).toBe(1);
  });

  test("invalid options are rejected with INVALID_ARGUMENT", () => {
    const base = { telemetry: { system: "t" }, invoke: () => undefined, reportError: () => undefined };
    for (const bad of [{ concurrency: 0 }, { concurrency: 1.5 }, { concurrency: 4, maxInFlight: 3 }, { onHandlerFailure: "dead-letter" as const }]) {
      expect(() => new Dispatcher<Msg>({ ...base, ...bad })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
  });
});

describe("Dispatcher: backpressure", () => {
  test("submit waits while maxInFlight messages are unsettled and resumes when one settles", async () => {
    const g = gatedHandler();
    const { dispatcher, delivery } = setup({ concurrency: 1, maxInFlight: 2, handler: g.handler });
    const first = dispatcher.submit(delivery(0));
    expect(await isPending(first)).toBe(false);
    expect(dispatcher.saturated).toBe(false);
    const second = dispatcher.submit(delivery(1));
    expect(dispatcher.inFlight).toBe(2);
    expect(dispatcher.saturated).toBe(true);
    expect(await isPending(second)).toBe(true);
    expect(await isPending(dispatcher.whenReady())).toBe(true);
    g.release(0);
    await settle();
    expect(await isPending(second)).toBe(false);
    expect(dispatcher.saturated).toBe(false);
    expect(dispatcher.inFlight).toBe(1);
    g.release(1);
    await settle();
    expect(dispatcher.inFlight).toBe(0);
  });

  test("a pull loop that awaits submit never holds more than maxInFlight", async () => {
    const g = gatedHandler();
    const { dispatcher, delivery } = setup({ concurrency: 2, maxInFlight: 3, handler: g.handler });
    let pulled = 0;
    let maxInFlight = 0;
    const loop = (async () => {
      for (let i = 0; i < 12; i++) {
        pulled++;
        await dispatcher.submit(delivery(i, `k${i}`));
        maxInFlight = Math.max(maxInFlight, dispatcher.inFlight);
      }
    })();
    await settle();
    expect(pulled).toBe(3); // the third submit is waiting
    expect(g.started).toEqual([0, 1]);
    for (let i = 0; i < 12; i++) {
      g.release(i);
      await settle();
    }
    await loop;
    expect(pulled).toBe(12);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(g.maxRunning).toBe(2);
  });
});

describe("Dispatcher: settlement", () => {
  test("a success acks exactly once with the handler's return value (sync and async)", async () => {
    const { dispatcher, delivery, acks, outcomes, rejects, reported } = setup({
      concurrency: 2,
      handler: (m) => (m.id === 0 ? { reply: "sync" } : Promise.resolve({ reply: "async" })),
    });
    void dispatcher.submit(delivery(0));
    void dispatcher.submit(delivery(1));
    await settle();
    expect(acks.get(0)).toEqual([{ reply: "sync" }]);
    expect(acks.get(1)).toEqual([{ reply: "async" }]);
    expect(outcomes.get(0)).toEqual([{ kind: "succeeded" }]);
    expect(outcomes.get(1)).toEqual([{ kind: "succeeded" }]);
    expect(rejects.size).toBe(0);
    expect(reported).toEqual([]);
  });

  test("a failure with a dead-letter target: onError, then the record, then ack", async () => {
    const records: DeadLetterRecord<Msg>[] = [];
    const sent = deferred();
    const boom = new Error("boom");
    const { dispatcher, delivery, acks, outcomes, rejects, reported, log } = setup({
      retry: false,
      handler: () => {
        throw boom;
      },
      deadLetter: {
        send: async (rec) => {
          records.push(rec);
          log.push("dead-letter");
          await sent.promise;
        },
      },
    });
    void dispatcher.submit(delivery(7));
    await settle();
    expect(records).toHaveLength(1);
    // Not acked while the dead-letter target has not confirmed.
    expect(acks.size).toBe(0);
    sent.resolve();
    await settle();
    expect(log).toEqual(["report boom", "dead-letter", "ack 7"]);
    expect(acks.get(7)).toEqual([undefined]);
    expect(outcomes.get(7)).toEqual([{ kind: "dead-lettered", error: boom }]);
    const dead = outcomes.get(7)![0]!;
    expect(dead.kind === "dead-lettered" && dead.error).toBe(boom);
    expect(rejects.size).toBe(0);
    expect(reported).toEqual([boom]);
    const rec = records[0]!;
    expect(rec.message).toEqual({ id: 7 });
    expect(rec.coordinates).toEqual({ topic: "orders", offset: 7 });
    expect(rec.error).toBe(boom);
    expect(rec.attempts).toBe(1);
    expect(new Date(rec.firstFailureAt).toISOString()).toBe(rec.firstFailureAt);
  });

  test("a failing dead-letter target: DEAD_LETTER goes to onError and the message is rejected, not acked", async () => {
    const { dispatcher, delivery, acks, rejects, reported } = setup({
      retry: false,
      handler: () => Promise.reject(new Error("handler failed")),
      deadLetter: { send: () => Promise.reject(new Error("dlt down")) },
    });
    void dispatcher.submit(delivery(1));
    await settle();
    expect(acks.size).toBe(0);
    expect(rejects.get(1)).toHaveLength(1);
    expect(rejects.get(1)![0]!.message).toBe("handler failed");
    expect(reported).toHaveLength(2);
    expect(reported[0]!.message).toBe("handler failed");
    expect(PirouetteError.is(reported[0])).toBe(false);
    const dl = reported[1] as PirouetteError;
    expect(PirouetteError.is(dl)).toBe(true);
    expect(dl.code).toBe("DEAD_LETTER");
    expect(dl.message).toContain("dlt down");
    expect(dl.coordinates).toEqual({ topic: "orders", offset: 1 });
    expect((dl.cause as Error).message).toBe("dlt down");
    expect(dispatcher.inFlight).toBe(0);
  });

  test('"skip" tells onError, then acks with a "skipped" outcome', async () => {
    const nope = new Error("nope");
    const { dispatcher, delivery, log, outcomes, rejects } = setup({
      retry: false,
      onHandlerFailure: "skip",
      handler: () => {
        throw nope;
      },
    });
    void dispatcher.submit(delivery(3));
    await settle();
    expect(log).toEqual(["report nope", "ack 3"]);
    expect(outcomes.get(3)).toEqual([{ kind: "skipped", error: nope }]);
    expect(rejects.size).toBe(0);
  });

  test("a retried handler that succeeds at last acks as succeeded; a binding failure skips with its error", async () => {
    let calls = 0;
    const { dispatcher, delivery, acks, outcomes, reported } = setup({
      concurrency: 2,
      retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false },
      handler: (m) => {
        if (m.id === 2) throw new PayloadValidationError([{ message: "bad payload", path: [] }]);
        if (++calls < 3) throw new Error(`attempt ${calls}`);
        return "third time";
      },
    });
    void dispatcher.submit(delivery(1));
    void dispatcher.submit(delivery(2));
    await vi.waitFor(() => expect(outcomes.size).toBe(2));
    expect(acks.get(1)).toEqual(["third time"]);
    expect(outcomes.get(1)).toEqual([{ kind: "succeeded" }]);
    const skipped = outcomes.get(2)![0]!;
    expect(skipped.kind).toBe("skipped");
    expect(skipped.kind === "skipped" && PirouetteError.is(skipped.error) && skipped.error.code).toBe("PAYLOAD_VALIDATION");
    expect(reported).toHaveLength(1);
  });

  test("a Delivery whose ack takes only the result still works", async () => {
    const got: unknown[][] = [];
    const dispatcher = new Dispatcher<Msg>({
      telemetry: { system: "test" },
      retry: false,
      invoke: (d) => (d.message.id === 1 ? "ok" : Promise.reject(new Error("fails"))),
      reportError: () => undefined,
    });
    const one = (id: number): Delivery<Msg> => ({
      message: { id },
      destination: "t",
      coordinates: {},
      ack(result: unknown) {
        got.push([id, result]);
      },
      reject: () => undefined,
    });
    void dispatcher.submit(one(1));
    void dispatcher.submit(one(2));
    expect(await dispatcher.drain(1000)).toBe(true);
    expect(got).toEqual([
      [1, "ok"],
      [2, undefined],
    ]);
  });

  test('without a dead-letter target the default is "skip"', async () => {
    const { dispatcher, delivery, log } = setup({ retry: false, handler: () => Promise.reject(new Error("x")) });
    void dispatcher.submit(delivery(1));
    await settle();
    expect(log).toEqual(["report x", "ack 1"]);
  });

  test('"stop" rejects the message, tells onError and calls onStop; nothing is acked', async () => {
    const stops: Error[] = [];
    const dlt = vi.fn(() => Promise.resolve());
    const err = new Error("fatal");
    const { dispatcher, delivery, log, acks, rejects } = setup({
      retry: false,
      onHandlerFailure: "stop",
      deadLetter: { send: dlt },
      onStop: (e) => stops.push(e),
      handler: () => Promise.reject(err),
    });
    void dispatcher.submit(delivery(2));
    await settle();
    expect(log).toEqual(["report fatal", "reject 2"]);
    expect(rejects.get(2)).toEqual([err]);
    expect(stops).toEqual([err]);
    expect(acks.size).toBe(0);
    expect(dlt).not.toHaveBeenCalled();
    expect(dispatcher.inFlight).toBe(0);
  });

  test("binding failures follow onBindingFailure, handler failures onHandlerFailure", async () => {
    const records: DeadLetterRecord<Msg>[] = [];
    const { dispatcher, delivery, log } = setup({
      concurrency: 2,
      retry: false,
      deadLetter: { send: async (r) => void records.push(r) },
      onBindingFailure: "skip",
      handler: (m) => {
        if (m.id === 1) throw new PayloadValidationError([{ message: "expected number", path: ["id"] }]);
        throw new Error("handler");
      },
    });
    void dispatcher.submit(delivery(1));
    void dispatcher.submit(delivery(2));
    await settle();
    expect(records.map((r) => r.message.id)).toEqual([2]);
    expect(log).toContain("ack 1");
    expect(log).toContain("ack 2");
  });

  test("onError that throws or rejects does not break settlement and is logged", async () => {
    const errors: unknown[] = [];
    const logger: Logger = {
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (obj, msg) => errors.push(msg ?? obj),
    };
    let calls = 0;
    const { dispatcher, delivery, acks } = setup({
      concurrency: 2,
      retry: false,
      logger,
      handler: () => Promise.reject(new Error("h")),
      reportError: () => {
        calls++;
        if (calls === 1) throw new Error("onError threw synchronously");
        return Promise.reject(new Error("onError rejected"));
      },
    });
    void dispatcher.submit(delivery(1));
    void dispatcher.submit(delivery(2));
    await settle();
    expect(calls).toBe(2);
    expect(acks.get(1)).toEqual([undefined]);
    expect(acks.get(2)).toEqual([undefined]);
    expect(errors.filter((m) => m === "onError threw")).toHaveLength(2);
  });

  test("an ack that fails is reported as ACK_FAILED", async () => {
    const reported: Error[] = [];
    const dispatcher = new Dispatcher<Msg>({
      telemetry: { system: "test" },
      invoke: () => "ok",
      reportError: (e) => void reported.push(e),
    });
    void dispatcher.submit({
      message: { id: 1 },
      destination: "t",
      coordinates: { offset: 1 },
      ack: () => Promise.reject(new Error("connection lost")),
      reject: () => undefined,
    });
    await settle();
    expect(reported).toHaveLength(1);
    expect((reported[0] as PirouetteError).code).toBe("ACK_FAILED");
    expect(reported[0]!.message).toContain("connection lost");
    expect(dispatcher.inFlight).toBe(0);
  });

  test("a reject that throws or rejects is contained", async () => {
    const dispatcher = new Dispatcher<Msg>({
      telemetry: { system: "test" },
      retry: false,
      onHandlerFailure: "stop",
      invoke: () => Promise.reject(new Error("h")),
      reportError: () => undefined,
    });
    void dispatcher.submit({ message: { id: 1 }, destination: "t", coordinates: {}, ack: () => undefined, reject: () => Promise.reject(new Error("nack failed")) });
    void dispatcher.submit({
      message: { id: 2 },
      destination: "t",
      coordinates: {},
      ack: () => undefined,
      reject: () => {
        throw new Error("nack threw");
      },
    });
    await settle();
    await settle();
    expect(dispatcher.inFlight).toBe(0);
  });
});

describe("Dispatcher: drain, close and abort", () => {
  test("drain resolves true at once when idle", async () => {
    const { dispatcher } = setup();
    expect(await dispatcher.drain(10_000)).toBe(true);
  });

  test("drain waits for running handlers, rejects the queued ones, and then resolves true", async () => {
    const g = gatedHandler();
    const { dispatcher, delivery, acks, rejects } = setup({ concurrency: 2, maxInFlight: 10, handler: g.handler });
    void dispatcher.submit(delivery(0, "a"));
    void dispatcher.submit(delivery(1, "a")); // queued behind its key
    void dispatcher.submit(delivery(2, "b"));
    void dispatcher.submit(delivery(3, "c")); // queued: no free slot
    await settle();
    expect(g.started).toEqual([0, 2]);
    const drained = dispatcher.drain(60_000);
    await settle();
    expect(await isPending(drained)).toBe(true);
    expect([...rejects.keys()].sort()).toEqual([1, 3]);
    expect(rejects.get(1)![0]).toBeInstanceOf(ClosedError);
    expect(dispatcher.inFlight).toBe(2);
    g.release(0, "r0");
    await settle();
    expect(await isPending(drained)).toBe(true);
    g.release(2, "r2");
    expect(await drained).toBe(true);
    expect(acks.get(0)).toEqual(["r0"]);
    expect(acks.get(2)).toEqual(["r2"]);
    expect(g.started).toEqual([0, 2]); // the queued ones never ran
    expect(acks.has(1) || acks.has(3)).toBe(false);
  });

  test("drain resolves false when handlers outlast the timeout", async () => {
    vi.useFakeTimers();
    try {
      const g = gatedHandler();
      const { dispatcher, delivery } = setup({ handler: g.handler });
      void dispatcher.submit(delivery(0));
      let result: boolean | undefined;
      void dispatcher.drain(500).then((r) => (result = r));
      await vi.advanceTimersByTimeAsync(499);
      expect(result).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(result).toBe(false);
      g.release(0);
      await vi.advanceTimersByTimeAsync(0);
      expect(dispatcher.inFlight).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  test("after close/drain a submitted message is rejected at once and never runs", async () => {
    const handler = vi.fn();
    const { dispatcher, delivery, rejects } = setup({ handler });
    dispatcher.close();
    await dispatcher.submit(delivery(9));
    expect(rejects.get(9)![0]).toBeInstanceOf(ClosedError);
    expect(handler).not.toHaveBeenCalled();
    expect(dispatcher.inFlight).toBe(0);
  });

  test("abortAll aborts ctx.signal of running handlers; their rejection leads to reject, not dead-letter", async () => {
    const dlt = vi.fn(() => Promise.resolve());
    const signals: AbortSignal[] = [];
    const { dispatcher, delivery, acks, rejects, reported } = setup({
      concurrency: 2,
      maxInFlight: 4,
      deadLetter: { send: dlt },
      retry: { maxAttempts: 5, initialDelayMs: 1 },
      handler: (_m, ctx) =>
        new Promise((_resolve, reject) => {
          signals.push(ctx.signal);
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
        }),
    });
    void dispatcher.submit(delivery(0));
    void dispatcher.submit(delivery(1));
    void dispatcher.submit(delivery(2)); // queued
    await settle();
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => !s.aborted)).toBe(true);
    const reason = new ClosedError("stop now");
    dispatcher.abortAll(reason);
    expect(signals.every((s) => s.aborted && s.reason === reason)).toBe(true);
    await settle();
    expect([...rejects.keys()].sort()).toEqual([0, 1, 2]);
    expect(rejects.get(0)).toEqual([reason]);
    expect(acks.size).toBe(0);
    expect(dlt).not.toHaveBeenCalled();
    expect(reported).toEqual([]); // a stop is not a handler failure
    expect(signals).toHaveLength(2); // no retry, and the queued one never started
    expect(dispatcher.inFlight).toBe(0);
    expect(await dispatcher.drain(10)).toBe(true);
  });

  test("a signal first read after abortAll is already aborted; one of a handler that settled before is not", async () => {
    const contexts = new Map<number, HandlerContext>();
    const g = gatedHandler();
    const { dispatcher, delivery, acks, rejects } = setup({
      concurrency: 2,
      handler: (m, ctx) => {
        contexts.set(m.id, ctx); // the signal is not read while running
        return g.handler(m);
      },
    });
    void dispatcher.submit(delivery(0));
    void dispatcher.submit(delivery(1));
    await settle();
    g.release(0, "done");
    await settle();
    expect(acks.get(0)).toEqual(["done"]);
    const reason = new ClosedError("stop now");
    dispatcher.abortAll(reason);
    // Running when abortAll ran: aborted, although its handler never looked at the signal.
    expect(contexts.get(1)!.signal.aborted).toBe(true);
    expect(contexts.get(1)!.signal.reason).toBe(reason);
    // Settled before abortAll: its signal stays quiet.
    expect(contexts.get(0)!.signal.aborted).toBe(false);
    g.fail(1, new Error("gave up"));
    await settle();
    expect(rejects.get(1)?.[0]?.message).toBe("gave up");
    expect(contexts.get(1)!.signal.aborted).toBe(true);
  });

  test("ctx exposes attempt, coordinates and a logger bound to the coordinates", async () => {
    const children: Record<string, unknown>[] = [];
    const base: Logger = {
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
      child: (b) => {
        children.push(b);
        return base;
      },
    };
    const seen: { attempt: number; coordinates: unknown }[] = [];
    const { dispatcher, delivery } = setup({
      logger: base,
      retry: { maxAttempts: 2, initialDelayMs: 1, jitter: false },
      handler: (_m, ctx) => {
        seen.push({ attempt: ctx.attempt, coordinates: ctx.coordinates });
        ctx.logger.info("handling");
        if (ctx.attempt === 1) throw new Error("once");
      },
    });
    void dispatcher.submit(delivery(4));
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);
    expect(seen[0]!.coordinates).toEqual({ topic: "orders", offset: 4 });
    expect(children).toEqual([{ topic: "orders", offset: 4 }]); // one child logger per message, made on first use
    expect(await dispatcher.drain(1000)).toBe(true);
  });

  test("abortAll's default reason is a ClosedError", async () => {
    let seen: unknown;
    const { dispatcher, delivery, rejects } = setup({
      handler: (_m, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            seen = ctx.signal.reason;
            reject(new Error("aborted by signal"));
          });
        }),
    });
    void dispatcher.submit(delivery(0));
    await settle();
    dispatcher.abortAll();
    await settle();
    expect(seen).toBeInstanceOf(ClosedError);
    expect(rejects.get(0)![0]!.message).toBe("aborted by signal");
  });
});
