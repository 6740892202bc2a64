import { describe, expect, test } from "vitest";
import { HIGH_VALUE, main } from "../src/main.ts";

describe("sftp-ingest example (real OpenSSH sshd)", () => {
  test("main() ingests the good files once, rejects the broken one, and totals per customer", async () => {
    const lines: string[] = [];
    const s = await main({ log: (line) => lines.push(line), pollingIntervalMs: 100 });

    expect(s.processed).toEqual(["orders-001.csv", "orders-002.csv"]);
    expect(s.failed).toEqual(["orders-003.csv"]);
    expect(s.orders).toBe(3 + 20_000);
    expect(s.errors).toEqual([{ file: "orders-003.csv", code: "PAYLOAD_VALIDATION", line: 3 }]);
    // 20 rows of the big file are 1500 (every 1000th), plus o-2 in the small one.
    expect(s.highValue).toHaveLength(21);
    expect(s.highValue.every((h) => Number(h.split(", ")[1]?.replace(")", "")) >= HIGH_VALUE)).toBe(true);
    expect(s.perCustomer).toEqual([
      { customer: "globex", orders: 6668, total: 79600 },
      { customer: "acme", orders: 6669, total: 77300.5 },
      { customer: "initech", orders: 6666, total: 75600 }, // nothing from the broken file
    ]);
    expect(lines.some((l) => l.startsWith("rejected orders-003.csv: PAYLOAD_VALIDATION at line 3"))).toBe(true);
  });
});
