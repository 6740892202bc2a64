import { describe, expect, test } from "vitest";
import { main, sampleOrders } from "../src/main.ts";

describe("hello example", () => {
  test("main() handles, rejects and dead-letters the sample orders", async () => {
    const lines: string[] = [];
    const summary = await main({ log: (line) => lines.push(line) });

    expect(sampleOrders()).toHaveLength(20);
    expect(summary.published).toBe(20);
    expect(summary.handled).toBe(17);
    expect(summary.validationErrors).toBe(2);
    expect(summary.handlerFailures).toBe(1);
    expect(summary.attemptsForFailingOrder).toBe(3); // 1 try + 2 retries
    expect(summary.deadLettered).toBe(3); // the 2 invalid orders and the declined one
    expect(summary.maxConcurrentHandlers).toBeGreaterThan(1);
    expect(summary.maxConcurrentHandlers).toBeLessThanOrEqual(4);

    expect(summary.deadLetters.map((d) => [d.offset, d.orderId, d.code, d.attempts])).toEqual([
      [6, "o-07", "PAYLOAD_VALIDATION", 1],
      [10, "o-11", "Error", 3],
      [12, "o-13", "PAYLOAD_VALIDATION", 1],
    ]);

    // Queries agree with each other and with the dispatch figures.
    expect(summary.totals.invoices).toBe(summary.handled);
    expect(summary.revenueByCustomer.map((r) => r.customer)).toEqual(["ada", "grace", "linus", "margaret"]);
    expect(summary.revenueByCustomer.reduce((n, r) => n + r.orders, 0)).toBe(summary.handled);
    expect(summary.revenueByCustomer.reduce((n, r) => n + r.totalCents, 0)).toBe(summary.totals.revenueCents);
    expect(summary.totals.revenueCents).toBe(176_550);
    expect(summary.totals.largestCents).toBe(26_700);
    expect(summary.largeInvoices).toHaveLength(5);

    expect(lines).toContain("listener stopped");
  });

  test("main() is repeatable: each run uses its own broker", async () => {
    const a = await main({ log: () => undefined });
    const b = await main({ log: () => undefined });
    expect(b).toEqual(a);
  });
});
