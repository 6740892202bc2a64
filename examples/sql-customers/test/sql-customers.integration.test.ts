import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { main } from "../src/main.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("sql-customers example", () => {
  test("main() welcomes every customer, sums paid orders and looks one up", async () => {
    const lines: string[] = [];
    const s = await main({ log: (l) => lines.push(l) });
    expect(s).toEqual({
      welcomed: ["ada@example.com", "alan@example.com", "grace@example.com"],
      paidRevenueCents: 5250,
      lookedUp: "Grace Hopper",
    });
    expect(lines).toContain("paid revenue: 52.50");
  });

  test("`tsx src/main.ts` (the start script) runs and exits by itself", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("welcome e-mail sent to Ada Lovelace <ada@example.com>");
    expect(r.stdout).toContain("looked up: Grace Hopper");
  });
});
