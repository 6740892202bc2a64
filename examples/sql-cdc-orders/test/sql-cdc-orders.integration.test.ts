import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { main } from "../src/main.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const expected = ["created #1 espresso machine", "order #1: new -> shipped", "deleted #1"];

describe("sql-cdc-orders example", () => {
  test("main() sees the insert, update and delete in order", async () => {
    expect(await main({ log: () => undefined })).toEqual(expected);
  });

  test("`tsx src/main.ts` (the start script) runs and exits by itself", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(expected);
  });
});
