// Listener lifecycle (AbstractListener, through memory.Listener and a minimal subclass):
// attach validation, attach/detach while running, start/stop states, gracefulStop with
// in-flight handlers, its timeout, immediateStop, and async disposal.
import { afterEach, describe, expect, test, vi } from "vitest";
import { PirouetteError } from "../src/errors.ts";
import * as memory from "../src/memory/index.ts";
import type { Message } from "../src/memory/broker.ts";
import type { HandlerContext } from "../src/service/dispatcher.ts";
import { AbstractListener, type Attachment, type StopMode } from "../src/service/listener.ts";
import type { ServiceSpec } from "../src/service/service-spec.ts";

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const waitFor = (fn: () => void): Promise<void> => vi.waitFor(fn, { timeout: 10_000, interval: 5 });

const cleanup: (() => Promise<void>)[] = [];
function listen(options: memory.MemoryListenerOptions): memory.Listener {
  const l = new memory.Listener(options);
  cleanup.push(() => l.immediateStop());
  return l;
}
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

async function rejection(p: Promise<unknown>): Promise<PirouetteError> {
  try {
    await p;
  } catch (e) {
    expect(PirouetteError.is(e)).toBe(true);
    return e as PirouetteError;
  }
  throw new Error("expected a rejection");
}

describe("attach validation", () => {
  test("an unknown on* method is rejected with a hint", async () => {
    const l = listen({ broker: new memory.Broker() });
    const e = await rejection(l.attach({ onMesage() {} }, "t"));
    expect(e.code).toBe("MEMORY_UNKNOWN_METHOD");
    expect(e.message).toContain("onMesage");
    expect(e.message).toContain("did you mean onMessage");
  });

  test("unknown methods on a class prototype are found too", async () => {
    class Svc {
      onMessage(): void {}
      onErorr(): void {}
    }
    const e = await rejection(listen({ broker: new memory.Broker() }).attach(new Svc(), "t"));
    expect(e.code).toBe("MEMORY_UNKNOWN_METHOD");
    expect(e.message).toContain("did you mean onError");
  });

  test("a missing onMessage, a missing topic and a non-object are rejected", async () => {
    const l = listen({ broker: new memory.Broker() });
    expect((await rejection(l.attach({ onError() {} }, "t"))).code).toBe("MEMORY_MISSING_METHOD");
    expect((await rejection(l.attach({ onMessage() {} }))).code).toBe("MEMORY_MISSING_TOPIC");
    expect((await rejection(l.attach({ onMessage() {} }, { topic: "" }))).code).toBe("MEMORY_MISSING_TOPIC");
    expect((await rejection(l.attach(null as never, "t"))).code).toBe("MEMORY_INVALID_SERVICE");
  });

  test("non-on* helper methods are allowed; a service cannot be attached twice", async () => {
    const l = listen({ broker: new memory.Broker() });
    const svc = { onMessage() {}, helper() {} };
    await l.attach(svc, "t");
    expect((await rejection(l.attach(svc, "t"))).code).toBe("STATE");
  });

  test("a rejected attach leaves nothing attached", async () => {
    const l = new TestListener();
    await expect(l.attach({ onTick() {}, onTock() {} })).rejects.toMatchObject({ code: "TEST_UNKNOWN_METHOD" });
    await expect(l.attach({})).rejects.toMatchObject({ code: "TEST_MISSING_METHOD" });
    await l.start();
    expect(l.calls).toEqual(["start 0"]);
    await l.gracefulStop();
  });
});

describe("attach, detach and states", () => {
  test("attach after start begins consuming; detach stops", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const l = listen({ broker, groupId: "g" });
    await l.start();
    expect(l.state).toBe("started");
    await client.publish("t", 1);
    const seen: number[] = [];
    const svc = { onMessage: (n: number) => void seen.push(n) };
    await l.attach(svc, { name: "t", mode: "payload" });
    await waitFor(() => expect(seen).toEqual([1]));
    await waitFor(() => expect(broker.pending("t", "g")).toBe(0));
    await l.detach(svc);
    await client.publish("t", 2);
    await settle();
    expect(seen).toEqual([1]);
    expect(broker.pending("t", "g")).toBe(1);
    // Detaching twice, or a service never attached, is a no-op.
    await l.detach(svc);
    await l.detach({ onMessage() {} });
  });

  test("start twice, start after stop and attach after stop fail with STATE", async () => {
    const l = listen({ broker: new memory.Broker() });
    await l.start();
    expect((await rejection(l.start())).code).toBe("STATE");
    await l.gracefulStop();
    expect(l.state).toBe("stopped");
    expect((await rejection(l.start())).code).toBe("STATE");
    expect((await rejection(l.attach({ onMessage() {} }, "t"))).code).toBe("STATE");
    // Stopping again is a no-op.
    await l.gracefulStop();
    await l.immediateStop();
  });

  test("stopping a listener that never started closes it", async () => {
    const l = listen({ broker: new memory.Broker() });
    await l.gracefulStop();
    expect(l.state).toBe("stopped");
  });
});

