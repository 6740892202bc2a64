/**
 * Orders on a real RabbitMQ (RABBITMQ_URL, default amqp://guest:guest@127.0.0.1:5672), after
 * the seeds' two RabbitMQ examples:
 *
 * 1. Ballerina's `service "orders" on rmqListener { onMessage(Order o) }`: a `@service` class
 *    with `@rabbitmq.ServiceConfig` and a zod `@payload` consumes `order.*` events from the
 *    topic exchange `orders-exchange`. Invalid orders reach `onError` and the dead-letter queue;
 *    a declined payment is retried, then dead-lettered with the error and attempt count.
 * 2. The EventFlux pipeline `OrderInput (rabbitmq queue) → WHERE amount > 50 → CASE priority →
 *    OrderOutput (exchange processed-orders, routing key high-value)`: `client.stream(queue)` →
 *    Stream operators → `pipeTo(client)`, the client being a Sink.
 * 3. Request/reply: an `onRequest` service answers "what happened to order X?"; the reply goes
 *    to the request's `replyTo` with its `correlationId`.
 *
 * Every name is prefixed per run and deleted at the end. Run it with
 * `pnpm --filter @pirouette/example-rabbitmq-orders start`.
 */
import { realpathSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { DeadLetterHeaders, PayloadValidationError, payload, service, type HandlerContext } from "@pirouette/core";
import * as rabbitmq from "@pirouette/rabbitmq";

/** An order event (the seeds' `{ id: "O-1", amount: 99.99 }`, with a customer and a product). */
export const Order = z.object({
  id: z.string().regex(/^O-\d+$/),
  customer: z.string().min(1),
  product: z.string().min(1),
  amount: z.number().positive(),
});
export type Order = z.infer<typeof Order>;

/** The pipeline's output record (seed 003's OrderOutput). */
export interface OrderOutput extends Order {
  readonly priority: "HIGH" | "MEDIUM" | "LOW";
}

/** What {@link main} returns: the figures its report prints. */
export interface Summary {
  readonly published: number;
  readonly processed: readonly string[];
  readonly invalid: number;
  readonly declinedAttempts: number;
  readonly deadLetters: readonly { readonly id: string; readonly code: string; readonly attempts: number }[];
  readonly highValue: readonly OrderOutput[];
  readonly status: Readonly<Record<string, string>>;
  readonly leftover: number;
}

/** Options for {@link main}. */
export interface MainOptions {
  readonly url?: string;
  /** Where report lines go. Default `console.log`. */
  readonly log?: (line: string) => void;
}

/** The product the payment provider always declines. */
const DECLINED = "gift-card";

/** The 12 orders the demo publishes: O-7 is invalid, O-9 is declined. */
export function sampleOrders(): unknown[] {
  const customers = ["ada", "grace", "linus"];
  const products = [
    { product: "tutu", amount: 49.5 },
    { product: "pointe-shoes", amount: 89 },
    { product: "leotard", amount: 135 },
    { product: "stage-curtain", amount: 1250 },
  ];
  return Array.from({ length: 12 }, (_, i) => {
    const p = products[i % products.length] as (typeof products)[number];
    const order: Record<string, unknown> = { id: `O-${i + 1}`, customer: customers[i % customers.length], ...p };
    if (i + 1 === 7) order["amount"] = "12.50"; // invalid: a string
    if (i + 1 === 9) order["product"] = DECLINED;
    return order;
  });
}

/** Seed 003's `CASE WHEN amount > 1000 THEN 'HIGH' WHEN amount > 100 THEN 'MEDIUM' ELSE 'LOW' END`. */
export function priorityOf(amount: number): OrderOutput["priority"] {
  return amount > 1000 ? "HIGH" : amount > 100 ? "MEDIUM" : "LOW";
}

const json = <T>(msg: rabbitmq.Message): T => JSON.parse(Buffer.from(msg.content).toString("utf8")) as T;

/**
 * Run the demo, print the report and resolve with its figures.
 *
 * @example
 * ```ts
 * const summary = await main({ log: () => {} });
 * summary.processed.length; // 10
 * ```
 */
export async function main(options: MainOptions = {}): Promise<Summary> {
  const url = options.url ?? process.env["RABBITMQ_URL"] ?? "amqp://guest:guest@127.0.0.1:5672";
  const log = options.log ?? ((line: string) => console.log(line));
  const run = `orders-demo-${randomUUID().slice(0, 8)}`;
  const names = {
    ordersExchange: `${run}.orders-exchange`,
    processedOrders: `${run}.processed-orders`,
    orders: `${run}.orders`,
    orderInput: `${run}.order-input`,
    highValue: `${run}.high-value`,
    orderStatus: `${run}.order-status`,
  };

  const client = new rabbitmq.Client(url);
  const listener = new rabbitmq.Listener(url, undefined, { prefetchCount: 4 }, {
    retry: { maxAttempts: 3, initialDelayMs: 20, jitter: false }, // 1 try + 2 retries, then <queue>.dlx
    gracefulStopTimeoutMs: 5000,
  });

  try {
    // ── Topology for the pipeline (the listener declares its own queue and bindings) ─────────
    await client.exchangeDeclare(names.ordersExchange, "topic");
    await client.exchangeDeclare(names.processedOrders, "direct");
    await client.queueDeclare(names.orderInput);
    await client.queueBind(names.orderInput, names.ordersExchange, "order.created");
    await client.queueDeclare(names.highValue);
    await client.queueBind(names.highValue, names.processedOrders, "high-value");

    // ── 1. service "orders" on the listener ──────────────────────────────────────────────────
    const processed: string[] = [];
    const status = new Map<string, string>();
    const invalid: rabbitmq.Message[] = [];
    let declinedAttempts = 0;

    @service(listener)
    @rabbitmq.ServiceConfig({
      queueName: names.orders,
      bindings: [{ exchange: names.ordersExchange, exchangeType: "topic", routingKey: "order.*" }],
    })
    class OrderService {
      @payload(Order)
      async onMessage(order: Order, _caller: rabbitmq.Caller, ctx: HandlerContext): Promise<void> {
        await sleep(5); // charge the customer
        if (order.product === DECLINED) {
          declinedAttempts++;
          status.set(order.id, `declined (attempt ${ctx.attempt})`);
          throw new Error(`payment declined for ${order.id}`);
        }
        processed.push(order.id);
        status.set(order.id, "processed");
      }

      onError(message: rabbitmq.Message | undefined, error: Error): void {
        if (error instanceof PayloadValidationError && message !== undefined) invalid.push(message);
      }
    }
    void OrderService; // declared for its decorators

    // ── 3. service "order-status": request/reply ─────────────────────────────────────────────
    await listener.attach(
      { onRequest: (req: { id: string }) => ({ id: req.id, status: status.get(req.id) ?? "unknown" }) },
      { name: names.orderStatus, mode: "payload" },
    );
    await listener.start();

    // ── Publish (seed 000's producer) ────────────────────────────────────────────────────────
    const orders = sampleOrders();
    for (const content of orders) {
      await client.publishMessage({ exchange: names.ordersExchange, routingKey: "order.created", content });
    }

    // ── 2. The pipeline: queue → filter → map → exchange ─────────────────────────────────────
    const sink = new rabbitmq.Client(url, undefined, { sink: { exchange: names.processedOrders, routingKey: "high-value" } });
    await client
      .stream(names.orderInput)
      .take(orders.length)
      .map((msg) => Order.safeParse(json(msg)))
      .filter((r) => r.success && r.data.amount > 50)
      .map((r): OrderOutput => {
        const o = r.data as Order;
        return { ...o, priority: priorityOf(o.amount) };
      })
      .pipeTo(sink); // publishes each (with confirms) and closes the sink client

    const expectedHighValue = orders.filter((o) => Order.safeParse(o).success && (o as Order).amount > 50).length;
    const highValue = (await client.stream(names.highValue).take(expectedHighValue).map((m) => json<OrderOutput>(m)).toArray()).sort(
      (a, b) => Number(a.id.slice(2)) - Number(b.id.slice(2)),
    );

    // Wait until the listener settled every order: 10 processed, 2 dead-lettered.
    const deadLetters = (
      await client
        .stream(`${names.orders}.dlq`)
        .take(2)
        .map((m) => ({
          id: String(json<{ id?: unknown }>(m).id),
          code: String(m.properties.headers?.[DeadLetterHeaders.errorCode] ?? m.properties.headers?.[DeadLetterHeaders.errorName]),
          attempts: Number(m.properties.headers?.[DeadLetterHeaders.attempts]),
        }))
        .toArray()
    ).sort((a, b) => a.id.localeCompare(b.id));
    const deadline = Date.now() + 10_000;
    while (processed.length < orders.length - 2) {
      if (Date.now() > deadline) throw new Error(`only ${processed.length} orders processed after 10 s`);
      await sleep(10);
    }

    // ── Request/reply ────────────────────────────────────────────────────────────────────────
    const replyQueue = await client.queueAutoGenerate();
    const replies = client.stream(replyQueue);
    const asked = ["O-4", "O-9", "O-99"];
    for (const id of asked) {
      await client.publishMessage({ routingKey: names.orderStatus, content: { id }, properties: { replyTo: replyQueue, correlationId: `q-${id}` } });
    }
    const answers = await replies.take(asked.length).toArray();
    const statusById: Record<string, string> = {};
    for (const a of answers) {
      const r = json<{ id: string; status: string }>(a);
      if (a.properties.correlationId === `q-${r.id}`) statusById[r.id] = r.status;
    }

    await listener.gracefulStop();
    const leftover = (await client.queueDeclare(names.orders)).messageCount;

    log("Pirouette — orders on RabbitMQ");
    log("");
    log(`service "orders" (topic ${names.ordersExchange}, binding order.*)`);
    log(`  published        ${orders.length}`);
    log(`  processed        ${processed.length}`);
    log(`  invalid          ${invalid.length}  → onError(msg, PayloadValidationError), then ${names.orders}.dlq`);
    log(`  declined         1 order, ${declinedAttempts} attempts → ${names.orders}.dlq`);
    for (const d of deadLetters) log(`    dead letter ${d.id.padEnd(5)} ${d.code.padEnd(18)} attempts ${d.attempts}`);
    log("");
    log(`pipeline ${names.orderInput} → amount > 50 → priority → ${names.processedOrders} (high-value)`);
    for (const o of highValue) log(`  ${o.id.padEnd(5)} ${o.customer.padEnd(6)} ${o.product.padEnd(14)} ${o.amount.toFixed(2).padStart(8)}  ${o.priority}`);
    log("");
    log("request/reply (order-status)");
    for (const id of asked) log(`  ${id.padEnd(5)} ${statusById[id]}`);
    log("");
    log(`listener ${listener.state}, ${leftover} messages left in ${names.orders}`);

    return {
      published: orders.length,
      processed: [...processed].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))),
      invalid: invalid.length,
      declinedAttempts,
      deadLetters,
      highValue,
      status: statusById,
      leftover,
    };
  } finally {
    await listener.immediateStop();
    for (const q of [names.orders, `${names.orders}.dlq`, names.orderInput, names.highValue, names.orderStatus, `${names.orderStatus}.dlq`]) {
      await client.queueDelete(q).catch(() => undefined);
    }
    for (const e of [names.ordersExchange, names.processedOrders, `${names.orders}.dlx`, `${names.orderStatus}.dlx`]) {
      await client.exchangeDelete(e).catch(() => undefined);
    }
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
