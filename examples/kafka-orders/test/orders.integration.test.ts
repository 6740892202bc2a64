import { describe, expect, test } from "vitest";
import { main, sampleOrders } from "../src/main.ts";

describe("kafka-orders example", () => {
  test("main() invoices the good orders, dead-letters the bad ones and reads both back", async () => {
    const lines: string[] = [];
    const summary = await main({ log: (line) => lines.push(line) });

    expect(sampleOrders()).toHaveLength(24);
    expect(summary.published).toBe(25);
    expect(summary.invoiced).toBe(22);
    expect(summary.bindingErrors).toBe(1);
    expect(summary.validationErrors).toBe(1);
    expect(summary.declined).toBe(1);
    expect(summary.attemptsForDeclined).toBe(3); // 1 try + 2 retries, after the batch failed
    expect(summary.deadLetters.map((d) => [d.orderId, d.code, d.attempts])).toEqual([
      ["O-7", "PAYLOAD_BINDING", 1],
      ["O-13", "PAYLOAD_VALIDATION", 1],
      ["O-19", "PaymentDeclined", 3],
    ]);
    // Every invoice was written in a committed transaction, exactly once.
    expect(summary.invoicesRead).toBe(22);
    expect(summary.revenueCents).toBe(531_738);
    expect(lines).toContain("listener stopped");
  }, 60_000);
});
