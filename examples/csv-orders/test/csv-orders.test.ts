import { fileReadCsvAsStream } from "@pirouette/io";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { BROKEN_EVERY, generateOrders, highValueOrders, main, Order, orderAt, priorityOf } from "../src/main.ts";

const dir = mkdtempSync(join(tmpdir(), "csv-orders-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The pipeline's expected figures, computed directly from the generator. */
function expected(rows: number): { written: number; byPriority: Record<string, { count: number; amount: number }>; rejectedLines: number[] } {
  const byPriority: Record<string, { count: number; amount: number }> = {
    HIGH: { count: 0, amount: 0 },
    MEDIUM: { count: 0, amount: 0 },
    LOW: { count: 0, amount: 0 },
  };
  const rejectedLines: number[] = [];
  let written = 0;
  for (let i = 0; i < rows; i++) {
    const o = orderAt(i);
    if (typeof o["amount"] !== "number") {
      rejectedLines.push(i + 2); // line 1 is the header
      continue;
    }
    if (o["amount"] <= 50) continue;
    const t = byPriority[priorityOf(o["amount"])] as { count: number; amount: number };
    t.count++;
    t.amount += o["amount"];
    written++;
  }
  for (const t of Object.values(byPriority)) t.amount = Math.round(t.amount * 100) / 100;
  return { written, byPriority, rejectedLines };
}

describe("csv-orders example", () => {
  test("streams the generated orders through seed 003's query into the output file", async () => {
    const rows = 2 * BROKEN_EVERY + 500; // two broken rows
    const input = join(dir, "orders.csv");
    const output = join(dir, "out.csv");
    await generateOrders(input, rows);
    expect(readFileSync(input, "utf8").slice(0, 60)).toMatch(/^order_id,customer_id,amount,product\nO-1,C-0,/);

    const summary = await highValueOrders(input, output);
    const want = expected(rows);
    expect(summary.written).toBe(want.written);
    expect(summary.byPriority).toEqual(want.byPriority);
    expect(summary.rejected).toEqual(want.rejectedLines.map((line) => ({ line, code: "IO_CSV_VALIDATION" })));
    expect(want.rejectedLines).toEqual([BROKEN_EVERY + 1, 2 * BROKEN_EVERY + 1]);

    // the output is a CSV with a header and the priority column, readable back through the schema
    const back = fileReadCsvAsStream(output, Order.extend({ priority: Order.shape.product }));
    let count = 0;
    for await (const o of back) {
      expect(o.amount).toBeGreaterThan(50);
      expect(o.priority).toBe(priorityOf(o.amount));
      count++;
    }
    expect(count).toBe(want.written);
    expect(readFileSync(output, "utf8").split("\n", 1)[0]).toBe("order_id,customer_id,amount,product,priority");
  });

  test("main() prints the report and cleans up", async () => {
    const lines: string[] = [];
    const summary = await main({ rows: 5_000, log: (line) => lines.push(line) });
    expect(summary.written).toBe(expected(5_000).written);
    expect(lines[0]).toMatch(/high-value orders/);
    expect(lines.some((l) => /^ {2}HIGH +\d+ orders/.test(l))).toBe(true);
    expect(lines.at(-2)).toBe("\nrejected (fail-safe) 0 rows");
    expect(await main({ rows: BROKEN_EVERY * 6, log: (line) => lines.push(line) }).then((s) => s.rejected.length)).toBe(6);
    expect(lines.at(-2)).toBe(`\nrejected (fail-safe) 6 rows, lines ${[1, 2, 3, 4, 5].map((k) => k * BROKEN_EVERY + 1).join(", ")}, …`);
    expect(lines.at(-1)).toMatch(/^peak RSS \d+\.\d MiB$/);
  });
});
