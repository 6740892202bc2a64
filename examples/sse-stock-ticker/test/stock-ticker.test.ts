import { describe, expect, test } from "vitest";
import { main, priceAt } from "../src/main.ts";

describe("sse-stock-ticker example", () => {
  test("main() streams prices, resumes after Last-Event-ID without gaps, and stops", async () => {
    const lines: string[] = [];
    const summary = await main({ log: (line) => lines.push(line), intervalMs: 5 });
    expect(summary.firstRead.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(summary.resumedAfter).toBe("6");
    expect(summary.resumed.map((p) => p.seq)).toEqual([7, 8, 9, 10, 11, 12]);
    expect([summary.gaps, summary.duplicates]).toEqual([0, 0]);
    expect(summary.firstRead[0]).toEqual(priceAt(1));
    expect(summary.averages.map((a) => [a.symbol, a.quotes])).toEqual([
      ["ACME", 4],
      ["GLOBEX", 4],
      ["INITECH", 4],
    ]);
    expect(summary.badRequestStatus).toBe(400);
    expect(lines).toContain("listener stopped");
    expect(lines.filter((l) => l.includes("Stock price:"))).toHaveLength(12);
  });

  test("prices are deterministic", () => {
    expect([priceAt(1), priceAt(2), priceAt(4)]).toEqual([
      { seq: 1, symbol: "ACME", price: 99.54 },
      { seq: 2, symbol: "GLOBEX", price: 150.35 },
      { seq: 4, symbol: "ACME", price: 100.35 },
    ]);
  });
});
