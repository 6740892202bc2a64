/**
 * High-value orders over a large CSV file, after the seeds' EventFlux pipeline (seed 003):
 *
 *   INSERT INTO OrderOutput
 *   SELECT order_id, customer_id, amount, product,
 *          CASE WHEN amount > 1000 THEN 'HIGH' WHEN amount > 100 THEN 'MEDIUM' ELSE 'LOW' END AS priority
 *   FROM OrderInput WHERE amount > 50;
 *
 * Here `OrderInput` is a CSV file of a million orders (generated first, streamed to disk) and
 * `OrderOutput` another CSV file. The query is a core query expression over
 * `fileReadCsvAsStream`: records are parsed, validated (zod) and written one chunk at a time, so
 * memory stays flat whatever the file size. Rows that fail validation are skipped and reported
 * with their line number (`failSafe`).
 *
 * Run it with `pnpm --filter @pirouette/example-csv-orders start [rows]`.
 */
import { mkdtempSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { from, Stream } from "@pirouette/core";
import { fileReadCsvAsStream, fileWriteCsvFromStream, type IoError } from "@pirouette/io";

/** An order row (seed 003's OrderInput). CSV fields are text: zod converts the amount. */
export const Order = z.object({
  order_id: z.string().regex(/^O-\d+$/),
  customer_id: z.string().min(1),
  amount: z.coerce.number().positive(),
  product: z.string().min(1),
});
export type Order = z.infer<typeof Order>;

/** The pipeline's output row (seed 003's OrderOutput). */
export interface OrderOutput extends Order {
  readonly priority: Priority;
}

export type Priority = "HIGH" | "MEDIUM" | "LOW";

/** Seed 003's `CASE WHEN amount > 1000 THEN 'HIGH' WHEN amount > 100 THEN 'MEDIUM' ELSE 'LOW' END`. */
export function priorityOf(amount: number): Priority {
  if (amount > 1000) return "HIGH";
  if (amount > 100) return "MEDIUM";
  return "LOW";
}

/** Every this many orders, one has a broken amount (to show fail-safe reporting). */
export const BROKEN_EVERY = 10_000;

const PRODUCTS = ["tutu", "pointe-shoes", "leotard", "stage-curtain", 'rosin "extra grip"', "tights, pack of 3"];

/**
 * Order number `i` (0-based), deterministic: amounts spread from 1 to 2000; order `i` with
 * `(i + 1) % BROKEN_EVERY === 0` has the amount "n/a".
 */
export function orderAt(i: number): Record<string, string | number> {
  const x = (Math.imul(i + 1, 2_654_435_761) >>> 0) / 2 ** 32; // a cheap, well-spread hash
  const amount = Math.round((1 + x * 1999) * 100) / 100;
  return {
    order_id: `O-${i + 1}`,
    customer_id: `C-${(i * 7919) % 5003}`,
    amount: (i + 1) % BROKEN_EVERY === 0 ? "n/a" : amount,
    product: PRODUCTS[i % PRODUCTS.length] as string,
  };
}

/** Write `rows` orders to `path` as CSV (header + one line per order), streamed. */
export async function generateOrders(path: string, rows: number): Promise<void> {
  await fileWriteCsvFromStream(
    path,
    Stream.from(function* () {
      for (let i = 0; i < rows; i++) yield orderAt(i);
    }),
  );
}

/** Per-priority figures of the output. */
export interface PriorityTotals {
  count: number;
  amount: number;
}

/** What {@link highValueOrders} returns. */
export interface Summary {
  readonly output: string;
  readonly written: number;
  readonly byPriority: Readonly<Record<Priority, PriorityTotals>>;
  readonly rejected: readonly { readonly line: number | undefined; readonly code: string }[];
}

/**
 * Seed 003's pipeline, file to file: `from(orders).where(amount > 50).let(priority)` streamed
 * from `input` into `output`, with per-priority totals taken on the way.
 */
export async function highValueOrders(input: string, output: string): Promise<Summary> {
  const rejected: { line: number | undefined; code: string }[] = [];
  const byPriority: Record<Priority, PriorityTotals> = {
    HIGH: { count: 0, amount: 0 },
    MEDIUM: { count: 0, amount: 0 },
    LOW: { count: 0, amount: 0 },
  };
  let written = 0;
  const orders = fileReadCsvAsStream(
    input,
    { failSafe: { onError: (e: IoError) => rejected.push({ line: e.line, code: e.code }) } },
    Order,
  );
  const selected: Stream<OrderOutput, IoError> = from(orders)
    .where((o) => o.amount > 50)
    .let("priority", (o) => priorityOf(o.amount))
    .select((o) => {
      const totals = byPriority[o.priority];
      totals.count++;
      totals.amount += o.amount;
      written++;
      return o;
    });
  await fileWriteCsvFromStream(output, selected);
  for (const totals of Object.values(byPriority)) totals.amount = Math.round(totals.amount * 100) / 100;
  return { output, written, byPriority, rejected };
}

/** Options of {@link main}. */
export interface MainOptions {
  /** How many orders to generate. Default 1 000 000 (about 35 MiB of CSV). */
  readonly rows?: number;
  /** Where report lines go. Default `console.log`. */
  readonly log?: (line: string) => void;
}

/** Generate the input, run the pipeline, print a report, delete the files. */
export async function main(options: MainOptions = {}): Promise<Summary> {
  const rows = options.rows ?? 1_000_000;
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), "csv-orders-"));
  try {
    const input = join(dir, "orders.csv");
    const output = join(dir, "high-value-orders.csv");
    log("Pirouette — high-value orders over a large CSV\n");
    let t = performance.now();
    await generateOrders(input, rows);
    log(`generated ${rows} orders         ${mib(statSync(input).size)} MiB in ${seconds(t)} s  (${input})`);
    t = performance.now();
    const summary = await highValueOrders(input, output);
    log(`amount > 50 → priority         ${summary.written} orders in ${seconds(t)} s → ${mib(statSync(output).size)} MiB\n`);
    for (const p of ["HIGH", "MEDIUM", "LOW"] as const) {
      const { count, amount } = summary.byPriority[p];
      log(`  ${p.padEnd(7)} ${String(count).padStart(9)} orders  ${amount.toFixed(2).padStart(16)}`);
    }
    const shown = summary.rejected.slice(0, 5).map((r) => r.line);
    const more = summary.rejected.length > 5 ? ", …" : "";
    log(`\nrejected (fail-safe) ${summary.rejected.length} rows${shown.length > 0 ? `, lines ${shown.join(", ")}${more}` : ""}`);
    log(`peak RSS ${mib(process.resourceUsage().maxRSS * 1024)} MiB`);
    return summary;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const seconds = (since: number): string => ((performance.now() - since) / 1000).toFixed(1);

// Run when executed directly (`tsx src/main.ts [rows]`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  const arg = process.argv[2];
  main(arg === undefined ? {} : { rows: Number(arg) }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
