/**
 * Pirouette's hello world, on the in-memory transport (no broker to install):
 *
 * 1. a `@service` class with a zod-validated `@payload` handler on a `memory.Listener`
 *    (4 handlers at once, per-customer ordering, retries, then `<topic>.DLT`);
 * 2. a `memory.Client` publishes 20 orders: 2 are invalid (→ `onError` with a
 *    `PayloadValidationError`) and 1 fails in the handler (→ retried, then dead-lettered);
 * 3. `Stream` operators over topics (`subscribe` → `take` → `map` → `filter`);
 * 4. query expressions (`from … groupBy … orderBy … select`, `collect({ total: sum(…) })`);
 * 5. `gracefulStop`.
 *
 * Run it with `pnpm --filter @pirouette/example-hello start` (or `pnpm demo` at the root).
 */
import { realpathSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import {
  DeadLetterHeaders,
  PayloadValidationError,
  avg,
  count,
  from,
  max,
  memory,
  payload,
  service,
  sum,
  type HandlerContext,
} from "@pirouette/core";

/** An order as it travels on the `orders` topic. Prices are in cents. */
export const Order = z.object({
  id: z.string().regex(/^o-\d{2}$/),
  customer: z.string().min(1),
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
  priceCents: z.number().int().positive(),
});
export type Order = z.infer<typeof Order>;

/** What the service publishes on the `invoices` topic for each order it handled. */
export interface Invoice {
  readonly orderId: string;
  readonly customer: string;
  readonly sku: string;
  readonly totalCents: number;
}

/** A dead-lettered message as the report shows it. */
export interface DeadLetter {
  readonly offset: number;
  readonly orderId: string;
  readonly code: string;
  readonly attempts: number;
  readonly reason: string;
}

/** Revenue of one customer. */
export interface CustomerRevenue {
  readonly customer: string;
  readonly orders: number;
  readonly totalCents: number;
}

/** What {@link main} returns: the figures its report prints. */
export interface Summary {
  readonly published: number;
  readonly handled: number;
  readonly validationErrors: number;
  readonly handlerFailures: number;
  /** Attempts made for the order whose handler always fails. */
  readonly attemptsForFailingOrder: number;
  readonly deadLettered: number;
  readonly maxConcurrentHandlers: number;
  readonly deadLetters: readonly DeadLetter[];
  readonly largeInvoices: readonly string[];
  readonly revenueByCustomer: readonly CustomerRevenue[];
  readonly totals: {
    readonly invoices: number;
    readonly revenueCents: number;
    readonly averageCents: number;
    readonly largestCents: number;
  };
}

/** Options for {@link main}. */
export interface MainOptions {
  /** Where report lines go. Default `console.log`. */
  readonly log?: (line: string) => void;
}

const CUSTOMERS = ["ada", "grace", "linus", "margaret"] as const;
const PRODUCTS = [
  { sku: "tutu", priceCents: 4950 },
  { sku: "pointe-shoes", priceCents: 8900 },
  { sku: "leotard", priceCents: 3500 },
  { sku: "ribbon", priceCents: 425 },
] as const;
/** The one SKU the payment provider always declines: its order is retried, then dead-lettered. */
const DECLINED_SKU = "gift-card";
/** Invoices from this amount on count as large. */
const LARGE_CENTS = 15_000;

/** The 20 orders the demo publishes; #07 and #13 break the schema, #11 is declined. */
export function sampleOrders(): unknown[] {
  const orders: unknown[] = [];
  for (let i = 1; i <= 20; i++) {
    const product = PRODUCTS[(i + Math.floor(i / 4)) % PRODUCTS.length] as (typeof PRODUCTS)[number];
    const order: Record<string, unknown> = {
      id: `o-${String(i).padStart(2, "0")}`,
      customer: CUSTOMERS[(i - 1) % CUSTOMERS.length],
      sku: product.sku,
      quantity: 1 + (i % 3),
      priceCents: product.priceCents,
    };
    if (i === 7) order["quantity"] = 0; // invalid: quantity must be positive
    if (i === 13) order["priceCents"] = "12.50"; // invalid: a string, not a number of cents
    if (i === 11) order["sku"] = DECLINED_SKU; // valid, but the handler fails every time
    orders.push(order);
  }
  return orders;
}

const euros = (cents: number): string => `€${(cents / 100).toFixed(2)}`;

const decode = <T>(message: memory.Message): T => JSON.parse(Buffer.from(message.value).toString("utf8")) as T;

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Run the demo on a fresh in-memory broker, print the report and resolve with its figures.
 *
 * @example
 * ```ts
 * const summary = await main({ log: () => {} });
 * summary.deadLettered; // 3
 * ```
 */
export async function main(options: MainOptions = {}): Promise<Summary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const broker = new memory.Broker();

  // ── 1. The listener and the service ────────────────────────────────────────────────────
  const listener = new memory.Listener({
    broker,
    groupId: "billing",
    concurrency: 4, // up to 4 handlers at once; messages with the same key stay in order
    retry: { maxAttempts: 3, initialDelayMs: 5, multiplier: 2, jitter: false }, // 1 try + 2 retries
    gracefulStopTimeoutMs: 2000,
    // deadLetter: default, `<topic>.DLT` on the same broker
  });

  const handled: string[] = [];
  const failingAttempts: number[] = [];
  const errors: { error: Error; offset: number | undefined }[] = [];
  let active = 0;
  let maxActive = 0;

  // `@service` attaches a new instance to the listener as the class is declared: Ballerina's
  // `service "orders" on listener { … }`.
  @service(listener, "orders")
  class OrderService {
    @payload(Order)
    async onMessage(order: Order, caller: memory.Caller, ctx: HandlerContext): Promise<void> {
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        await sleep(2); // pretend to call a payment provider
        if (order.sku === DECLINED_SKU) {
          failingAttempts.push(ctx.attempt);
          throw new Error(`payment declined for ${order.id}`);
        }
        const invoice: Invoice = {
          orderId: order.id,
          customer: order.customer,
          sku: order.sku,
          totalCents: order.quantity * order.priceCents,
        };
        await caller.publish("invoices", invoice, { key: order.customer });
        handled.push(order.id);
      } finally {
        active--;
      }
    }

    onError(error: Error, caller?: memory.Caller): void {
      errors.push({ error, offset: caller?.message.offset });
    }
  }
  void OrderService; // declared for its decorator

  await listener.start();

  // ── 2. Publish ─────────────────────────────────────────────────────────────────────────
  const client = new memory.Client({ broker });
  const orders = sampleOrders();
  for (const order of orders) {
    await client.publish("orders", order, { key: String((order as { customer: unknown }).customer) });
  }
  // Every order is settled once the group has nothing unacknowledged (dead-lettered ones are acked).
  await waitUntil(() => broker.pending("orders", "billing") === 0, "the orders to be settled");

  const validationErrors = errors.filter((e) => e.error instanceof PayloadValidationError);
  const handlerFailures = errors.filter((e) => !(e.error instanceof PayloadValidationError));
  const deadLettered = broker.messages("orders.DLT").length;

  log("Pirouette hello — orders on the in-memory transport");
  log("");
  log("dispatch");
  log(`  published           ${orders.length}`);
  log(`  handled             ${handled.length}`);
  log(`  validation errors   ${validationErrors.length}  (offsets ${validationErrors.map((e) => e.offset).join(", ")})`);
  log(`  handler failures    ${handlerFailures.length}  (after ${failingAttempts.length} attempts: ${handlerFailures.map((e) => e.error.message).join("; ")})`);
  log(`  dead-lettered       ${deadLettered}  (topic orders.DLT)`);
  log(`  max concurrent      ${maxActive}  (concurrency 4)`);

  // ── 3. Stream operators over topics ────────────────────────────────────────────────────
  // A subscription never ends by itself: take() stops it after the messages that are there.
  const deadLetters = (
    await client
      .subscribe("orders.DLT")
      .take(deadLettered)
      .map((m): DeadLetter => {
        const original = JSON.parse(m.headers[DeadLetterHeaders.coordinates] ?? "{}") as { offset?: number };
        const reason = (m.headers[DeadLetterHeaders.error] ?? "").split("\n").map((l) => l.trim());
        return {
          offset: original.offset ?? -1,
          orderId: String(decode<{ id?: unknown }>(m).id),
          code: m.headers[DeadLetterHeaders.errorCode] ?? m.headers[DeadLetterHeaders.errorName] ?? "?",
          attempts: Number(m.headers[DeadLetterHeaders.attempts]),
          // A validation error lists its issues on the following lines: show the first one.
          reason: reason.length > 1 ? (reason[1] as string) : (reason[0] as string),
        };
      })
      .toArray()
  ).sort((a, b) => a.offset - b.offset);

  log("");
  log("dead letters  (subscribe orders.DLT → take → map)");
  for (const d of deadLetters) {
    log(`  offset ${String(d.offset).padStart(2)}  ${d.orderId}  ${d.code.padEnd(18)}  attempts ${d.attempts}  ${d.reason}`);
  }

  // Each call is a fresh subscription (its own consumer group, from the earliest offset).
  const invoices = () => client.subscribe("invoices").take(handled.length).map((m) => decode<Invoice>(m));

  const largeInvoices = (await invoices()
    .filter((inv) => inv.totalCents >= LARGE_CENTS)
    .map((inv) => `${inv.orderId} ${euros(inv.totalCents)}`)
    .toArray()).sort();
  log("");
  log(`large invoices  (subscribe invoices → take → map → filter ≥ ${euros(LARGE_CENTS)})`);
  log(`  ${largeInvoices.join(", ")}`);

  // ── 4. Query expressions ───────────────────────────────────────────────────────────────
  const revenueByCustomer = await from(invoices)
    .groupBy((inv) => inv.customer)
    .orderBy((g) => g.key)
    .select(
      (g): CustomerRevenue => ({
        customer: g.key,
        orders: g.items.length,
        totalCents: sum((inv: Invoice) => inv.totalCents).of(g.items) ?? 0,
      }),
    )
    .toArray();

  const totals = await from(invoices).collect({
    invoices: count(),
    revenue: sum((inv) => inv.totalCents),
    average: avg((inv) => inv.totalCents),
    largest: max((inv) => inv.totalCents),
  });

  log("");
  log("revenue by customer  (from(invoices).groupBy(customer).orderBy(key).select(…))");
  for (const r of revenueByCustomer) {
    log(`  ${r.customer.padEnd(9)} ${String(r.orders).padStart(2)} orders  ${euros(r.totalCents).padStart(9)}`);
  }
  log("");
  log("totals  (from(invoices).collect({ invoices: count(), revenue: sum(…), average: avg(…), largest: max(…) }))");
  log(
    `  ${totals.invoices} invoices, revenue ${euros(totals.revenue ?? 0)}, average ${euros(Math.round(totals.average ?? 0))}, largest ${euros(totals.largest ?? 0)}`,
  );

  // ── 5. Stop ────────────────────────────────────────────────────────────────────────────
  await listener.gracefulStop();
  await client.close();
  log("");
  log(`listener ${listener.state}`);

  return {
    published: orders.length,
    handled: handled.length,
    validationErrors: validationErrors.length,
    handlerFailures: handlerFailures.length,
    attemptsForFailingOrder: failingAttempts.length,
    deadLettered,
    maxConcurrentHandlers: maxActive,
    deadLetters,
    largeInvoices,
    revenueByCustomer,
    totals: {
      invoices: totals.invoices,
      revenueCents: totals.revenue ?? 0,
      averageCents: Math.round(totals.average ?? 0),
      largestCents: totals.largest ?? 0,
    },
  };
}

// Run when executed directly (`tsx src/main.ts`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
