import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { main } from "../src/main.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("tcp-echo example", () => {
  test("main() echoes, streams, refuses an oversize line and stops", async () => {
    const lines: string[] = [];
    const s = await main({ log: (l) => lines.push(l) });
    expect(s.echoed).toEqual(["hello", "ballerina", "pirouette"]);
    expect(s.other).toBe("from another client");
    expect(s.streamed).toEqual(["one", "two", "three", "see you"]);
    expect(s.connections).toBe(3);
    expect(s.closed).toBe(3);
    expect(s.errors).toEqual(["TCP_FRAME_TOO_LARGE"]);
    expect(s.state).toBe("stopped");
    expect(lines.some((l) => l.startsWith("server: listening on 127.0.0.1:"))).toBe(true);
  });

  test("`tsx src/main.ts` (the start script) runs and exits by itself", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("client: echoed hello, ballerina, pirouette");
    expect(r.stdout).toContain("server: stopped");
  });
});
