import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { main } from "../src/main.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("grpc-hello example", () => {
  test("main() makes the four kinds of call and stops", async () => {
    const lines: string[] = [];
    const s = await main({ log: (l) => lines.push(l) });
    expect(s.unary).toBe("Hello Ballerina");
    expect(s.french).toBe("Bonjour Pirouette");
    expect(s.replies).toEqual(["Hi Ann", "Hey Ann", "GM Ann"]);
    expect(s.greetings).toBe("Hello a, b, c");
    expect(s.bidi).toEqual(["Hi x", "Hi y"]);
    expect(s.error).toBe("INVALID_ARGUMENT: name is required");
    expect(s.state).toBe("stopped");
    expect(lines.some((l) => l.startsWith("server: listening on 127.0.0.1:"))).toBe(true);
  });

  test("`tsx src/main.ts` (the start script) runs and exits by itself", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("client: lotsOfReplies → Hi Ann | Hey Ann | GM Ann");
    expect(r.stdout).toContain("server: stopped");
  });
});
