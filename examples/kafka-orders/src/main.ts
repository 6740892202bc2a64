/**
 * Orders on a real Kafka broker: the seeds' order producer and `OrderConsumer` service.
 *
 * ```ballerina
 * listener kafka:Listener orderListener = check new (kafka:DEFAULT_URL, { groupId: "order-processors", topics: ["orders"] });
 * service "OrderConsumer" on orderListener {
 *   remote function onConsumerRecord(Order[] orders) returns error? {
 *     foreach Order o in orders { check processOrder(o); }
 *   }
 * }
 * ```
 *
 * 1. A `kafka.Producer` publishes 24 orders (`{ id: "O-1", amount: 99.99, customer }`) keyed by
 *    customer to a 3-partition `orders` topic. One is not JSON, one has a negative amount, and
 *    one belongs to a customer whose card is always declined.
 * 2. `OrderConsumer` (`@service` on a `kafka.Listener`) receives batches of zod-validated orders
 *    (`@kafka.payload(Order)`), three partitions in parallel. For each batch it writes the
 *    invoices and the consumed offsets in one Kafka transaction (consume-transform-produce).
 * 3. The declined order fails its batch: the batch is then handled order by order, the declined
 *    one is retried twice and dead-lettered to `orders.DLT` with its origin and the error in
 *    headers. The two malformed orders reach `onError` as `PayloadBindingError` /
 *    `PayloadValidationError` and are dead-lettered without retries.
 * 4. A `kafka.Consumer` reads `orders.DLT` and `invoices` as `Stream`s; a query sums the revenue.
 * 5. `gracefulStop` commits and leaves the group; the demo topics are deleted.
 *
 * Needs the broker of `scripts/services up kafka` (`KAFKA_BROKERS`, default 127.0.0.1:9092).
 * Run it with `pnpm --filter @pirouette/example-kafka-orders start`.
 */
