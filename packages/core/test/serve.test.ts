// serve() in a child process: SIGTERM → gracefulStop (in-flight handlers finish, hooks run,
// exit 0); a second SIGTERM → immediateStop (exit 1); the stop timeout; a failing hook; a
// listener that fails to start. The child is packages/core/test/fixtures/serve-child.ts.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import * as memory from "../src/memory/index.ts";
import { serve } from "../src/service/serve.ts";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const fixture = fileURLToPath(new URL("./fixtures/serve-child.ts", import.meta.url));

interface Child {
  readonly proc: ChildProcess;
  readonly lines: string[];
  /** Resolves once a line matching `pattern` was printed. */
  line(pattern: RegExp): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function start(mode: string): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", fixture, mode], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  children.push(proc);
  const lines: string[] = [];
  let waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  let buffer = "";
  let err = "";
  proc.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      lines.push(line);
      waiters = waiters.filter((w) => (w.pattern.test(line) ? (w.resolve(line), false) : true));
    }
  });
  proc.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const line = (pattern: RegExp): Promise<string> => {
    const seen = lines.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiters.push({ pattern, resolve });
      void exited.then(() =>
        reject(new Error(`child exited before printing ${String(pattern)}; stdout:\n${lines.join("\n")}\nstderr:\n${err}`)),
      );
    });
  };
  return { proc, lines, line, exited, stderr: () => err };
}

describe("serve() in a child process", { timeout: 60_000 }, () => {
  test("SIGTERM: the in-flight handler finishes and is acked, then the hook runs; exit 0", async () => {
    const child = start("graceful");
    await child.line(/^ready$/);
    child.proc.kill("SIGTERM");
    const { code } = await child.exited;
    expect(child.stderr()).toBe("");
    expect(child.lines).toEqual([
      "handler started",
      "ready",
      "got SIGTERM 1",
      "handler finished",
      "hook ran; pending=0; state=stopped",
    ]);
    expect(code).toBe(0);
  });

  test("a second SIGTERM stops immediately: the handler is aborted, its message unacked; exit 1", async () => {
    const child = start("double");
    await child.line(/^ready$/);
    child.proc.kill("SIGTERM");
    await child.line(/^got SIGTERM 1$/); // serve has begun the graceful stop
    child.proc.kill("SIGTERM");
    const { code } = await child.exited;
    expect(child.lines).toContain("handler aborted: CLOSED");
    expect(child.lines).not.toContain("handler finished");
    expect(child.lines.at(-1)).toBe("hook ran; pending=1; state=stopped");
    expect(code).toBe(1);
  });

  test("a graceful stop that outlasts gracefulStopTimeoutMs becomes an immediate stop; exit 1", async () => {
    const child = start("timeout");
    await child.line(/^ready$/);
    const t0 = performance.now();
    child.proc.kill("SIGTERM");
    const { code } = await child.exited;
    expect(performance.now() - t0).toBeLessThan(15_000); // the handler alone would take 20 s
    expect(child.lines).not.toContain("handler finished");
    expect(child.lines.at(-1)).toBe("hook ran; pending=1; state=stopped");
    expect(code).toBe(1);
  });

  test("a failing onGracefulStop hook makes the exit code 1", async () => {
    const child = start("hook-fails");
    await child.line(/^ready$/);
    child.proc.kill("SIGTERM");
    const { code } = await child.exited;
    expect(child.lines).toContain("handler finished");
    expect(child.lines.at(-1)).toBe("hook ran; pending=0; state=stopped");
    expect(code).toBe(1);
  });

  test("a listener that fails to start: serve rejects, the started ones are stopped, exit 1", async () => {
    const child = start("start-fails");
    const { code } = await child.exited;
    expect(child.lines).toEqual(["serve rejected: port in use; first listener stopped"]);
    expect(code).toBe(1);
  });
});

describe("serve() in process", () => {
  test("stop() stops every listener gracefully, runs the hooks in order and resolves 0 without exiting", async () => {
    const exitCode = process.exitCode;
    try {
      const broker = new memory.Broker();
      const client = new memory.Client({ broker });
      const a = new memory.Listener({ broker, groupId: "a" });
      const b = new memory.Listener({ broker, groupId: "b" });
      let handled = 0;
      await a.attach({ onMessage: () => new Promise<void>((r) => setTimeout(() => (handled++, r()), 50)) }, "t");
      await b.attach({ onMessage: () => void handled++ }, "t");
      const order: string[] = [];
      const served = await serve(a, b, {
        exit: false,
        signals: [],
        onGracefulStop: [() => order.push(`first: ${a.state}/${b.state}`), async () => void order.push("second")],
      });
      expect([a.state, b.state]).toEqual(["started", "started"]);
      await client.publish("t", 1);
      const stopping = served.stop();
      expect(served.stop()).toBe(stopping);
      expect(await stopping).toBe(0);
      expect(await served.stopped).toBe(0);
      expect(handled).toBe(2);
      expect(order).toEqual(["first: stopped/stopped", "second"]);
      expect(broker.pending("t", "a")).toBe(0);
    } finally {
      process.exitCode = exitCode;
    }
  });
});
