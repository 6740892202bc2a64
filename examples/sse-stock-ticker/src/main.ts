/**
 * Server-sent stock prices, after the seeds' Ballerina example:
 *
 * ```ballerina
 * service /stocks on new http:Listener(9090) {
 *   resource function get .() returns stream<http:SseEvent, error?> {
 *     return new stream<http:SseEvent, error?>(new StockPriceGenerator());
 *   }
 * }
 * // client
 * stream<http:SseEvent, error?> eventStream = check stocksClient->/stocks;
 * check from http:SseEvent event in eventStream do { io:println("Stock price: ", event.data); };
 * ```
 *
 * 1. an `http.Listener` on a free port with a `@service` class whose `@http.get` resource
 *    returns a `Stream<SseEvent>` of prices (a deterministic random walk), resuming after the
 *    client's `Last-Event-ID`;
 * 2. an `http.Client` reads the feed with `events()` and a query expression;
 * 3. the client stops, then resumes with the last id it saw: no gap, no duplicate;
 * 4. a bad query answers 400; `gracefulStop` ends the open feeds.
 *
 * Run it with `pnpm --filter @pirouette/example-sse-stock-ticker start`.
 */
import { realpathSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { from, service, Stream } from "@pirouette/core";
import * as http from "@pirouette/http";
import { z } from "zod";

/** One price on the wire (the event's `data`, as JSON). */
export interface Price {
  readonly seq: number;
  readonly symbol: string;
  readonly price: number;
}

/** What {@link main} returns. */
export interface Summary {
  readonly port: number;
  /** Prices the first read got (before stopping). */
  readonly firstRead: readonly Price[];
  /** Prices after resuming with Last-Event-ID. */
  readonly resumed: readonly Price[];
  /** The Last-Event-ID the resumed request sent. */
  readonly resumedAfter: string | undefined;
  /** Sequence numbers missing or repeated across the two reads (0 when resuming works). */
  readonly gaps: number;
  readonly duplicates: number;
  /** Average price per symbol over both reads. */
  readonly averages: readonly { readonly symbol: string; readonly average: number; readonly quotes: number }[];
  /** The status a request with a bad `limit` got. */
  readonly badRequestStatus: number;
}

/** Options of {@link main}. */
export interface MainOptions {
  /** Where report lines go. Default `console.log`. */
  readonly log?: (line: string) => void;
  /** Milliseconds between prices. Default 20. */
  readonly intervalMs?: number;
}

const SYMBOLS = ["ACME", "GLOBEX", "INITECH"] as const;

/** The price with sequence number `seq`: a deterministic random walk per symbol (same every run). */
export function priceAt(seq: number): Price {
  const symbol = SYMBOLS[(seq - 1) % SYMBOLS.length] as string;
  let x = 100 + SYMBOLS.indexOf(symbol as (typeof SYMBOLS)[number]) * 50;
  // A small LCG, replayed up to seq: cheap enough for a demo and stable across runs.
  let state = 42 + SYMBOLS.indexOf(symbol as (typeof SYMBOLS)[number]);
  for (let i = 1; i <= seq; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    if ((i - 1) % SYMBOLS.length === (seq - 1) % SYMBOLS.length) x += ((state % 201) - 100) / 100;
  }
  return { seq, symbol, price: Math.round(x * 100) / 100 };
}

/** The feed's query: how many prices to send (the feed ends after them). */
const FeedQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

/**
 * Run the demo on a free port, print the report and resolve with its figures.
 *
 * @example
 * ```ts
 * const summary = await main({ log: () => {} });
 * summary.gaps; // 0
 * ```
 */
export async function main(options: MainOptions = {}): Promise<Summary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const intervalMs = options.intervalMs ?? 20;
  const listener = new http.Listener(0, { host: "127.0.0.1", gracefulStopTimeoutMs: 2000 });

  // ── 1. The service: `service /stocks on listener`, a resource returning a stream ─────────
  @service(listener, "/stocks")
  class StockTicker {
    /** `GET /stocks?limit=N`: N prices after the client's Last-Event-ID, one every intervalMs. */
    @http.get("/", { query: FeedQuery })
    prices(req: http.Request<http.PathParams<"/">, z.infer<typeof FeedQuery>>): Stream<http.SseEvent> {
      const after = Number(req.lastEventId ?? "0");
      const start = Number.isInteger(after) && after >= 0 ? after + 1 : 1;
      const end = start + req.query.limit - 1;
      return Stream.from(async function* (): AsyncGenerator<http.SseEvent> {
        yield { comment: `prices ${start}..${end}`, retry: 500 };
        for (let seq = start; seq <= end; seq++) {
          await sleep(intervalMs);
          yield { id: String(seq), event: "price", data: JSON.stringify(priceAt(seq)) };
        }
      });
    }
  }
  void StockTicker; // declared for its decorator

  await listener.start();
  const base = `http://127.0.0.1:${listener.port}`;
  log(`stock ticker on ${base}/stocks (text/event-stream)`);

  // ── 2. The client: `from event in eventStream do { println(...) }` ───────────────────────
  const client = new http.Client(base);
  const toPrice = (e: http.SseEvent): Price => JSON.parse(e.data ?? "null") as Price;
  const firstRead: Price[] = [];
  let lastEventId: string | undefined;
  log("");
  log("first read (the client stops after 6 prices)");
  await from(client.events("/stocks?limit=50").take(6))
    .where((e) => e.event === "price")
    .do((e) => {
      lastEventId = e.id;
      const p = toPrice(e);
      firstRead.push(p);
      log(`  Stock price: ${p.symbol.padEnd(8)} ${p.price.toFixed(2).padStart(7)}  (id ${e.id ?? "?"})`);
    });

  // ── 3. Resume after the last id seen ─────────────────────────────────────────────────────
  log("");
  log(`resumed with Last-Event-ID ${lastEventId ?? "-"} (the feed ends after 6 more)`);
  const resumed: Price[] = [];
  for await (const e of client.events("/stocks?limit=6", lastEventId === undefined ? {} : { lastEventId })) {
    const p = toPrice(e);
    resumed.push(p);
    log(`  Stock price: ${p.symbol.padEnd(8)} ${p.price.toFixed(2).padStart(7)}  (id ${e.id ?? "?"})`);
  }
  const seqs = [...firstRead, ...resumed].map((p) => p.seq);
  const expected = Array.from({ length: seqs.length }, (_, i) => i + 1);
  const gaps = expected.filter((n) => !seqs.includes(n)).length;
  const duplicates = seqs.length - new Set(seqs).size;

  const averages = await from([...firstRead, ...resumed])
    .groupBy((p) => p.symbol)
    .orderBy((g) => g.key)
    .select((g) => ({
      symbol: g.key,
      quotes: g.items.length,
      average: Math.round((g.items.reduce((s, p) => s + p.price, 0) / g.items.length) * 100) / 100,
    }))
    .toArray();
  log("");
  log("average per symbol  (from(prices).groupBy(symbol).orderBy(key).select(…))");
  for (const a of averages) log(`  ${a.symbol.padEnd(8)} ${a.average.toFixed(2).padStart(7)}  over ${a.quotes} quotes`);
  log(`  gaps ${gaps}, duplicates ${duplicates}`);

  // ── 4. Binding failures answer 400; stopping ends open feeds ─────────────────────────────
  const bad = await client.request("GET", "/stocks?limit=0");
  log("");
  log(`GET /stocks?limit=0 → ${bad.status} ${(bad.body as { error?: { code?: string } }).error?.code ?? ""}`);

  await client.close();
  await listener.gracefulStop();
  log(`listener ${listener.state}`);

  return { port: listener.port, firstRead, resumed, resumedAfter: lastEventId, gaps, duplicates, averages, badRequestStatus: bad.status };
}

// Run when executed directly (`tsx src/main.ts`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