describe("gracefulStop", () => {
  test("in-flight handlers finish and are acked before gracefulStop resolves; intake stops", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const events: string[] = [];
    let started = 0;
    const signals: AbortSignal[] = [];
    const l = listen({ broker, groupId: "g", concurrency: 5 });
    await l.attach(
      {
        onMessage: async (n: number, _caller: memory.Caller, ctx: HandlerContext) => {
          started++;
          signals.push(ctx.signal);
          await sleep(200);
          events.push(`done ${n}`);
        },
      },
      { name: "t", mode: "payload" },
    );
    await l.start();
    for (let i = 0; i < 5; i++) await client.publish("t", i);
    await waitFor(() => expect(started).toBe(5));
    expect(broker.pending("t", "g")).toBe(5);
    const stopping = l.gracefulStop().then(() => {
      events.push("stopped");
      return broker.pending("t", "g");
    });
    await settle();
    expect(l.state).toBe("stopping");
    // Published while stopping: not taken.
    await client.publish("t", 99);
    const pendingAtStop = await stopping;
    expect(events.slice(0, 5).sort()).toEqual(["done 0", "done 1", "done 2", "done 3", "done 4"]);
    expect(events[5]).toBe("stopped");
    expect(pendingAtStop).toBe(1); // only the message published while stopping
    expect(started).toBe(5);
    expect(signals.some((s) => s.aborted)).toBe(false);
    expect(l.state).toBe("stopped");
  });

  test("after gracefulStopTimeoutMs, handlers are aborted and their messages stay unacked", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const release = deferred();
    let signal: AbortSignal | undefined;
    const l = listen({ broker, groupId: "g", gracefulStopTimeoutMs: 50 });
    await l.attach(
      {
        onMessage: async (_m: Message, _c: memory.Caller, ctx: HandlerContext) => {
          signal = ctx.signal;
          await release.promise; // ignores the signal
        },
      },
      "t",
    );
    await l.start();
    await client.publish("t", 1);
    await waitFor(() => expect(signal).toBeDefined());
    const t0 = performance.now();
    await l.gracefulStop();
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(signal!.aborted).toBe(true);
    expect((signal!.reason as PirouetteError).code).toBe("TIMEOUT");
    expect(broker.pending("t", "g")).toBe(1);
    // The late success does not ack a message the listener gave up.
    release.resolve();
    await settle();
    expect(broker.pending("t", "g")).toBe(1);
    const redelivered: number[] = [];
    const next = listen({ broker, groupId: "g" });
    await next.attach({ onMessage: (m: Message) => void redelivered.push(m.deliveryCount) }, "t");
    await next.start();
    await waitFor(() => expect(redelivered).toEqual([2]));
  });
});

describe("immediateStop", () => {
  test("aborts handlers at once; messages are not acked and go to the next member of the group", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    const signals: AbortSignal[] = [];
    const errors: Error[] = [];
    const l = listen({ broker, groupId: "g", concurrency: 3 });
    await l.attach(
      {
        onMessage: (_n: number, _c: memory.Caller, ctx: HandlerContext) =>
          new Promise((_resolve, reject) => {
            signals.push(ctx.signal);
            const timer = setTimeout(() => reject(new Error("not aborted in time")), 20_000);
            ctx.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              reject(ctx.signal.reason);
            });
          }),
        onError: (e: Error) => void errors.push(e),
      },
      { name: "t", mode: "payload" },
    );
    await l.start();
    for (let i = 0; i < 3; i++) await client.publish("t", i);
    await waitFor(() => expect(signals).toHaveLength(3));
    const t0 = performance.now();
    await l.immediateStop();
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(l.state).toBe("stopped");
    expect(signals.every((s) => s.aborted)).toBe(true);
    await settle();
    expect(broker.pending("t", "g")).toBe(3);
    expect(broker.messages("t.DLT")).toEqual([]);
    expect(errors).toEqual([]);
    const seen: [number, number][] = [];
    const next = listen({ broker, groupId: "g" });
    await next.attach({ onMessage: (n: number, c: memory.Caller) => void seen.push([n, c.message.deliveryCount]) }, { name: "t", mode: "payload" });
    await next.start();
    await waitFor(() => expect(seen).toHaveLength(3));
    expect(seen).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
  });

  test("immediateStop during a gracefulStop aborts the handlers it waits for", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    let signal: AbortSignal | undefined;
    const l = listen({ broker, groupId: "g" });
    await l.attach(
      {
        onMessage: (_m: Message, _c: memory.Caller, ctx: HandlerContext) =>
          new Promise((_resolve, reject) => {
            signal = ctx.signal;
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
          }),
      },
      "t",
    );
    await l.start();
    await client.publish("t", 1);
    await waitFor(() => expect(signal).toBeDefined());
    const graceful = l.gracefulStop();
    await settle();
    await l.immediateStop();
    await graceful;
    expect(signal!.aborted).toBe(true);
    expect(broker.pending("t", "g")).toBe(1);
  });
});

