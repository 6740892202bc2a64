/**
 * Request/reply and JetStream on a real NATS server (NATS_URL, default nats://127.0.0.1:4222):
 *
 * 1. A price service answers `prices.get` requests: `onRequest` returns the reply. Two listener
 *    instances join the queue group "pricing", so each request goes to one of them. An unknown
 *    SKU throws: the requester gets a `NATS_SERVICE_ERROR` reply at once instead of a timeout. A
 *    subject nobody serves fails with `NATS_NO_RESPONDERS`.
 * 2. Orders are published to JetStream with a message id (a resent order is deduplicated). A
 *    billing service consumes them from a durable consumer: acked after success; a transient
 *    failure is nak'ed with a delay and redelivered; a poison order is dead-lettered to a DLQ
 *    stream after `maxDeliver` deliveries and terminated.
 *
 * Subjects and streams are prefixed per run and deleted at the end. Run it with
 * `pnpm --filter @pirouette/example-nats-requests start`.
 */
import { randomUUID } from "node:crypto";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { payload } from "@pirouette/core";
import * as nats from "@pirouette/nats";

export const Quote = z.object({ sku: z.string(), qty: z.number().int().positive() });
export type Quote = z.infer<typeof Quote>;

export const Order = z.object({ id: z.string().regex(/^O-\d+$/), sku: z.string(), qty: z.number().int().positive() });
export type Order = z.infer<typeof Order>;

const PRICES: Readonly<Record<string, number>> = { tutu: 4950, "pointe-shoes": 8900, leotard: 13_500 };

/** What {@link main} returns: the figures its report prints. */
export interface Summary {
  readonly quotes: readonly { readonly sku: string; readonly cents: number }[];
  readonly answeredBy: Readonly<Record<string, number>>;
  readonly unknownSku: string;
  readonly nobodyServes: string;
  readonly duplicate: boolean;
  readonly billed: readonly string[];
  readonly deliveries: Readonly<Record<string, number>>;
  readonly deadLetters: readonly { readonly id: string; readonly error: string; readonly attempts: string }[];
}

/** Options for {@link main}. */
export interface MainOptions {
  readonly url?: string;
  /** Where report lines go. Default `console.log`. */
  readonly log?: (line: string) => void;
}

