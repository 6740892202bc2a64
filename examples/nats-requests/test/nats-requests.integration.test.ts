import { describe, expect, test } from "vitest";
import { main } from "../src/main.ts";

describe("nats-requests example (real NATS server)", () => {
  test("main() answers, shares, reports errors, bills, redelivers and dead-letters as the report says", async () => {
    const lines: string[] = [];
    const s = await main({ log: (line) => lines.push(line) });

    expect(s.quotes).toHaveLength(12);
    expect(s.quotes.slice(0, 3)).toEqual([
      { sku: "tutu", cents: 4950 },
      { sku: "pointe-shoes", cents: 17_800 },
      { sku: "leotard", cents: 13_500 },
    ]);
    // Queue-group load sharing: every request answered exactly once, by one of the replicas.
    expect(Object.values(s.answeredBy).reduce((a, b) => a + b, 0)).toBe(12);
    expect(s.unknownSku).toMatch(/^NATS_SERVICE_ERROR: unknown sku gift-card$/);
    expect(s.nobodyServes).toBe("NATS_NO_RESPONDERS");
    expect(s.duplicate).toBe(true);
    expect(s.billed).toEqual(["O-1 via shop", "O-2 via shop", "O-3 via shop", "O-4 via shop"]);
    expect(s.deliveries).toEqual({ "O-1": 1, "O-2": 1, "O-3": 2, "O-4": 1, "O-5": 3 });
    expect(s.deadLetters).toEqual([{ id: "O-5", error: "gift cards cannot be billed", attempts: "3" }]);
    expect(lines.at(-1)).toMatch(/^dead letters: O-5 after 3 deliveries/);
  });
});
