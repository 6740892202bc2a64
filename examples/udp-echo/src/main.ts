/**
 * Ballerina's UDP echo on `@pirouette/udp`:
 *
 * 1. a `udp.Listener` whose service's `onDatagram(datagram, caller)` return value is sent
 *    back to the sender (the echo), with the sender's address in the datagram;
 * 2. a `udp.Client` (unconnected): `sendDatagram` / `receiveDatagram`;
 * 3. a `udp.ConnectClient` (one peer): `writeBytes`, then the replies as a `stream()`;
 * 4. a JSON listener (`codec: json()`): a datagram that is not JSON goes to `onError` as a
 *    `PayloadBindingError`, the listener keeps serving;
 * 5. `gracefulStop`.
 *
 * Run it with `pnpm --filter @pirouette/example-udp-echo start`. It exits by itself.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { json, PirouetteError } from "@pirouette/core";
import * as udp from "@pirouette/udp";

/** What the run did, for the test. */
export interface Summary {
  readonly echoed: string;
  readonly streamed: readonly string[];
  readonly sums: readonly number[];
  readonly errors: readonly string[];
  readonly state: string;
}

export interface MainOptions {
  readonly log?: (line: string) => void;
}

interface Numbers {
  readonly numbers: readonly number[];
}

export async function main(options: MainOptions = {}): Promise<Summary> {
  const log = options.log ?? ((line: string) => console.log(line));

  // ── 1. The echo listener ──────────────────────────────────────────────────────────────
  const echo = new udp.Listener(0, { localHost: "127.0.0.1" });
  await echo.attach({
    onDatagram(d) {
      log(`echo: ${d.data.length} bytes from ${d.remoteHost}:${d.remotePort}`);
      return d.data; // sent back to the sender
    },
  });
  await echo.start();
  log(`echo: listening on ${echo.host}:${echo.port}`);

  // ── 2. An unconnected client ──────────────────────────────────────────────────────────
  const client = new udp.Client({ localHost: "127.0.0.1", timeoutMs: 5_000 });
  await client.sendDatagram({ remoteHost: "127.0.0.1", remotePort: echo.port, data: "hello over udp" });
  const reply = await client.receiveDatagram();
  log(`client: got "${reply.data.toString()}" from ${reply.remoteHost}:${reply.remotePort}`);
  await client.close();

  // ── 3. A connected client and a stream of replies ─────────────────────────────────────
  const connected = new udp.ConnectClient("127.0.0.1", echo.port, { timeoutMs: 5_000 });
  const replies = connected
    .stream()
    .map((b) => b.toString())
    .take(3)
    .toArray();
  for (const word of ["one", "two", "three"]) await connected.writeBytes(word);
  const streamed = await replies; // take(3) closes the client
  log(`connect client: streamed ${streamed.join(", ")}`);

  // ── 4. JSON datagrams, and one that is not JSON ───────────────────────────────────────
  const errors: string[] = [];
  const sums = new udp.Listener<Numbers>(0, { localHost: "127.0.0.1", codec: json() });
  await sums.attach({
    onBytes: (msg) => ({ sum: msg.numbers.reduce((a, b) => a + b, 0) }), // encoded with the codec
    onError(error, caller) {
      errors.push(PirouetteError.is(error) ? error.code : error.name);
      log(`sums: ${error.name} from ${caller?.remoteHost ?? "?"}:${caller?.remotePort ?? "?"}: ${error.message}`);
    },
  });
  await sums.start();
  const asker = new udp.ConnectClient("127.0.0.1", sums.port, { timeoutMs: 5_000 });
  const results: number[] = [];
  for (const payload of ['{"numbers":[1,2,3]}', "not json", '{"numbers":[40,2]}']) {
    await asker.writeBytes(payload);
    if (payload !== "not json") results.push((JSON.parse((await asker.readBytes()).toString()) as { sum: number }).sum);
  }
  log(`sums: ${results.join(", ")}`);
  await asker.close();

  // ── 5. Stop ───────────────────────────────────────────────────────────────────────────
  await echo.gracefulStop();
  await sums.gracefulStop();
  log(`listeners: ${echo.state}`);
  return { echoed: reply.data.toString(), streamed, sums: results, errors, state: echo.state };
}

// Run when executed directly (`tsx src/main.ts`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
