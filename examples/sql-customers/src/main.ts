/**
 * Ballerina's SQL streaming seed on `@pirouette/sql`:
 *
 *   stream<Customer, sql:Error?> customers = db->query(`SELECT id, name, email FROM customers`);
 *   check from Customer c in customers do { check sendWelcomeEmail(c); };
 *   decimal totalRevenue = check from var {status, amount} in orderStream where status == "paid" collect sum(amount);
 *
 * Creates two tables with unique names in PGURL's database, seeds them, streams the customers
 * (a server-side cursor, 2 rows per round trip to show the batching), sums paid orders with a
 * query expression, looks one customer up with queryRow, drops the tables and exits.
 */
import { randomBytes } from "node:crypto";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { from, sum } from "@pirouette/core";
import { Client, sql } from "@pirouette/sql";
import type { StandardSchemaV1 } from "@standard-schema/spec";

interface Customer {
  readonly id: number;
  readonly name: string;
  readonly email: string;
}

/** A hand-written Standard Schema (zod/valibot/arktype work the same way). */
const Customer: StandardSchemaV1<unknown, Customer> = {
  "~standard": {
    version: 1,
    vendor: "example",
    validate(v) {
      const r = v as Partial<Customer>;
      return typeof r.id === "number" && typeof r.name === "string" && typeof r.email === "string" && r.email.includes("@")
        ? { value: { id: r.id, name: r.name, email: r.email } }
        : { issues: [{ message: "not a customer", path: [] }] };
    },
  },
};

export interface Summary {
  readonly welcomed: string[];
  readonly paidRevenueCents: number;
  readonly lookedUp: string;
}

export async function main(options: { log?: (line: string) => void; url?: string } = {}): Promise<Summary> {
  const log = options.log ?? console.log;
  const suffix = randomBytes(3).toString("hex");
  const customers = sql.id(`customers_${suffix}`);
  const orders = sql.id(`orders_${suffix}`);
  await using db = new Client({ url: options.url ?? process.env["PGURL"] ?? "postgres://postgres@127.0.0.1:5432/test" });
  await db.execute(sql`CREATE TABLE ${customers} (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL)`);
  await db.execute(sql`CREATE TABLE ${orders} (id int PRIMARY KEY, amount_cents int NOT NULL, status text NOT NULL)`);
  try {
    const people = [
      [1, "Ada Lovelace", "ada@example.com"],
      [2, "Alan Turing", "alan@example.com"],
      [3, "Grace Hopper", "grace@example.com"],
    ] as const;
    await db.execute(sql`INSERT INTO ${customers} VALUES ${sql.join(people.map(([id, n, e]) => sql`(${id}, ${n}, ${e})`))}`);
    await db.batchExecute([
      sql`INSERT INTO ${orders} VALUES (1, ${1250}, ${"paid"})`,
      sql`INSERT INTO ${orders} VALUES (2, ${990}, ${"pending"})`,
      sql`INSERT INTO ${orders} VALUES (3, ${4000}, ${"paid"})`,
    ]);

    // from Customer c in customers do { sendWelcomeEmail(c) }
    const welcomed: string[] = [];
    const stream = db.query(sql`SELECT id, name, email FROM ${customers} ORDER BY id`, { schema: Customer, batchSize: 2 });
    await from(stream).do((c) => {
      welcomed.push(c.email);
      log(`welcome e-mail sent to ${c.name} <${c.email}>`);
    });

    // from var {status, amount} in orderStream where status == "paid" collect sum(amount)
    const orderStream = db.query(sql`SELECT id, amount_cents, status FROM ${orders} WHERE id > ${0}`);
    const { total = 0 } = await from(orderStream)
      .where((o) => o["status"] === "paid")
      .collect({ total: sum((o) => o["amount_cents"] as number) });
    log(`paid revenue: ${(total / 100).toFixed(2)}`);

    const grace = await db.queryRow(sql`SELECT id, name, email FROM ${customers} WHERE email = ${"grace@example.com"}`, {
      schema: Customer,
    });
    log(`looked up: ${grace.name}`);
    return { welcomed, paidRevenueCents: total, lookedUp: grace.name };
  } finally {
    await db.execute(sql`DROP TABLE IF EXISTS ${customers}, ${orders}`);
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
