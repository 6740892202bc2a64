/**
 * Ballerina's TCP echo (seed 002) on `@pirouette/tcp`:
 *
 * 1. a `tcp.Listener` whose service's `onConnect(caller)` returns a connection service with
 *    `onBytes` (the returned bytes are written back: the echo), `onError` and `onClose`; the
 *    caller carries the connection's metadata (remote host and port, id);
 * 2. a `tcp.Client` that writes bytes and reads them back (`writeBytes`/`readBytes`), then
 *    streams a few lines (`writeMany` + `stream()`), and says "bye" (the server closes);
 * 3. a second client at the same time, to show connections are independent;
 * 4. a line over `maxFrameSize`: `FrameTooLarge` to `onError`, that connection closed;
 * 5. `gracefulStop`.
 *
 * Run it with `pnpm --filter @pirouette/example-tcp-echo start`. It exits by itself.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import * as tcp from "@pirouette/tcp";

/** What the run did, for the test. */
export interface Summary {
  readonly port: number;
  readonly echoed: readonly string[];
  readonly streamed: readonly string[];
  readonly other: string;
  readonly connections: number;
  readonly closed: number;
  readonly errors: readonly string[];
  readonly state: string;
}

export interface MainOptions {
  readonly log?: (line: string) => void;
}

export async function main(options: MainOptions = {}): Promise<Summary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const events = { connections: 0, closed: 0, errors: [] as string[] };

  // ── 1. The echo listener ──────────────────────────────────────────────────────────────
  const listener = new tcp.Listener(0, { localHost: "127.0.0.1", framing: "line", maxFrameSize: 1024, idleTimeoutMs: 10_000 });
  await listener.attach({
    onConnect(caller) {
      events.connections++;
      log(`server: connection ${caller.id.slice(0, 8)} from ${caller.remoteHost}:${caller.remotePort}`);
      return {
        onBytes(line: Buffer, c: tcp.Caller) {
          const text = line.toString();
          if (text === "bye") {
            void c.close();
            return "see you";
          }
          return line; // the echo: what onBytes returns is written back (with its "\n")
        },
        onError(error: Error, c: tcp.Caller) {
          const code = tcp.TcpError.is(error) ? error.code : error.name;
          events.errors.push(code);
          log(`server: error on ${c.id.slice(0, 8)}: ${code}`);
        },
        onClose(c: tcp.Caller) {
          events.closed++;
          log(`server: connection ${c.id.slice(0, 8)} closed after ${c.bytesRead} bytes in, ${c.bytesWritten} out`);
        },
      };
    },
  });
  await listener.start();
  log(`server: listening on ${listener.host}:${listener.port}`);

  // ── 2. A client: write, read, stream ──────────────────────────────────────────────────
  const client = new tcp.Client("127.0.0.1", listener.port, { framing: "line", timeoutMs: 5_000 });
  const echoed: string[] = [];
  for (const word of ["hello", "ballerina", "pirouette"]) {
    await client.writeBytes(word);
    echoed.push((await client.readBytes()).toString());
  }
  log(`client: echoed ${echoed.join(", ")}`);

  // ── 3. A second connection at the same time ───────────────────────────────────────────
  const other = new tcp.Client("127.0.0.1", listener.port, { framing: "line", timeoutMs: 5_000 });
  await other.writeBytes("from another client");
  const otherReply = (await other.readBytes()).toString();
  log(`other client: ${otherReply}`);
  await other.close();

  // Three lines in one write, then "bye": the server answers "see you" and closes.
  const lines = client.stream().map((b) => b.toString());
  await client.writeMany(["one", "two", "three", "bye"]);
  const streamed = await lines.toArray(); // ends when the server closes the connection
  log(`client: streamed ${streamed.join(", ")}`);

  // ── 4. A line longer than maxFrameSize ────────────────────────────────────────────────
  const greedy = new tcp.Client("127.0.0.1", listener.port, { timeoutMs: 5_000 });
  await greedy.writeBytes("x".repeat(2048) + "\n");
  const afterOversize = await greedy.readBytes().then(
    () => "data",
    (e: unknown) => (tcp.TcpError.is(e) ? e.code : "error"),
  );
  log(`greedy client: ${afterOversize} (the server closed the connection)`);
  await greedy.close();

  // ── 5. Stop ───────────────────────────────────────────────────────────────────────────
  await listener.gracefulStop();
  log(`server: ${listener.state}`);

  return {
    port: listener.port,
    echoed,
    streamed,
    other: otherReply,
    connections: events.connections,
    closed: events.closed,
    errors: events.errors,
    state: listener.state,
  };
}

// Run when executed directly (`tsx src/main.ts`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
