/**
 * Interop with peers we did not write: a plain @nats-io v3 client, and a raw TCP peer speaking
 * the NATS text protocol through socat (PUB / SUB / MSG frames, no NATS library at all).
 */
import { afterEach, describe, expect, test } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import * as nats from "../src/index.ts";
import { body, NATS_URL, RawPeer, unique, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function plain(): Promise<NatsConnection> {
  const nc = await connect({ servers: NATS_URL });
  cleanups.push(() => nc.close());
  return nc;
}

function raw(): RawPeer {
  const p = new RawPeer();
  cleanups.push(async () => p.close());
  return p;
}

describe("interop with a plain @nats-io client", () => {
  test("plain request → our onRequest; plain publish → our onMessage", async () => {
    const base = unique("plain_in");
    const got: string[] = [];
    const l = new nats.Listener(NATS_URL);
    cleanups.push(() => l.immediateStop());
    await l.attach({ onRequest: (q: { a: number; b: number }) => ({ sum: q.a + q.b }) }, { subject: `${base}.add`, mode: "payload" });
    await l.attach({ onMessage: (m: nats.Message) => void got.push(Buffer.from(m.content).toString()) }, `${base}.events`);
    await l.start();
    const nc = await plain();
    const reply = await nc.request(`${base}.add`, JSON.stringify({ a: 20, b: 22 }), { timeout: 2000 });
    expect(reply.json()).toEqual({ sum: 42 });
    nc.publish(`${base}.events`, "from nats.js");
    await waitFor(() => got.length === 1, "the plain publish");
    expect(got).toEqual(["from nats.js"]);
  });

  test("our Client → a plain subscription and a plain responder", async () => {
    const base = unique("plain_out");
    const nc = await plain();
    const sub = nc.subscribe(`${base}.events`, { max: 1 });
    nc.subscribe(`${base}.echo`, { callback: (_e, m) => void m.respond(`echo:${m.string()}`) });
    await nc.flush();
    const c = new nats.Client(NATS_URL);
    cleanups.push(() => c.close());
    await c.start();
    c.publish(`${base}.events`, { from: "pirouette" }, { headers: { "x-k": "v" } });
    for await (const m of sub) {
      expect(m.json()).toEqual({ from: "pirouette" });
      expect(m.headers?.get("x-k")).toBe("v");
    }
    const r = await c.request(`${base}.echo`, "hi");
    expect(Buffer.from(r.content).toString()).toBe("echo:hi");
  });
});

describe("interop with the raw NATS protocol over socat", () => {
  test("raw PUB with a reply subject → our onRequest → raw peer receives the MSG reply", async () => {
    const base = unique("raw_rpc");
    const l = new nats.Listener(NATS_URL);
    cleanups.push(() => l.immediateStop());
    await l.attach({ onRequest: (q: { a: number; b: number }) => ({ sum: q.a + q.b }) }, { subject: `${base}.add`, mode: "payload" });
    await l.start();
    const p = raw();
    await p.handshake();
    const request = JSON.stringify({ a: 1, b: 2 });
    p.send(`SUB ${base}.reply 1\r\nPUB ${base}.add ${base}.reply ${request.length}\r\n${request}\r\n`);
    expect(JSON.parse(await p.message(`${base}.reply`))).toEqual({ sum: 3 });
  });

  test("raw PUB → our onMessage; our Client publish → raw SUB sees the MSG frame", async () => {
    const base = unique("raw_pubsub");
    const got: unknown[] = [];
    const l = new nats.Listener(NATS_URL);
    cleanups.push(() => l.immediateStop());
    await l.attach({ onMessage: (m: nats.Message) => void got.push(body(m.content)) }, `${base}.in`);
    await l.start();
    const p = raw();
    await p.handshake();
    p.send(`SUB ${base}.out 7\r\nPING\r\n`);
    await waitFor(() => p.output.split("PONG").length > 2, "the second PONG (SUB registered)");
    const data = '{"hello":"raw"}';
    p.send(`PUB ${base}.in ${data.length}\r\n${data}\r\n`);
    await waitFor(() => got.length === 1, "the raw publish");
    expect(got).toEqual([{ hello: "raw" }]);
    const c = new nats.Client(NATS_URL);
    cleanups.push(() => c.close());
    await c.start();
    c.publish(`${base}.out`, "to the raw peer");
    expect(await p.message(`${base}.out`)).toBe("to the raw peer");
  });
});
