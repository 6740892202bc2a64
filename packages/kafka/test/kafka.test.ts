/**
 * Unit tests (no broker): errors, option checks, service validation, binding and encoding, the
 * Caller, and the consume loop driven through a fake driver (isolation of a failing record,
 * commits of the handled prefix, revocation during a running handler).
 */
import { describe, expect, test } from "vitest";
import { z } from "zod";
import type { PayloadBindingError} from "@pirouette/core";
import { Dispatcher, PayloadValidationError, PirouetteError, getPayloadSchema, json, payload, type HandlerContext } from "@pirouette/core";
import * as kafka from "../src/index.ts";
import { parseBrokers } from "../src/internal/config.ts";
import { ServiceConsumer, type Chunk, type ConsumeSettings } from "../src/internal/consume.ts";
import { toKafkaError } from "../src/internal/errors.ts";
import { bindBatch, toOutgoing } from "../src/internal/records.ts";
import type {
  BatchScope,
  RunConfig,
  Transport,
  TransportConsumer,
  WireBatch,
  WireMessage,
  WireOffset,
} from "../src/internal/transport.ts";

const B = "127.0.0.1:1"; // never contacted: nothing here connects

describe("KafkaError", () => {
  test("name, code, brand and JSON view", () => {
    const e = new kafka.KafkaError("KAFKA_COMMIT", "nope", { kafkaErrorType: "REBALANCE_IN_PROGRESS", retriable: true, cause: new Error("x") });
    expect(e.name).toBe("KafkaError");
    expect(e.code).toBe("KAFKA_COMMIT");
    expect(PirouetteError.is(e)).toBe(true);
    expect(kafka.KafkaError.isKafkaError(e)).toBe(true);
    expect(kafka.KafkaError.isKafkaError(new PirouetteError("X", "y"))).toBe(false);
    expect(e.toJSON()).toEqual({
      name: "KafkaError",
      code: "KAFKA_COMMIT",
      message: "nope",
      coordinates: undefined,
      kafkaErrorType: "REBALANCE_IN_PROGRESS",
      retriable: true,
    });
  });

  test("driver errors map to codes: authentication, authorization, the operation, connection, timeout", () => {
    const sasl = Object.assign(new Error("SASL PLAIN authentication failed"), { name: "KafkaJSSASLAuthenticationError" });
    expect(toKafkaError(sasl, "connect", "KAFKA_CONNECTION").code).toBe("KAFKA_AUTHENTICATION");
    const acl = Object.assign(new Error("Not authorized to access topics"), { name: "KafkaJSProtocolError", type: "TOPIC_AUTHORIZATION_FAILED" });
    const wrapped = Object.assign(new Error("retries exceeded"), { name: "KafkaJSNumberOfRetriesExceeded", cause: acl });
    const e = toKafkaError(wrapped, "sending failed", "KAFKA_SEND") as kafka.KafkaError;
    expect([e.code, e.kafkaErrorType, e.message]).toEqual(["KAFKA_AUTHORIZATION", "TOPIC_AUTHORIZATION_FAILED", "sending failed: Not authorized to access topics"]);
    const leader = Object.assign(new Error("leader not available"), { name: "KafkaJSProtocolError", type: "LEADER_NOT_AVAILABLE", retriable: true });
    const s = toKafkaError(leader, "send", "KAFKA_SEND") as kafka.KafkaError;
    expect([s.code, s.retriable]).toEqual(["KAFKA_SEND", true]);
    expect(toKafkaError(Object.assign(new Error("x"), { name: "KafkaJSConnectionError" }), "c").code).toBe("KAFKA_CONNECTION");
    expect(toKafkaError(Object.assign(new Error("x"), { name: "KafkaJSRequestTimeoutError" }), "c").code).toBe("KAFKA_TIMEOUT");
    expect(toKafkaError(Object.assign(new Error("x"), { type: "INVALID_TOPIC_EXCEPTION" }), "c").code).toBe("KAFKA_PROTOCOL");
    const own = new kafka.KafkaError("KAFKA_CLOSED", "closed");
    expect(toKafkaError(own, "c")).toBe(own);
  });
});

