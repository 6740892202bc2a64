/**
 * The UDP part of reference/reliability.md §4: 100k mixed valid/garbage datagrams → garbage to
 * onError, the process survives, drops counted (loss is possible on UDP, so it is bounded and
 * accounted for, not assumed absent).
 */
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { json, PirouetteError } from "@pirouette/core";
import { afterEach, describe, expect, test } from "vitest";
import * as udp from "../src/index.ts";
import { waitFor } from "./helpers.ts";

const cleanups: (() => PromiseLike<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Reading {
  n: number;
}
const Reading = {
  "~standard": {
    version: 1 as const,
    vendor: "test",
    validate: (v: unknown) =>
      typeof v === "object" && v !== null && Number.isInteger((v as Reading).n) ? { value: v as Reading } : { issues: [{ message: "n must be an integer", path: ["n"] }] },
  },
};

describe("reliability: UDP", () => {
  test("100,000 mixed valid / garbage / invalid / oversize datagrams", async () => {
    const N = 100_000;
    const valid = new Set<number>();
    const errorsByCode = new Map<string, number>();
    let unexpected = 0;
    const listener = new udp.Listener<Reading>(0, {
      localHost: "127.0.0.1",
      codec: json(),
      maxDatagramSize: 1024,
      recvBufferSize: 8 * 1024 * 1024,
      maxPending: 8192,
    });
    await listener.attach(
      {
        onBytes(r) {
          if (valid.has(r.n)) unexpected++;
          valid.add(r.n);
        },
        onError(e) {
          const code = PirouetteError.is(e) ? e.code : "other";
          errorsByCode.set(code, (errorsByCode.get(code) ?? 0) + 1);
        },
      },
      { payload: Reading },
    );
    await listener.start();
    cleanups.push(() => listener.gracefulStop());

    const sender = dgram.createSocket({ type: "udp4", sendBufferSize: 4 * 1024 * 1024 });
    sender.on("error", () => undefined);
    await new Promise<void>((r) => sender.bind(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => sender.close(() => r())));

    // kind of datagram i: 0-1 valid JSON, 2 random garbage, 3 JSON failing the schema, and every
    // 50th an oversize one.
    const kinds = { valid: 0, garbage: 0, invalid: 0, oversize: 0 };
    const make = (i: number): Buffer => {
      if (i % 50 === 49) {
        kinds.oversize++;
        return Buffer.alloc(2000, 0x20);
      }
      switch (i % 4) {
        case 2:
          kinds.garbage++;
          return Buffer.concat([Buffer.from([0xff]), randomBytes(1 + (i % 200))]);
        case 3:
          kinds.invalid++;
          return Buffer.from(JSON.stringify({ n: `not a number ${i}` }));
        default:
          kinds.valid++;
          return Buffer.from(JSON.stringify({ n: i }));
      }
    };
    const BURST = 500;
    const t0 = Date.now();
    for (let i = 0; i < N; i += BURST) {
      await Promise.all(
        Array.from({ length: Math.min(BURST, N - i) }, (_, k) => new Promise<void>((r) => sender.send(make(i + k), listener.port, "127.0.0.1", () => r()))),
      );
      // Pace the sender on the receiver (UDP has no flow control); give up waiting after 2 s.
      await waitFor(() => listener.receivedDatagrams >= i + BURST - 50, 2000).catch(() => undefined);
    }
    // Let the datagrams still queued in the kernel arrive: wait until all did, or none came for 1 s.
    for (let last = -1; listener.receivedDatagrams !== last && listener.receivedDatagrams < N; ) {
      last = listener.receivedDatagrams;
      await waitFor(() => listener.receivedDatagrams === N, 1000).catch(() => undefined);
    }
    const accounted = (): number => valid.size + [...errorsByCode.values()].reduce((a, b) => a + b, 0) + listener.droppedDatagrams;
    await waitFor(() => accounted() === listener.receivedDatagrams, 20_000).catch(() => undefined);

    const received = listener.receivedDatagrams;
    const lostInKernel = N - received;
    console.log(
      `udp 100k in ${Date.now() - t0} ms: sent ${N} (${JSON.stringify(kinds)}), received ${received}, lost in the kernel ${lostInKernel}, ` +
        `dropped by the listener ${listener.droppedDatagrams}, handled ${valid.size}, errors ${JSON.stringify(Object.fromEntries(errorsByCode))}`,
    );
    expect(unexpected).toBe(0);
    expect(accounted()).toBe(received); // every received datagram is handled, reported or counted as dropped
    expect(lostInKernel).toBeLessThan(N * 0.02);
    expect(valid.size).toBeLessThanOrEqual(kinds.valid);
    expect((errorsByCode.get("PAYLOAD_BINDING") ?? 0) + (errorsByCode.get("PAYLOAD_VALIDATION") ?? 0) + (errorsByCode.get("UDP_DATAGRAM_TOO_LARGE") ?? 0)).toBe(
      [...errorsByCode.values()].reduce((a, b) => a + b, 0),
    );
    expect(errorsByCode.get("PAYLOAD_BINDING") ?? 0).toBeGreaterThan(kinds.garbage * 0.9);
    expect(errorsByCode.get("PAYLOAD_VALIDATION") ?? 0).toBeGreaterThan(kinds.invalid * 0.9);
    expect(errorsByCode.get("UDP_DATAGRAM_TOO_LARGE") ?? 0).toBeGreaterThan(kinds.oversize * 0.9);

    // The listener still answers afterwards.
    await using client = new udp.ConnectClient("127.0.0.1", listener.port, { timeoutMs: 2000 });
    await client.writeBytes(JSON.stringify({ n: N + 1 }));
    await waitFor(() => valid.has(N + 1));
  }, 120_000);
});
