/**
 * CSV files arriving over SFTP, ingested by an `ftp.Listener` (a real OpenSSH server:
 * SFTP_URL, default sftp://pirouette@127.0.0.1:2222; `scripts/services up sftp`):
 *
 * 1. A partner uploads order files the safe way: under a temporary `.part` name, renamed when
 *    complete (one of them 20 000 rows, streamed from a generator; one with a broken row).
 * 2. The listener watches the inbox for `orders-*.csv`, waits until a file's size is stable,
 *    streams its records (`content: "stream"`, a zod schema checking each record), and moves it
 *    to `processed/` only after the handler succeeded. The broken file reaches `onError` with
 *    its path and row, and goes to `failed/`.
 * 3. A query expression totals the orders per customer.
 *
 * Connection settings come from the environment: SFTP_URL, SFTP_PASSWORD (default `pirouette`)
 * or SFTP_KEY (a private key file, SFTP_KEY_PASSPHRASE), and the server's host key:
 * SFTP_HOST_FINGERPRINT (`SHA256:…`) or SFTP_KNOWN_HOSTS (default: the fingerprint that
 * `scripts/services` wrote to .services/sftp/host_key.sha256). SFTP_INBOX sets the directory
 * (default a fresh one under the user's home, removed at the end).
 *
 * Run it with `pnpm --filter @pirouette/example-sftp-ingest start`.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";
import { from, PayloadBindingError, PayloadValidationError, Stream } from "@pirouette/core";
import * as ftp from "@pirouette/ftp";

/** One order line. Fields arrive as strings; the schema converts and checks them. */
export const Order = z.object({
  id: z.string().min(1),
  customer: z.string().min(1),
  amount: z.coerce.number().nonnegative(),
});
export type Order = z.infer<typeof Order>;

/** Orders at or above this amount are flagged. */
export const HIGH_VALUE = 1000;

/** Options for {@link main}; each defaults to the environment, then to the services defaults. */
export interface MainOptions {
  readonly url?: string;
  readonly password?: string;
  readonly keyPath?: string;
  readonly hostKey?: ftp.HostKeyPolicy;
  /** The watched directory. Default: a fresh one under the login directory, removed at the end. */
  readonly inbox?: string;
  readonly pollingIntervalMs?: number;
  /** Where report lines go. Default `console.log`. */
  readonly log?: (line: string) => void;
}

/** What {@link main} returns: the figures its report prints. */
export interface Summary {
  readonly inbox: string;
  readonly processed: readonly string[];
  readonly failed: readonly string[];
  readonly orders: number;
  readonly highValue: readonly string[];
  readonly perCustomer: readonly { readonly customer: string; readonly orders: number; readonly total: number }[];
  readonly errors: readonly { readonly file: string; readonly code: string; readonly line: number | undefined }[];
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The partner's files: name → rows (a function for the big one, streamed). */
export function partnerFiles(): { readonly name: string; readonly rows: Stream<Record<string, unknown>, never> }[] {
  const customers = ["acme", "globex", "initech"];
  return [
    {
      name: "orders-001.csv",
      rows: Stream.of(
        { id: "o-1", customer: "acme", amount: 120 },
        { id: "o-2", customer: "globex", amount: 2500 },
        { id: "o-3", customer: "acme", amount: 80.5 },
      ),
    },
    {
      // 20 000 rows: generated, uploaded and parsed as streams; no side holds the file in memory.
      name: "orders-002.csv",
      rows: Stream.from(function* () {
        for (let i = 0; i < 20_000; i++) yield { id: `b-${i}`, customer: customers[i % 3] as string, amount: i % 1000 === 999 ? 1500 : 10 };
      }),
    },
    {
      name: "orders-003.csv",
      rows: Stream.of({ id: "c-1", customer: "initech", amount: 5 }, { id: "c-2", customer: "initech", amount: "twelve" }),
    },
  ];
}

function defaultHostKey(): ftp.HostKeyPolicy {
  const fp = process.env["SFTP_HOST_FINGERPRINT"];
  if (fp !== undefined && fp !== "") return { fingerprint: fp };
  const known = process.env["SFTP_KNOWN_HOSTS"];
  if (known !== undefined && known !== "") return { knownHostsFile: known };
  const file = join(dirname(fileURLToPath(import.meta.url)), "../../../.services/sftp/host_key.sha256");
  if (existsSync(file)) return { fingerprint: readFileSync(file, "utf8").trim() };
  throw new Error("set SFTP_HOST_FINGERPRINT (ssh-keygen -lf the server's host key) or SFTP_KNOWN_HOSTS");
}

export async function main(options: MainOptions = {}): Promise<Summary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const url = options.url ?? process.env["SFTP_URL"] ?? "sftp://pirouette@127.0.0.1:2222";
  const keyPath = options.keyPath ?? process.env["SFTP_KEY"];
  const password = options.password ?? process.env["SFTP_PASSWORD"] ?? (keyPath === undefined ? "pirouette" : undefined);
  const user = decodeURIComponent(new URL(url).username || "pirouette");
  const connection: ftp.ClientOptions = {
    url,
    auth: {
      credentials: { username: user, ...(password === undefined ? {} : { password }) },
      ...(keyPath === undefined ? {} : { privateKey: { path: keyPath, passphrase: process.env["SFTP_KEY_PASSPHRASE"] } }),
    },
    hostKey: options.hostKey ?? defaultHostKey(),
  };

