import { describe, expect, test } from "vitest";
import { main, priorityOf, sampleOrders } from "../src/main.ts";

describe("rabbitmq-orders example (real broker)", () => {
  test("main() processes, dead-letters, pipes and answers as the report says", async () => {
    const lines: string[] = [];
    const s = await main({ log: (line) => lines.push(line) });

    expect(sampleOrders()).toHaveLength(12);
    expect(s.published).toBe(12);
    expect(s.processed).toEqual(["O-1", "O-2", "O-3", "O-4", "O-5", "O-6", "O-8", "O-10", "O-11", "O-12"]);
    expect(s.invalid).toBe(1);
    expect(s.declinedAttempts).toBe(3); // 1 try + 2 retries
    expect(s.deadLetters).toEqual([
      { id: "O-7", code: "PAYLOAD_VALIDATION", attempts: 1 },
      { id: "O-9", code: "Error", attempts: 3 },
    ]);
    // amount > 50 and valid: the pipeline's output, with seed 003's priorities.
    expect(s.highValue.map((o) => [o.id, o.priority])).toEqual([
      ["O-2", "LOW"],
      ["O-3", "MEDIUM"],
      ["O-4", "HIGH"],
      ["O-6", "LOW"],
      ["O-8", "HIGH"],
      ["O-10", "LOW"],
      ["O-11", "MEDIUM"],
      ["O-12", "HIGH"],
    ]);
    expect(s.status).toEqual({ "O-4": "processed", "O-9": "declined (attempt 3)", "O-99": "unknown" });
    expect(s.leftover).toBe(0);
    expect(lines.at(-1)).toMatch(/^listener stopped, 0 messages left/);
  }, 60_000);

  test("priorities follow seed 003's CASE", () => {
    expect([priorityOf(50.01), priorityOf(100), priorityOf(100.5), priorityOf(1000), priorityOf(1000.01)]).toEqual([
      "LOW",
      "LOW",
      "MEDIUM",
      "MEDIUM",
      "HIGH",
    ]);
  });
});