describe("options", () => {
  test("bootstrap servers: a list, a comma-separated string, KAFKA_BROKERS", () => {
    expect(parseBrokers("a:9092, b:9093")).toEqual(["a:9092", "b:9093"]);
    expect(parseBrokers(["h:1"])).toEqual(["h:1"]);
    const saved = process.env["KAFKA_BROKERS"];
    process.env["KAFKA_BROKERS"] = "env:9092";
    try {
      expect(parseBrokers(undefined)).toEqual(["env:9092"]);
    } finally {
      if (saved === undefined) delete process.env["KAFKA_BROKERS"];
      else process.env["KAFKA_BROKERS"] = saved;
    }
    expect(() => parseBrokers("no-port")).toThrow(/host:port/);
    expect(() => parseBrokers([])).toThrow(/at least one broker/);
  });

  test("bad listener, producer and consumer options fail the constructor with KAFKA_INVALID_CONFIG", () => {
    const bad: [string, () => unknown][] = [
      ["concurrency", () => new kafka.Listener(B, { groupId: "g", concurrency: 0 })],
      ["orderBy", () => new kafka.Listener(B, { groupId: "g", orderBy: "offset" as never })],
      ["heartbeat", () => new kafka.Listener(B, { groupId: "g", sessionTimeoutMs: 3000, heartbeatIntervalMs: 3000 })],
      ["isolation", () => new kafka.Listener(B, { groupId: "g", isolationLevel: "serializable" as never })],
      ["sasl", () => new kafka.Listener(B, { groupId: "g", sasl: { mechanism: "gssapi" } as never })],
      ["deadLetter", () => new kafka.Listener(B, { groupId: "g", deadLetter: 42 as never })],
      ["topics", () => new kafka.Listener(B, { groupId: "g", topics: [""] })],
      ["acks", () => new kafka.Producer(B, { acks: "2" as never })],
      ["compression", () => new kafka.Producer(B, { compression: "zstd" as never })],
      ["idempotent acks", () => new kafka.Producer(B, { transactionalId: "t", acks: "0" })],
      ["maxPollRecords", () => new kafka.Consumer(B, { maxPollRecords: 0 })],
    ];
    for (const [what, make] of bad) {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect([what, kafka.KafkaError.isKafkaError(err) ? err.code : err]).toEqual([what, "KAFKA_INVALID_CONFIG"]);
    }
    // Valid SASL and TLS settings are accepted (and never logged).
    expect(() => new kafka.Producer(B, { ssl: true, sasl: { mechanism: "scram-sha-512", username: "u", password: "p" } })).not.toThrow();
    expect(() => new kafka.Listener(B, { groupId: "g", sasl: { mechanism: "oauthbearer", oauthBearerProvider: async () => ({ value: "t" }) } })).not.toThrow();
  });

  test("attach checks the service: method names, topics, group, one service per group", async () => {
    const l = new kafka.Listener(B, { groupId: "g", topics: "orders" });
    const code = async (p: Promise<unknown>): Promise<unknown> => p.then(() => "ok", (e: unknown) => (kafka.KafkaError.isKafkaError(e) ? e.code : e));
    expect(await code(l.attach({ onConsumerRecords() {} }))).toBe("KAFKA_UNKNOWN_METHOD");
    await expect(l.attach({ onConsumerRecords() {} })).rejects.toThrow(/did you mean onConsumerRecord/);
    expect(await code(l.attach({ onError() {} }))).toBe("KAFKA_MISSING_METHOD");
    expect(await code(new kafka.Listener(B, { groupId: "g" }).attach({ onConsumerRecord() {} }))).toBe("KAFKA_MISSING_TOPICS");
    expect(await code(new kafka.Listener(B, { topics: "t" }).attach({ onConsumerRecord() {} }))).toBe("KAFKA_INVALID_CONFIG");
    expect(await code(l.attach({ onConsumerRecord() {} }, { mode: "rows" }))).toBe("KAFKA_INVALID_CONFIG");
    expect(await code(l.attach({ onConsumerRecord() {} }))).toBe("ok");
    expect(await code(l.attach({ onConsumerRecord() {} }))).toBe("KAFKA_INVALID_CONFIG"); // same group
    expect(await code(l.attach({ onConsumerRecord() {} }, { groupId: "other", topics: ["a", "b"] }))).toBe("ok");
    await l.gracefulStop();
  });
});