describe("disposal", () => {
  test("await using stops the listener gracefully at the end of the scope", async () => {
    const broker = new memory.Broker();
    const client = new memory.Client({ broker });
    let finished = 0;
    let outside: memory.Listener | undefined;
    {
      await using l = new memory.Listener({ broker, groupId: "g" });
      outside = l;
      await l.attach(
        {
          onMessage: async () => {
            await sleep(50);
            finished++;
          },
        },
        "t",
      );
      await l.start();
      await client.publish("t", 1);
      await waitFor(() => expect(broker.pending("t", "g")).toBe(1));
      await settle();
    }
    expect(outside.state).toBe("stopped");
    expect(finished).toBe(1);
    expect(broker.pending("t", "g")).toBe(0);
  });

  test("[Symbol.asyncDispose]() is gracefulStop", async () => {
    const l = listen({ broker: new memory.Broker() });
    await l.start();
    await l[Symbol.asyncDispose]();
    expect(l.state).toBe("stopped");
  });
});

/** The smallest protocol listener: records its hooks. */
class TestListener extends AbstractListener<object, { topic?: string }> {
  protected readonly spec: ServiceSpec = { protocol: "test", methods: { onTick: { mandatory: true }, onError: {} } };
  readonly calls: string[] = [];
  failStart: Error | undefined;
  failAttach: Error | undefined;
  constructor() {
    super({ protocol: "test", gracefulStopTimeoutMs: 1000 });
  }
  protected async onStart(atts: Attachment<object, { topic?: string }>[]): Promise<void> {
    this.calls.push(`start ${atts.length}`);
    if (this.failStart !== undefined) throw this.failStart;
  }
  protected override async onAttach(): Promise<void> {
    this.calls.push("attach");
    if (this.failAttach !== undefined) throw this.failAttach;
  }
  protected override async onDetach(): Promise<void> {
    this.calls.push("detach");
  }
  protected async stopIntake(mode: StopMode): Promise<void> {
    this.calls.push(`stopIntake ${mode}`);
  }
  protected async onClose(): Promise<void> {
    this.calls.push("close");
  }
  /** Make the dispatcher available so that a test can keep a handler in flight. */
  dispatcher(invoke: (ctx: HandlerContext) => unknown) {
    return this.createDispatcher<number>({ telemetry: { system: "test" }, invoke: (_d, ctx) => invoke(ctx), reportError: () => undefined });
  }
}

describe("AbstractListener hooks", () => {
  test("the hooks run in order; stopIntake before close; close once", async () => {
    const l = new TestListener();
    await l.attach({ onTick() {} });
    await l.start();
    await l.gracefulStop();
    await l.gracefulStop();
    expect(l.calls).toEqual(["start 1", "stopIntake graceful", "close"]);
  });

  test("stopIntake hears the stop mode: immediate, and immediate again when it interrupts a graceful stop", async () => {
    const l = new TestListener();
    await l.start();
    await l.immediateStop();
    expect(l.calls).toEqual(["start 0", "stopIntake immediate", "close"]);

    const l2 = new TestListener();
    await l2.start();
    const d = l2.dispatcher((ctx) => new Promise((_r, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))));
    void d.submit({ message: 1, destination: "x", coordinates: {}, ack: () => undefined, reject: () => undefined });
    await settle();
    const graceful = l2.gracefulStop();
    await settle();
    await l2.immediateStop();
    await graceful;
    expect(l2.calls).toEqual(["start 0", "stopIntake graceful", "stopIntake immediate", "close"]);
  });

  test("a failed start leaves the listener stopped and closed, and rethrows", async () => {
    const l = new TestListener();
    l.failStart = new Error("cannot connect");
    await expect(l.start()).rejects.toThrow("cannot connect");
    expect(l.state).toBe("stopped");
    expect(l.calls).toEqual(["start 0", "close"]);
  });

  test("a failing onAttach on a started listener rejects and leaves the service detached", async () => {
    const l = new TestListener();
    await l.start();
    l.failAttach = new Error("subscribe failed");
    const svc = { onTick() {} };
    await expect(l.attach(svc)).rejects.toThrow("subscribe failed");
    l.failAttach = undefined;
    await l.attach(svc); // not "already attached"
    await l.detach(svc);
    expect(l.calls).toEqual(["start 0", "attach", "attach", "detach"]);
    await l.immediateStop();
  });

  test("immediateStop during gracefulStop: handlers aborted, onClose called once", async () => {
    const l = new TestListener();
    await l.start();
    const d = l.dispatcher((ctx) => new Promise((_r, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))));
    void d.submit({ message: 1, destination: "x", coordinates: {}, ack: () => undefined, reject: () => undefined });
    await settle();
    const graceful = l.gracefulStop();
    await settle();
    await l.immediateStop();
    await graceful;
    expect(l.calls.filter((c) => c === "close")).toHaveLength(1);
    expect(l.state).toBe("stopped");
  });
});

describe("@service attach failures", () => {
  test("an invalid decorated service makes start() fail with the validation error", async () => {
    const { service } = await import("../src/service/decorators.ts");
    const listener = new memory.Listener({ broker: new memory.Broker() });
    @service(listener, "orders")
    class Bad {
      onMesage(): void {}
    }
    void Bad;
    await expect(listener.start()).rejects.toMatchObject({ code: "MEMORY_UNKNOWN_METHOD" });
  });
});
