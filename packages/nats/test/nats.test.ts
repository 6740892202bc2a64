/**
 * Unit tests (no network): subject rules, backoff, encoding and headers, error mapping, option
 * and service validation, the error class.
 */
import { describe, expect, test } from "vitest";
import { errors, headers } from "@nats-io/transport-node";
import { json, PirouetteError } from "@pirouette/core";
import * as nats from "../src/index.ts";
import { backoffDelay, resolveConnectionParams, toNatsError } from "../src/internal/connection.ts";
import { encodeData, fromNatsHeaders, toNatsHeaders } from "../src/internal/message.ts";
import { checkSubject, subjectMatches } from "../src/internal/subject.ts";

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe("subjects", () => {
  test("publish subjects: tokens, no wildcards, no whitespace", () => {
    expect(checkSubject("orders.eu.created", false)).toBe("orders.eu.created");
    for (const bad of ["", "a..b", ".a", "a.", "a b", "a.*", "a.>", "a.b*"]) expect(code(() => checkSubject(bad, false))).toBe("NATS_INVALID_SUBJECT");
  });
  test("subscription subjects: * is one token, > the last one or more", () => {
    expect(checkSubject("orders.*.created", true)).toBe("orders.*.created");
    expect(checkSubject("orders.>", true)).toBe("orders.>");
    expect(code(() => checkSubject("orders.>.x", true))).toBe("NATS_INVALID_SUBJECT");
    expect(code(() => checkSubject("orders.a*", true))).toBe("NATS_INVALID_SUBJECT");
  });
  test.each([
    ["a.*.c", "a.b.c", true],
    ["a.*", "a.b.c", false],
    ["a.>", "a.b.c", true],
    ["a.>", "a", false],
    [">", "a", true],
    ["a.b", "a.b", true],
  ])("%s matches %s → %s", (p, s, r) => expect(subjectMatches(p, s)).toBe(r));
});

describe("backoff", () => {
  test("capped exponential", () => {
    const r = { initialDelayMs: 250, maxDelayMs: 5000, multiplier: 2, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 9].map((n) => backoffDelay(r, n))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });
  test("jitter stays within ± jitter", () => {
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay({ initialDelayMs: 1000, maxDelayMs: 10_000, multiplier: 2, jitter: 0.2 }, 1);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1200);
    }
  });
});

describe("encoding and headers", () => {
  test("bytes as is, strings as UTF-8, undefined as empty, values through the codec", () => {
    const c = json();
    const bytes = new Uint8Array([1]);
    expect(encodeData(bytes, c).data).toBe(bytes);
    expect(Buffer.from(encodeData("é", c).data).toString()).toBe("é");
    expect(encodeData(undefined, c).data.length).toBe(0);
    expect(Buffer.from(encodeData({ a: 1 }, c).data).toString()).toBe('{"a":1}');
    expect(code(() => encodeData({ b: 1n }, c))).toBe("NATS_ENCODE");
  });
  test("headers round-trip; nothing to send means no headers (a plain PUB)", () => {
    expect(toNatsHeaders(undefined)).toBeUndefined();
    const h = toNatsHeaders({ a: "1", b: ["x", "y"] }, "application/json");
    expect(h?.get("a")).toBe("1");
    expect(h?.values("b")).toEqual(["x", "y"]);
    expect(h?.get("Content-Type")).toBe("application/json");
    const back = headers();
    back.set("k", "v");
    back.append("m", "1");
    back.append("m", "2");
    expect(fromNatsHeaders(back)).toEqual({ k: "v", m: ["1", "2"] });
  });
});

