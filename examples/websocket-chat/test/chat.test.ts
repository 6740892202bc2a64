import { describe, expect, test } from "vitest";
import { main } from "../src/main.ts";

describe("websocket-chat example", () => {
  test("main() runs the room: joins, routed says, a rejected say, the echo, a refused upgrade, leaving and stopping", async () => {
    const lines: string[] = [];
    const summary = await main({ log: (line) => lines.push(line) });
    expect(summary.transcript).toEqual([
      "→ ada joined (members: ada)",
      "→ grace joined (members: ada, grace)",
      "→ linus joined (members: ada, grace, linus)",
      "ada: hello, room",
      "grace: hi ada",
      "! rejected: text: Too small: expected string to have >=1 characters",
      "← grace left",
      "← linus left",
    ]);
    expect(summary.echo).toBe("echo: ping");
    expect(summary.refusedStatus).toBe(401);
    expect(summary.shutdownCloseCode).toBe(1001);
    expect(lines.at(-1)).toBe("listener stopped; ada's connection closed with 1001");
  });
});
