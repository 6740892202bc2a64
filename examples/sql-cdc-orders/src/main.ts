/**
 * Change data capture on `@pirouette/sql`: a `CdcListener` service sees the orders table's
 * inserts, updates and deletes in commit order (PostgreSQL logical replication, pgoutput).
 *
 * Creates a uniquely named table, starts the listener (it creates its publication and slot),
 * writes through a `Client`, waits for the three changes, stops, then drops the slot, the
 * publication and the table, and exits.
 */
import { randomBytes } from "node:crypto";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { CdcListener, CdcServiceConfig, Client, sql, type Row } from "@pirouette/sql";

export async function main(options: { log?: (line: string) => void; url?: string } = {}): Promise<string[]> {
  const log = options.log ?? console.log;
  const url = options.url ?? process.env["PGURL"] ?? "postgres://postgres@127.0.0.1:5432/test";
  const suffix = randomBytes(3).toString("hex");
  const table = `orders_${suffix}`;
  const slotName = `orders_cdc_${suffix}`;
  const events: string[] = [];
  await using db = new Client({ url });
  await db.execute(sql`CREATE TABLE ${sql.id(table)} (id int PRIMARY KEY, item text NOT NULL, status text NOT NULL)`);
  await db.execute(sql`ALTER TABLE ${sql.id(table)} REPLICA IDENTITY FULL`);
  const listener = new CdcListener({ url, slotName });
  try {
    @CdcServiceConfig({ tables: [table] })
    class OrderEvents {
      onCreate(after: Row): void {
        events.push(`created #${String(after["id"])} ${String(after["item"])}`);
      }
      onUpdate(before: Row | undefined, after: Row): void {
        events.push(`order #${String(after["id"])}: ${String(before?.["status"])} -> ${String(after["status"])}`);
      }
      onDelete(before: Row): void {
        events.push(`deleted #${String(before["id"])}`);
      }
      onError(error: Error): void {
        log(`cdc error: ${error.message}`);
      }
    }
    await listener.attach(new OrderEvents());
    await listener.start();
    await db.execute(sql`INSERT INTO ${sql.id(table)} VALUES (${1}, ${"espresso machine"}, ${"new"})`);
    await db.execute(sql`UPDATE ${sql.id(table)} SET status = ${"shipped"} WHERE id = ${1}`);
    await db.execute(sql`DELETE FROM ${sql.id(table)} WHERE id = ${1}`);
    const deadline = Date.now() + 15_000;
    while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const e of events) log(e);
    return events;
  } finally {
    await listener.gracefulStop();
    for (let i = 0; i < 50; i++) {
      const active = await db.query(sql`SELECT 1 FROM pg_replication_slots WHERE slot_name = ${slotName} AND active`).count();
      if (active === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await db.execute(sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${slotName}`);
    await db.execute(sql`DROP PUBLICATION IF EXISTS ${sql.id(slotName)}`);
    await db.execute(sql`DROP TABLE IF EXISTS ${sql.id(table)}`);
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