  const partner = new ftp.Client(connection);
  const home = (await partner.realPath(".")) ?? `/home/${user}`;
  const ownInbox = options.inbox === undefined && process.env["SFTP_INBOX"] === undefined;
  const inbox = options.inbox ?? process.env["SFTP_INBOX"] ?? `${home}/sftp-ingest-${randomUUID().slice(0, 8)}`;
  await partner.mkdir(inbox, { recursive: true });

  // ── The listener and its service ─────────────────────────────────────────────────────────
  const listener = new ftp.Listener({ ...connection, pollingIntervalMs: options.pollingIntervalMs ?? 200, concurrency: 2 });
  const book = new Map<string, { orders: number; total: number }>();
  const highValue: string[] = [];
  const errors: { file: string; code: string; line: number | undefined }[] = [];
  let orders = 0;

  @ftp.ServiceConfig({
    path: inbox,
    fileNamePattern: "orders-*.csv",
    content: "stream",
    afterProcess: { moveTo: "processed" },
    afterError: { moveTo: "failed" },
  })
  class OrderIngest {
    /** Each record is checked by the Order schema as it is parsed. */
    async onFileCsv(records: Stream<Order, Error>, file: ftp.FileInfo) {
      // Read the whole file before touching the book: a bad row halfway leaves nothing half-applied,
      // and a retry (or a redelivery after a crash) starts from a clean slate.
      const perFile = new Map<string, { orders: number; total: number }>();
      const flagged: string[] = [];
      for await (const o of records) {
        const c = perFile.get(o.customer) ?? { orders: 0, total: 0 };
        c.orders++;
        c.total += o.amount;
        perFile.set(o.customer, c);
        if (o.amount >= HIGH_VALUE) flagged.push(`${o.id} (${o.customer}, ${o.amount})`);
      }
      for (const [customer, c] of perFile) {
        const b = book.get(customer) ?? { orders: 0, total: 0 };
        book.set(customer, { orders: b.orders + c.orders, total: b.total + c.total });
        orders += c.orders;
      }
      highValue.push(...flagged);
      log(`ingested ${file.name}: ${[...perFile.values()].reduce((n, c) => n + c.orders, 0)} orders`);
    }

    onError(error: Error, file: ftp.FileInfo | undefined) {
      const code = error instanceof PayloadBindingError || error instanceof PayloadValidationError ? error.code : (error as { code?: string }).code ?? error.name;
      const at = error instanceof PayloadBindingError ? error.coordinates?.["line"] : undefined;
      const line = typeof at === "number" ? at : undefined;
      errors.push({ file: file?.name ?? "?", code, line });
      log(`rejected ${file?.name ?? "?"}: ${code}${line === undefined ? "" : ` at line ${line}`}`);
    }
  }
  // The schema per record (a stream's elements), given at attach time.
  await listener.attach(new OrderIngest(), { payload: Order });
  await listener.start();

  try {
    // ── The partner uploads: temporary name first, rename when complete ─────────────────────
    const files = partnerFiles();
    await partner.putText(`${inbox}/README.txt`, "not an order file: ignored by the pattern\n");
    for (const f of files) {
      await partner.putCsv(`${inbox}/${f.name}.part`, f.rows);
      await partner.rename(`${inbox}/${f.name}.part`, `${inbox}/${f.name}`);
    }

    // ── Wait until every file is settled (moved to processed/ or failed/) ─────────────────────
    const names = async (dir: string): Promise<string[]> =>
      (await partner.list(dir).catch(() => [])).filter((f) => f.isFile).map((f) => f.name).sort();
    const deadline = Date.now() + 60_000;
    let processed: string[] = [];
    let failed: string[] = [];
    while (processed.length + failed.length < files.length) {
      if (Date.now() > deadline) throw new Error(`files not settled in time: processed ${processed.join()}, failed ${failed.join()}`);
      await new Promise((r) => setTimeout(r, 100));
      processed = await names(`${inbox}/processed`);
      failed = await names(`${inbox}/failed`);
    }
    await listener.gracefulStop();

    const perCustomer = from([...book].map(([customer, c]) => ({ customer, orders: c.orders, total: round2(c.total) })))
      .orderBy((c) => c.total, "descending")
      .select((c) => c);
    const summary: Summary = { inbox, processed, failed, orders, highValue, perCustomer: await perCustomer.toArray(), errors };

    log(`inbox ${inbox} on ${url.replace(/\/\/[^@]*@/, "//")}`);
    log(`processed: ${processed.join(", ")}; failed: ${failed.join(", ")}`);
    log(`${orders} orders, ${highValue.length} at or above ${HIGH_VALUE}: ${highValue.slice(0, 3).join("; ")}${highValue.length > 3 ? "; …" : ""}`);
    log("per customer  (from(book).orderBy(total, descending))");
    for (const c of summary.perCustomer) log(`  ${c.customer.padEnd(8)} ${String(c.orders).padStart(6)} orders  ${c.total.toFixed(2).padStart(10)}`);
    return summary;
  } finally {
    await listener.immediateStop();
    if (ownInbox) await partner.rmdir(inbox, { recursive: true }).catch(() => undefined);
    await partner.close();
  }
}

// Run when executed directly (`tsx src/main.ts`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