describe("error mapping", () => {
  test.each([
    [new errors.TimeoutError(), "NATS_TIMEOUT"],
    [new errors.NoRespondersError("x"), "NATS_NO_RESPONDERS"],
    [new errors.RequestError("x", { cause: new errors.NoRespondersError("x") }), "NATS_NO_RESPONDERS"],
    [new errors.AuthorizationError("Authorization Violation"), "NATS_AUTHORIZATION"],
    [new errors.PermissionViolationError("no", "publish", "x"), "NATS_AUTHORIZATION"],
    [new errors.ClosedConnectionError(), "NATS_CLOSED"],
    [new errors.InvalidArgumentError("payload: max_payload size exceeded"), "NATS_MAX_PAYLOAD"],
    [new errors.ConnectionError("refused"), "NATS_CONNECTION"],
    [new Error("whatever"), "NATS_CONNECTION"],
  ])("%s → %s", (e, c) => {
    const err = toNatsError(e, "ctx");
    expect(err.code).toBe(c);
    expect(err.cause).toBe(e);
    expect(err.message.startsWith("ctx: ")).toBe(true);
  });
});

describe("options and services", () => {
  test("connection defaults and validation", () => {
    const p = resolveConnectionParams(undefined, {});
    expect(p.servers).toEqual(["nats://localhost:4222"]);
    expect(p.name).toBe("pirouette");
    expect(p.reconnect).toMatchObject({ initialDelayMs: 250, maxDelayMs: 5000, maxRetries: Infinity, connectRetries: 0 });
    expect(resolveConnectionParams(["nats://a:1", "nats://b:2"], {}).servers).toHaveLength(2);
    expect(code(() => resolveConnectionParams("http://x", {}))).toBe("NATS_INVALID_CONFIG");
    expect(code(() => resolveConnectionParams(undefined, { reconnect: { jitter: 3 } }))).toBe("NATS_INVALID_CONFIG");
    expect(code(() => new nats.Listener(undefined, { concurrency: 0 }))).toBe("NATS_INVALID_CONFIG");
    expect(code(() => new nats.Listener(undefined, { deadLetter: { subject: "dead.*" } }))).toBe("NATS_INVALID_SUBJECT");
    expect(code(() => new nats.Client(undefined, { sink: { subject: "a.>" } }))).toBe("NATS_INVALID_SUBJECT");
  });

  test("publish() needs a started client: NATS_CONNECTION before start()", () => {
    const c = new nats.Client();
    expect(() => c.publish("x", 1)).toThrow(expect.objectContaining({ code: "NATS_CONNECTION" }));
  });

  test("attach validates the service and its config before any connection", async () => {
    const l = new nats.Listener();
    await expect(l.attach({ onMessage() {}, onRequest() {} }, "x")).rejects.toMatchObject({ code: "NATS_METHOD_CONFLICT", name: "NatsError" });
    await expect(l.attach({ onMesage() {} }, "x")).rejects.toMatchObject({ code: "NATS_UNKNOWN_METHOD" });
    await expect(l.attach({ onMessage() {} })).rejects.toMatchObject({ code: "NATS_MISSING_SUBJECT" });
    await expect(l.attach({ onMessage() {} }, { subject: "x", queueName: "a b" })).rejects.toMatchObject({ code: "NATS_INVALID_CONFIG" });
    await expect(l.attach({ onMessage() {} }, { subject: "x", jetstream: { stream: "A.B", durable: "d" } })).rejects.toMatchObject({
      code: "NATS_INVALID_CONFIG",
    });
    await expect(l.attach({ onMessage() {} }, { subject: "x", jetstream: { stream: "S", durable: "d", maxDeliver: 0 } })).rejects.toMatchObject({
      code: "NATS_INVALID_CONFIG",
    });
    await expect(l.attach({ onRequest() {}, onError() {} }, { subject: "x.*", queueName: "q", mode: "payload" })).resolves.toBeUndefined();
  });

  test("NatsError is a PirouetteError with its name and JetStream codes", () => {
    const e = new nats.NatsError("NATS_JETSTREAM", "no stream", { apiCode: 10059, status: 404 });
    expect(e.name).toBe("NatsError");
    expect(PirouetteError.is(e)).toBe(true);
    expect(nats.NatsError.isNatsError(e)).toBe(true);
    expect(nats.NatsError.isNatsError(new Error("x"))).toBe(false);
    expect(e.toJSON()).toMatchObject({ code: "NATS_JETSTREAM", apiCode: 10059, status: 404 });
  });
});