describe("@kafka.payload", () => {
  test("is core's @payload; both record the schema of one value on a batch method", () => {
    expect(kafka.payload).toBe(payload);
    const Order = z.object({ id: z.string() });
    type Order = z.infer<typeof Order>;
    class Batches {
      @kafka.payload(Order)
      onConsumerRecord(orders: Order[]): number {
        return orders.length;
      }
    }
    class CoreBatches {
      @payload(Order)
      onConsumerRecord(orders: readonly Order[]): number {
        return orders.length;
      }
    }
    class Records {
      @kafka.payload(Order)
      onConsumerRecord(records: kafka.ConsumerRecord<Order>[]): number {
        return records.length;
      }
    }
    expect(getPayloadSchema(new Batches(), "onConsumerRecord")).toBe(Order);
    expect(getPayloadSchema(new CoreBatches(), "onConsumerRecord")).toBe(Order);
    expect(getPayloadSchema(new Records(), "onConsumerRecord")).toBe(Order);
  });
});

describe("records", () => {
  const msg = (offset: number, value: string | null, key: string | null = null): WireMessage => ({
    offset: String(offset),
    timestamp: "1700000000000",
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers: { h: Buffer.from("v") },
  });

  test("binding: codec then schema; tombstones stay null; failures carry coordinates", async () => {
    const Order = z.object({ id: z.number() });
    const bounds = await bindBatch({ codec: json(), schema: Order.nullable() }, "t", 2, [
      msg(10, '{"id":1}', "k"),
      msg(11, null),
      msg(12, "{oops"),
      msg(13, '{"id":"x"}'),
    ]);
    expect(bounds.map((b) => [b.offset, b.index, b.record.value, b.error?.name])).toEqual([
      [10, 0, { id: 1 }, undefined],
      [11, 1, null, undefined],
      [12, 2, null, "PayloadBindingError"],
      [13, 3, { id: "x" }, "PayloadValidationError"],
    ]);
    expect(bounds[0]?.record).toEqual({ topic: "t", partition: 2, offset: 10, key: Buffer.from("k"), value: { id: 1 }, timestamp: 1_700_000_000_000, headers: { h: Buffer.from("v") } });
    expect((bounds[2]?.error as PayloadBindingError).coordinates).toEqual({ topic: "t", partition: 2, offset: 12 });
    expect(bounds[3]?.error).toBeInstanceOf(PayloadValidationError);
    // Synchronous when nothing needs a promise.
    expect(Array.isArray(bindBatch({ codec: json(), schema: undefined }, "t", 0, [msg(0, "1")]))).toBe(true);
  });

  test("encoding: bytes as they are, strings as UTF-8, null, objects through the codec; headers", () => {
    const codec = json();
    const w = toOutgoing({ topic: "t", key: Uint8Array.of(1), value: { a: 1 }, headers: { s: "x", b: Uint8Array.of(2), m: ["a", Uint8Array.of(3)] }, partition: 1, timestamp: 5 }, codec);
    expect(w).toMatchObject({ key: Buffer.of(1), value: Buffer.from('{"a":1}'), partition: 1, timestamp: "5", headers: { s: "x", b: Buffer.of(2), m: ["a", Buffer.of(3)] } });
    expect(toOutgoing({ topic: "t", value: "é" }, codec).value).toBe("é");
    expect(toOutgoing({ topic: "t", value: null }, codec).value).toBeNull();
    expect(toOutgoing({ topic: "t", value: Uint8Array.of(9) }, codec).value).toEqual(Buffer.of(9));
    expect(() => toOutgoing({ topic: "t", value: { big: 1n } }, codec)).toThrow(expect.objectContaining({ code: "KAFKA_ENCODE" }) as Error);
    expect(() => toOutgoing({ topic: "", value: 1 }, codec)).toThrow(expect.objectContaining({ code: "KAFKA_INVALID_CONFIG" }) as Error);
  });

  test("Caller: offsets() is the position after the call's records; pause defaults to their partitions", () => {
    const calls: unknown[] = [];
    const backend = {
      groupId: "g",
      commitNow: async () => void calls.push("commit"),
      commitOffsets: async (o: unknown) => void calls.push(["commitOffsets", o]),
      seek: (o: unknown) => void calls.push(["seek", o]),
      pause: (p: unknown) => void calls.push(["pause", p]),
      resume: (p: unknown) => void calls.push(["resume", p]),
      assignment: () => [],
    };
    const rec = (partition: number, offset: number): kafka.ConsumerRecord => ({ topic: "t", partition, offset, key: null, value: null, timestamp: 0, headers: {} });
    let marked = 0;
    const c = new kafka.Caller(backend, [rec(0, 5), rec(1, 7), rec(0, 6)], () => void marked++);
    expect(c.groupId).toBe("g");
    expect(c.offsets()).toEqual([
      { topic: "t", partition: 0, offset: 7 },
      { topic: "t", partition: 1, offset: 8 },
    ]);
    c.pause();
    void c.commit();
    expect(marked).toBe(1);
    expect(calls).toEqual([["pause", [{ topic: "t", partition: 0 }, { topic: "t", partition: 1 }]], "commit"]);
  });
});

