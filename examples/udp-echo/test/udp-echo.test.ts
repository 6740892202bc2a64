import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { main } from "../src/main.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("udp-echo example", () => {
  test("main() echoes, streams, sums JSON and reports the garbage", async () => {
    const s = await main({ log: () => undefined });
    expect(s.echoed).toBe("hello over udp");
    expect(s.streamed).toEqual(["one", "two", "three"]);
    expect(s.sums).toEqual([6, 42]);
    expect(s.errors).toEqual(["PAYLOAD_BINDING"]);
    expect(s.state).toBe("stopped");
  });

  test("`tsx src/main.ts` (the start script) runs and exits by itself", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('client: got "hello over udp"');
  });
});