export async function main(options: MainOptions = {}): Promise<Summary> {
  const url = options.url ?? process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
  const log = options.log ?? ((line: string) => console.log(line));
  const run = randomUUID().slice(0, 8);
  const subject = (s: string): string => `pirouette_example.${run}.${s}`;
  const ORDERS = `PIROUETTE_EXAMPLE_ORDERS_${run}`.toUpperCase();
  const DLQ = `PIROUETTE_EXAMPLE_ORDERS_DLQ_${run}`.toUpperCase();

  const client = new nats.Client(url);
  await client.start();
  const listeners: nats.Listener[] = [];
  try {
    // ── 1. Two replicas of the price service in the queue group "pricing" ─────────────────
    const answeredBy: Record<string, number> = {};
    for (const replica of ["replica-a", "replica-b"]) {
      const listener = new nats.Listener(url, { retry: false });
      listeners.push(listener);
      class Prices {
        @payload(Quote)
        onRequest(q: Quote) {
          const unit = PRICES[q.sku];
          if (unit === undefined) throw new Error(`unknown sku ${q.sku}`);
          answeredBy[replica] = (answeredBy[replica] ?? 0) + 1;
          return { sku: q.sku, cents: unit * q.qty };
        }
        onError() {} // errors are answered to the requester
      }
      await listener.attach(new Prices(), { subject: subject("prices.get"), queueName: "pricing" });
      await listener.start();
    }
    const quotes: { sku: string; cents: number }[] = [];
    for (let i = 0; i < 12; i++) {
      const sku = Object.keys(PRICES)[i % 3] as string;
      const reply = await client.request(subject("prices.get"), { sku, qty: 1 + (i % 2) }, { timeoutMs: 2000 });
      quotes.push(JSON.parse(Buffer.from(reply.content).toString("utf8")) as { sku: string; cents: number });
    }
    const unknownSku = await client.request(subject("prices.get"), { sku: "gift-card", qty: 1 }).then(
      () => "answered",
      (e: unknown) => `${(e as nats.NatsError).code}: ${(e as Error).message.replace(/^.*failed: /, "")}`,
    );
    const nobodyServes = await client.request(subject("stock.get"), { sku: "tutu" }, { timeoutMs: 1000 }).then(
      () => "answered",
      (e: unknown) => (e as nats.NatsError).code,
    );

    // ── 2. JetStream: orders, a billing service, redelivery, a dead-letter stream ──────────
    await client.jetstream.addStream({ name: ORDERS, subjects: [subject("orders.>")], storage: "memory" });
    await client.jetstream.addStream({ name: DLQ, subjects: [subject("dead.>")], storage: "memory" });
    const deliveries: Record<string, number> = {};
    const billed: string[] = [];
    const billing = new nats.Listener(url, {
      retry: { initialDelayMs: 50, jitter: false }, // nak delays: 50 ms, 100 ms, …
      deadLetter: { subject: (m) => subject(`dead.${m.subject.split(".").at(-1) ?? "orders"}`) },
    });
    listeners.push(billing);
    class Billing {
      @payload(Order)
      onMessage(o: Order, caller: nats.Caller) {
        deliveries[o.id] = (deliveries[o.id] ?? 0) + 1;
        if (o.id === "O-3" && deliveries[o.id] === 1) throw new Error("payment gateway timeout"); // transient
        if (o.sku === "gift-card") throw new Error("gift cards cannot be billed"); // poison
        billed.push(`${o.id} via ${caller.subject.split(".").at(-1)}`);
      }
      onError() {}
    }
    await billing.attach(new Billing(), {
      subject: subject("orders.>"),
      jetstream: { stream: ORDERS, durable: "billing", maxDeliver: 3 },
    });
    await billing.start();
    const orders: Order[] = [
      { id: "O-1", sku: "tutu", qty: 1 },
      { id: "O-2", sku: "leotard", qty: 2 },
      { id: "O-3", sku: "pointe-shoes", qty: 1 },
      { id: "O-4", sku: "tutu", qty: 3 },
      { id: "O-5", sku: "gift-card", qty: 1 },
    ];
    for (const o of orders) await client.jetstream.publish(subject(`orders.${o.sku === "gift-card" ? "web" : "shop"}`), o, { msgId: o.id });
    const resent = await client.jetstream.publish(subject("orders.shop"), orders[0], { msgId: "O-1" });

    for (let i = 0; i < 200; i++) {
      if (billed.length === 4 && (await client.jetstream.streamInfo(DLQ)).messages === 1) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    // Read the dead-letter stream back with a second durable consumer (an operator's view).
    const deadLetters: { id: string; error: string; attempts: string }[] = [];
    const dlqConsumer = new nats.Listener(url);
    listeners.push(dlqConsumer);
    await dlqConsumer.attach(
      {
        onMessage(m: nats.Message) {
          const h = m.headers ?? {};
          deadLetters.push({
            id: (JSON.parse(Buffer.from(m.content).toString("utf8")) as Order).id,
            error: String(h["x-pirouette-error"]),
            attempts: String(h["x-pirouette-attempts"]),
          });
        },
      },
      { subject: subject("dead.>"), jetstream: { stream: DLQ, durable: "ops" } },
    );
    await dlqConsumer.start();
    for (let i = 0; i < 200 && deadLetters.length < 1; i++) await new Promise((r) => setTimeout(r, 25));

    const summary: Summary = {
      quotes,
      answeredBy,
      unknownSku,
      nobodyServes,
      duplicate: resent.duplicate,
      billed: [...billed].sort(),
      deliveries,
      deadLetters,
    };
    log(`nats-requests on ${url}, subjects under pirouette_example.${run}.`);
    log(`12 quotes from the queue group "pricing": ${Object.entries(answeredBy).map(([k, v]) => `${k} answered ${v}`).join(", ")}`);
    log(`  e.g. ${quotes.slice(0, 3).map((q) => `${q.sku}=${(q.cents / 100).toFixed(2)}`).join(", ")}`);
    log(`unknown SKU → ${unknownSku}`);
    log(`nobody serving stock.get → ${nobodyServes}`);
    log(`JetStream: O-1 sent twice with msgId "O-1" → duplicate: ${resent.duplicate}`);
    log(`billed: ${summary.billed.join(", ")}`);
    log(`deliveries: ${Object.entries(deliveries).map(([k, v]) => `${k}×${v}`).join(", ")}`);
    log(`dead letters: ${deadLetters.map((d) => `${d.id} after ${d.attempts} deliveries (${d.error})`).join("; ")}`);
    return summary;
  } finally {
    for (const l of listeners) await l.gracefulStop();
    await client.jetstream.deleteStream(ORDERS).catch(() => false);
    await client.jetstream.deleteStream(DLQ).catch(() => false);
    await client.close();
  }
}

// Run when executed directly (`tsx src/main.ts`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
