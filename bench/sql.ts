/**
 * SQL result streaming benchmark: N rows through `@pirouette/sql`'s `Client.query` vs the raw
 * driver on the same query, in one process, arms alternated (ABBA) with gc() between trials,
 * median of the trials after a warm-up.
 *
 *   pnpm bench sql [--n 200000] [--batch 1000] [--trials 5] [--warmup 1]
 *
 * Arms:
 *   pg-ours      Client({ url: PGURL }).query(sql`SELECT g, md5(g::text) … generate_series`)
 *   pg-raw       pg.Client + pg-cursor, read(batch) until empty (the same server-side cursor)
 *   mysql-ours   Client({ url: MYSQL_URL }).query(sql`SELECT seq, MD5(seq) FROM seq_1_to_N`)
 *   mysql-raw    mysql2 callback connection, query(text).stream() consumed with for await
 *
 * Prints rows/s per arm, then `ratio sql-pg-vs-pg-cursor <ours ÷ raw>` and
 * `ratio sql-mysql-vs-mysql2-stream <ours ÷ raw>` (throughput, higher is better).
 */
import { Client, sql } from "@pirouette/sql";
import mysql from "mysql2";
import pg from "pg";
import Cursor from "pg-cursor";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const N = arg("n", 200_000);
const BATCH = arg("batch", 1000);
const TRIALS = arg("trials", 5);
const WARMUP = arg("warmup", 1);
const PGURL = process.env["PGURL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_URL = process.env["MYSQL_URL"] ?? "mysql://root@127.0.0.1:3306/test";
const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench sql does)");
  });

const pgText = `SELECT g, md5(g::text) AS h FROM generate_series(1, ${N}) g`;
const myText = `SELECT seq AS g, MD5(seq) AS h FROM seq_1_to_${N}`;

const pgOurs = new Client({ url: PGURL, batchSize: BATCH, maxConnections: 1 });
const myOurs = new Client({ url: MYSQL_URL, batchSize: BATCH, maxConnections: 1 });
const pgRaw = new pg.Client({ connectionString: PGURL });
await pgRaw.connect();
const myRaw = mysql.createConnection({ uri: MYSQL_URL });

interface Arm {
  readonly name: string;
  run(): Promise<number>;
}

const arms: Arm[] = [
  {
    name: "pg-ours",
    async run() {
      let n = 0;
      for await (const _ of pgOurs.query(sql`SELECT g, md5(g::text) AS h FROM generate_series(1, ${N}::int) g`)) n++;
      return n;
    },
  },
  {
    name: "pg-raw",
    async run() {
      const cursor = pgRaw.query(new Cursor(pgText));
      let n = 0;
      for (;;) {
        const rows = await cursor.read(BATCH);
        if (rows.length === 0) break;
        n += rows.length;
      }
      await cursor.close();
      return n;
    },
  },
  {
    name: "mysql-ours",
    async run() {
      let n = 0;
      for await (const _ of myOurs.query(sql`SELECT seq AS g, MD5(seq) AS h FROM ${sql.id(`seq_1_to_${N}`)}`)) n++;
      return n;
    },
  },
  {
    name: "mysql-raw",
    async run() {
      let n = 0;
      for await (const _ of myRaw.query(myText).stream({ highWaterMark: BATCH })) n++;
      return n;
    },
  },
];

const samples = new Map<string, number[]>(arms.map((a) => [a.name, []]));
for (let trial = 0; trial < WARMUP + TRIALS; trial++) {
  const order = trial % 2 === 0 ? arms : [...arms].reverse();
  for (const arm of order) {
    gc();
    const t0 = process.hrtime.bigint();
    const n = await arm.run();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (n !== N) throw new Error(`${arm.name}: ${n} rows, expected ${N}`);
    if (trial >= WARMUP) samples.get(arm.name)?.push((N / ms) * 1000);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

console.log(`sql streaming: N=${N} rows, batch=${BATCH}, ${TRIALS} trials after ${WARMUP} warm-up (median rows/s)`);
const rate = (name: string): number => median(samples.get(name) ?? []);
for (const arm of arms) console.log(`${arm.name.padEnd(11)} ${Math.round(rate(arm.name)).toString().padStart(9)} rows/s`);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);

await pgOurs.close();
await myOurs.close();
await pgRaw.end();
await new Promise<void>((resolve) => myRaw.end(() => resolve()));

console.log(`ratio sql-pg-vs-pg-cursor ${(rate("pg-ours") / rate("pg-raw")).toFixed(3)}`);
console.log(`ratio sql-mysql-vs-mysql2-stream ${(rate("mysql-ours") / rate("mysql-raw")).toFixed(3)}`);