// ---------------------------------------------------------------- the consume loop on a fake driver

class FakeConsumer implements TransportConsumer {
  config: RunConfig | undefined;
  readonly commits: WireOffset[][] = [];
  joinFn: ((a: Readonly<Record<string, readonly number[]>>) => void) | undefined;
  readonly paused: unknown[] = [];
  connect = async (): Promise<void> => undefined;
  subscribe = async (): Promise<void> => undefined;
  stop = async (): Promise<void> => undefined;
  disconnect = async (): Promise<void> => undefined;
  async run(config: RunConfig): Promise<void> {
    this.config = config;
    this.joinFn?.({ t: [0] });
  }
  eachBatch(s: BatchScope): Promise<void> {
    return (this.config as RunConfig).eachBatch(s);
  }
  async commit(offsets: readonly WireOffset[]): Promise<void> {
    this.commits.push([...offsets]);
  }
  seek(): void {}
  pause(p: unknown): void {
    this.paused.push(p);
  }
  resume(): void {}
  onJoin(fn: (a: Readonly<Record<string, readonly number[]>>) => void): void {
    this.joinFn = fn;
  }
  onCrash(): void {}
}

function fakeTransport(c: FakeConsumer): Transport {
  return {
    consumer: () => c,
    producer: () => {
      throw new Error("no producer");
    },
    admin: () => {
      throw new Error("no admin");
    },
    isRebalance: (e) => (e as { type?: string }).type === "REBALANCE_IN_PROGRESS",
    isFenced: () => false,
  };
}

function settings(over: Partial<ConsumeSettings> = {}): ConsumeSettings {
  return {
    groupId: "g",
    topics: ["t"],
    fromBeginning: true,
    consumer: {
      groupId: "g",
      sessionTimeoutMs: 3000,
      heartbeatIntervalMs: 200,
      rebalanceTimeoutMs: 5000,
      maxWaitTimeMs: 100,
      maxBytesPerPartition: 1,
      maxBytes: 1,
      readUncommitted: false,
    },
    concurrency: 1,
    orderBy: "partition",
    maxPollRecords: 10,
    autoCommit: false,
    autoCommitIntervalMs: 5000,
    commitIntervalMs: 0,
    autoSeek: true,
    revokeTimeoutMs: 1000,
    pollingIntervalMs: 100,
    payloadMode: true,
    binder: { codec: json(), schema: undefined },
    retry: { maxAttempts: 2, initialDelayMs: 1, jitter: false },
    deadLetter: undefined,
    onHandlerFailure: "skip",
    onBindingFailure: undefined,
    ...over,
  };
}

function batch(offsets: readonly number[], last = offsets[offsets.length - 1] as number): WireBatch {
  return {
    topic: "t",
    partition: 0,
    messages: offsets.map((o) => ({ offset: String(o), timestamp: "0", key: null, value: Buffer.from(String(o)) })),
    lastOffset: () => String(last),
  };
}

function scope(b: WireBatch, heartbeat: () => Promise<void> = async () => undefined): BatchScope & { resolved: string[] } {
  const resolved: string[] = [];
  return { batch: b, resolved, resolveOffset: (o) => void resolved.push(o), heartbeat, isRunning: () => true, isStale: () => false };
}