import { randomUUID } from "node:crypto";
import { realpathSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import kafkajs from "kafkajs";
import { z } from "zod";
import { DeadLetterHeaders, PayloadValidationError, count, from, service, sum, type HandlerContext } from "@pirouette/core";
import * as kafka from "@pirouette/kafka";

/** An order as it travels on the `orders` topic. */
export const Order = z.object({
  id: z.string().regex(/^O-\d+$/),
  customer: z.string().min(1),
  amount: z.number().positive(),
});
export type Order = z.infer<typeof Order>;

/** What the service writes to `invoices` for each order it processed. */
export interface Invoice {
  readonly orderId: string;
  readonly customer: string;
  readonly totalCents: number;
}

/** A dead-lettered order as the report shows it. */
export interface DeadLetter {
  readonly orderId: string;
  readonly partition: number;
  readonly offset: number;
  readonly code: string;
  readonly attempts: number;
}

/** What {@link main} returns: the figures of its report. */
export interface Summary {
  readonly published: number;
  readonly invoiced: number;
  readonly validationErrors: number;
  readonly bindingErrors: number;
  readonly declined: number;
  readonly attemptsForDeclined: number;
  readonly deadLetters: readonly DeadLetter[];
  readonly revenueCents: number;
  readonly invoicesRead: number;
}

/** Options for {@link main}. */
export interface MainOptions {
  /** Default `KAFKA_BROKERS` or `127.0.0.1:9092`. */
  readonly brokers?: string;
  /** Where report lines go. Default `console.log`. */
  readonly log?: (line: string) => void;
}

const CUSTOMERS = ["ada", "grace", "linus", "margaret"] as const;
/** This customer's card is always declined. */
const DECLINED = "mallory";

/** The 24 orders the demo publishes (as raw values: two of them are malformed). */
export function sampleOrders(): unknown[] {
  const orders: unknown[] = [];
  for (let i = 1; i <= 24; i++) {
    if (i === 7) orders.push(`{"id": "O-7", "customer": "ada", "amount": `); // not JSON
    else if (i === 13) orders.push({ id: "O-13", customer: "grace", amount: -5 }); // fails the schema
    else if (i === 19) orders.push({ id: "O-19", customer: DECLINED, amount: 42 });
    else orders.push({ id: `O-${i}`, customer: CUSTOMERS[i % CUSTOMERS.length], amount: Math.round(i * 1999) / 100 });
  }
  return orders;
}

class PaymentDeclined extends Error {
  override name = "PaymentDeclined";
}

/** The business logic: pretend to charge the card. */
async function processOrder(order: Order): Promise<Invoice> {
  await sleep(1);
  if (order.customer === DECLINED) throw new PaymentDeclined(`card declined for ${order.id}`);
  return { orderId: order.id, customer: order.customer, totalCents: Math.round(order.amount * 100) };
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export async function main(options: MainOptions = {}): Promise<Summary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const brokers = options.brokers ?? process.env["KAFKA_BROKERS"] ?? "127.0.0.1:9092";
  const run = randomUUID().slice(0, 8);
  const topics = { orders: `orders-${run}`, invoices: `invoices-${run}` };

  // Topic administration is not part of Pirouette's API: the demo creates (and later deletes)
  // its topics with kafkajs' admin client, the driver @pirouette/kafka uses underneath.
  const admin = new kafkajs.Kafka({ brokers: brokers.split(","), logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: topics.orders, numPartitions: 3 },
      { topic: topics.invoices, numPartitions: 1 },
    ],
    waitForLeaders: true,
  });

  try {
    // ── 1. Produce ────────────────────────────────────────────────────────────────────────
    const producer = new kafka.Producer(brokers, { idempotent: true });
    const orders = sampleOrders();
    for (const order of orders) {
      const customer = typeof order === "object" ? (order as { customer: string }).customer : "ada";
      await producer.send({ topic: topics.orders, key: customer, value: order });
    }
    const last = await producer.sendWithMetadata({ topic: topics.orders, key: "ada", value: { id: "O-25", customer: "ada", amount: 99.99 } });
    await producer.close();
    const published = orders.length + 1;
    log(`Pirouette — orders on Kafka (run ${run})`);
    log("");
    log(`produced ${published} orders to ${topics.orders}; the last one landed in partition ${last.partition} at offset ${last.offset}`);

    // ── 2. The listener and the service ───────────────────────────────────────────────────
    const invoicer = new kafka.Producer(brokers, { transactionalId: `invoicer-${run}` });
    const listener = new kafka.Listener(brokers, {
      groupId: `order-processors-${run}`,
      topics: topics.orders,
      offsetReset: "earliest",
      concurrency: 3, // partitions in parallel; one batch at a time per partition
      maxPollRecords: 10,
      retry: { maxAttempts: 3, initialDelayMs: 20, jitter: false },
      // deadLetter: default, `<topic>.DLT`
    });

    const invoiced: Invoice[] = [];
    const declinedAttempts: number[] = [];
    const errors: Error[] = [];

    @service(listener, "OrderConsumer")
    class OrderConsumer {
      @kafka.payload(Order)
      async onConsumerRecord(batch: Order[], caller: kafka.Caller, ctx: HandlerContext): Promise<void> {
        const invoices: Invoice[] = [];
        for (const order of batch) {
          try {
            invoices.push(await processOrder(order));
          } catch (e) {
            if (batch.length === 1) declinedAttempts.push(ctx.attempt);
            throw e;
          }
        }
        // The invoices and the consumed offsets commit together, or not at all.
        await invoicer.transaction(async (tx) => {
          await tx.sendBatch(invoices.map((inv) => ({ topic: topics.invoices, key: inv.customer, value: inv })));
          await tx.sendOffsets(caller.groupId, caller.offsets());
        });
        invoiced.push(...invoices);
      }

      onError(error: Error): void {
        errors.push(error);
      }
    }
    void OrderConsumer; // declared for its decorator

    await listener.start();
    await waitUntil(() => invoiced.length === published - 3 && errors.length === 3, "every order to be settled");

    const validationErrors = errors.filter((e) => e instanceof PayloadValidationError).length;
    const bindingErrors = errors.filter((e) => e.name === "PayloadBindingError").length;
    const declined = errors.filter((e) => e instanceof PaymentDeclined).length;
    log("");
    log("OrderConsumer");
    log(`  invoiced            ${invoiced.length}`);
    log(`  not JSON            ${bindingErrors}`);
    log(`  invalid             ${validationErrors}`);
    log(`  declined            ${declined}  (after ${declinedAttempts.length} attempts)`);

    // ── 3. Read the dead letters and the invoices back as Streams ─────────────────────────
    const dltReader = new kafka.Consumer<unknown>(brokers, {
      topics: `${topics.orders}.DLT`,
      offsetReset: "earliest",
      codec: { name: "raw", contentType: "application/octet-stream", encode: (v: unknown) => v as Uint8Array, decode: (b: Uint8Array) => b },
    });
    const header = (r: kafka.ConsumerRecord, name: string): string => {
      const v = r.headers[name];
      return Array.isArray(v) ? String(v[0]) : (v?.toString() ?? "");
    };
    const deadLetters = (
      await dltReader
        .stream()
        .take(3)
        .map(
          (r): DeadLetter => ({
            orderId: /"id": ?"(O-\d+)"/.exec(Buffer.from(r.value as Uint8Array).toString())?.[1] ?? "?",
            partition: Number(header(r, kafka.KafkaDeadLetterHeaders.partition)),
            offset: Number(header(r, kafka.KafkaDeadLetterHeaders.offset)),
            code: header(r, DeadLetterHeaders.errorCode) || header(r, DeadLetterHeaders.errorName),
            attempts: Number(header(r, DeadLetterHeaders.attempts)),
          }),
        )
        .toArray()
    ).sort((a, b) => a.orderId.localeCompare(b.orderId, "en", { numeric: true }));
    await dltReader.close();
    log("");
    log(`dead letters  (${topics.orders}.DLT → stream → take(3) → map)`);
    for (const d of deadLetters) {
      log(`  ${d.orderId.padEnd(5)}  partition ${d.partition} offset ${String(d.offset).padStart(2)}  ${d.code.padEnd(18)}  attempts ${d.attempts}`);
    }

    const invoiceReader = new kafka.Consumer<Invoice>(brokers, { topics: topics.invoices, offsetReset: "earliest" });
    const totals = await from(invoiceReader.stream().take(invoiced.length).map((r) => r.value)).collect({
      invoices: count(),
      revenue: sum((inv: Invoice) => inv.totalCents),
    });
    await invoiceReader.close();
    log("");
    log("invoices  (read_committed stream → from(…).collect({ invoices: count(), revenue: sum(…) }))");
    log(`  ${totals.invoices} invoices, revenue ${(totals.revenue ?? 0) / 100} EUR`);

    // ── 4. Stop ───────────────────────────────────────────────────────────────────────────
    await listener.gracefulStop();
    await invoicer.close();
    log("");
    log(`listener ${listener.state}`);

    return {
      published,
      invoiced: invoiced.length,
      validationErrors,
      bindingErrors,
      declined,
      attemptsForDeclined: declinedAttempts.length,
      deadLetters,
      revenueCents: totals.revenue ?? 0,
      invoicesRead: totals.invoices,
    };
  } finally {
    await admin
      .deleteTopics({ topics: [topics.orders, `${topics.orders}.DLT`, topics.invoices] })
      .catch(() => undefined);
    await admin.disconnect();
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