function loop(
  s: ConsumeSettings,
  call: (values: number[], ctx: HandlerContext) => unknown,
): { sc: ServiceConsumer; fake: FakeConsumer; errors: Error[] } {
  const fake = new FakeConsumer();
  const errors: Error[] = [];
  const sc = new ServiceConsumer(s, fakeTransport(fake), {
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    createDispatcher: (o) => new Dispatcher<Chunk>(o),
    releaseDispatcher: () => undefined,
    notifyError: async (e) => void errors.push(e),
    call: (arg, _caller, ctx) => call(arg as number[], ctx),
  });
  return { sc, fake, errors };
}

describe("consume loop (fake driver)", () => {
  test("a failing batch is handled record by record; only the failing record is skipped; the prefix is committed", async () => {
    const calls: number[][] = [];
    const { sc, fake, errors } = loop(settings({ maxPollRecords: 5 }), (values) => {
      calls.push(values);
      if (values.includes(12)) throw new Error("poison 12");
    });
    await sc.start();
    const s = scope(batch([10, 11, 12, 13, 14, 15, 16]));
    await fake.eachBatch(s);
    expect(calls).toEqual([
      [10, 11, 12, 13, 14], // the batch call fails
      [10], [11], [12], // isolation: 12 fails …
      [12], // … and is retried once (maxAttempts 2), then skipped
      [13, 14, 15, 16], // the records after it: a chunk again
    ]);
    expect(errors.map((e) => e.message)).toEqual(["poison 12"]);
    expect(s.resolved).toEqual(["16"]);
    expect(fake.commits).toEqual([[{ topic: "t", partition: 0, offset: "17" }]]);
    await sc.close();
  });

  test("control records after the last record: the batch end is committed; gaps in offsets are fine", async () => {
    const { sc, fake } = loop(settings(), () => undefined);
    await sc.start();
    await fake.eachBatch(scope(batch([3, 5, 9], 11)));
    expect(fake.commits.at(-1)).toEqual([{ topic: "t", partition: 0, offset: "12" }]);
    await sc.close();
  });

  test("a rebalance while a handler runs: no new chunks, the finished prefix is committed, the batch rethrows, late acks are ignored", async () => {
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const calls: number[][] = [];
    const { sc, fake } = loop(settings({ maxPollRecords: 2, revokeTimeoutMs: 300 }), async (values) => {
      calls.push(values);
      if (values.includes(2)) await blocked;
    });
    await sc.start();
    let beats = 0;
    const rebalance = Object.assign(new Error("The group is rebalancing"), { type: "REBALANCE_IN_PROGRESS" });
    const s = scope(batch([0, 1, 2, 3, 4, 5]), async () => {
      if (++beats >= 2) throw rebalance;
    });
    await expect(fake.eachBatch(s)).rejects.toBe(rebalance);
    expect(calls).toEqual([[0, 1], [2, 3]]);
    expect(fake.commits).toEqual([[{ topic: "t", partition: 0, offset: "2" }]]);
    expect(s.resolved).toEqual([]);
    // The partition goes to another member; the handler then finishes: nothing more is committed.
    fake.joinFn?.({});
    release();
    await new Promise((r) => setTimeout(r, 50));
    await sc.commitNow();
    expect(fake.commits).toHaveLength(1);
    await sc.close();
  });

  test("stopIntake: the running chunk finishes and is committed on close; the rest is left and the partition paused", async () => {
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const calls: number[][] = [];
    const { sc, fake } = loop(settings({ maxPollRecords: 2 }), async (values) => {
      calls.push(values);
      await blocked;
    });
    await sc.start();
    const s = scope(batch([0, 1, 2, 3]));
    const running = fake.eachBatch(s);
    await new Promise((r) => setTimeout(r, 20));
    sc.stopIntake();
    release();
    await running;
    await sc.close();
    expect(calls).toEqual([[0, 1]]);
    expect(s.resolved).toEqual(["1"]);
    expect(fake.commits.flat()).toEqual([{ topic: "t", partition: 0, offset: "2" }]);
    await fake.eachBatch(scope(batch([2, 3])));
    expect(fake.paused.at(-1)).toEqual([{ topic: "t", partitions: [0] }]);
  });
});
