import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CdcListener, CdcServiceConfig, Client, sql, type CdcService, type Row } from "@pirouette/sql";
import { PGURL, uniqueName } from "./helpers.ts";

const db = new Client({ url: PGURL });
const table = uniqueName("cdc_orders");
const t = sql.id(table);
const slots: string[] = [];

type Event = [string, ...unknown[]];

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function recorder(events: Event[]): CdcService {
  return {
    onCreate: (after, table) => void events.push(["create", table, after]),
    onUpdate: (before, after) => void events.push(["update", before, after]),
    onDelete: (before) => void events.push(["delete", before]),
  };
}

function newSlot(): string {
  const s = uniqueName("pirouette_slot");
  slots.push(s);
  return s;
}

beforeAll(async () => {
  await db.execute(sql`CREATE TABLE ${t} (id int PRIMARY KEY, item text NOT NULL, qty int NOT NULL)`);
  await db.execute(sql`ALTER TABLE ${t} REPLICA IDENTITY FULL`);
});

afterAll(async () => {
  for (const slot of slots) {
    for (let i = 0; i < 50; i++) {
      const active = await db.query(sql`SELECT 1 FROM pg_replication_slots WHERE slot_name = ${slot} AND active`).count();
      if (active === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await db.execute(sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${slot}`);
    await db.execute(sql`DROP PUBLICATION IF EXISTS ${sql.id(slot)}`);
  }
  await db.execute(sql`DROP TABLE IF EXISTS ${t}`);
  expect(await db.query(sql`SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE 'pirouette_slot_%'`).count()).toBe(0);
  await db.close();
});

describe("CdcListener", () => {
  it("delivers inserts, updates and deletes in commit order", async () => {
    const events: Event[] = [];
    const listener = new CdcListener({ url: PGURL, slotName: newSlot() });
    @CdcServiceConfig({ tables: [table] })
    class Orders {
      onCreate(after: Row, tableName: string): void {
        events.push(["create", tableName, after]);
      }
      onUpdate(before: Row | undefined, after: Row): void {
        events.push(["update", before, after]);
      }
      onDelete(before: Row): void {
        events.push(["delete", before]);
      }
    }
    await listener.attach(new Orders());
    await listener.start();
    try {
      await db.execute(sql`INSERT INTO ${t} VALUES (1, ${"apple"}, 1)`);
      await db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO ${t} VALUES (2, ${"pear"}, 2)`);
        await tx.execute(sql`UPDATE ${t} SET qty = 5 WHERE id = 1`);
      });
      await db.execute(sql`DELETE FROM ${t} WHERE id = 2`);
      await until(() => events.length === 4, "4 events");
      expect(events).toEqual([
        ["create", `public.${table}`, { id: 1, item: "apple", qty: 1 }],
        ["create", `public.${table}`, { id: 2, item: "pear", qty: 2 }],
        ["update", { id: 1, item: "apple", qty: 1 }, { id: 1, item: "apple", qty: 5 }],
        ["delete", { id: 2, item: "pear", qty: 2 }],
      ]);
      expect(listener.acknowledgedLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    } finally {
      await listener.gracefulStop();
    }
  });

  it("resumes after a restart from the last acknowledged transaction: 0 lost", async () => {
    const slotName = newSlot();
    const base = 1000;
    const first: Event[] = [];
    const a = new CdcListener({ url: PGURL, slotName });
    await a.attach(recorder(first), { tables: [table] });
    await a.start();
    for (let i = 0; i < 20; i++) await db.execute(sql`INSERT INTO ${t} VALUES (${base + i}, ${"a"}, ${i})`);
    await until(() => first.length === 20, "the first 20");
    await a.gracefulStop();
    // written while no listener runs
    await db.batchExecute(Array.from({ length: 30 }, (_, i) => sql`INSERT INTO ${t} VALUES (${base + 20 + i}, ${"b"}, ${i})`));
    const second: Event[] = [];
    const b = new CdcListener({ url: PGURL, slotName });
    await b.attach(recorder(second), { tables: [table] });
    await b.start();
    try {
      for (let i = 50; i < 60; i++) await db.execute(sql`INSERT INTO ${t} VALUES (${base + i}, ${"c"}, ${i})`);
      await until(() => second.length === 40, "the other 40");
      const ids = [...first, ...second].map((e) => (e[2] as Row)["id"]);
      expect(ids).toEqual(Array.from({ length: 60 }, (_, i) => base + i));
    } finally {
      await b.gracefulStop();
    }
  });

  it("does not acknowledge a change whose handler failed: it comes again after a restart", async () => {
    const slotName = newSlot();
    const errors: Error[] = [];
    let fail = true;
    const seen: unknown[] = [];
    const service: CdcService = {
      onCreate: (after) => {
        seen.push(after["id"]);
        if (fail && after["id"] === 2001) throw new Error("handler down");
      },
      onError: (e) => void errors.push(e),
    };
    const a = new CdcListener({ url: PGURL, slotName, retry: false, onHandlerFailure: "stop" });
    await a.attach(service, { tables: [table] });
    await a.start();
    await db.execute(sql`INSERT INTO ${t} VALUES (2000, ${"x"}, 1)`);
    await db.execute(sql`INSERT INTO ${t} VALUES (2001, ${"y"}, 1)`);
    await db.execute(sql`INSERT INTO ${t} VALUES (2002, ${"z"}, 1)`);
    await until(() => errors.length === 1, "the handler failure");
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([2000, 2001]); // stopped: 2002 was not delivered
    await a.gracefulStop();
    fail = false;
    const b = new CdcListener({ url: PGURL, slotName });
    await b.attach(service, { tables: [table] });
    await b.start();
    try {
      await until(() => seen.length === 4, "redelivery");
      expect(seen).toEqual([2000, 2001, 2001, 2002]);
    } finally {
      await b.gracefulStop();
    }
  });

  it("delivers rows written with psql (interop)", async () => {
    const events: Event[] = [];
    const listener = new CdcListener({ url: PGURL, slotName: newSlot() });
    await listener.attach(recorder(events), { tables: [`public.${table}`] });
    await listener.start();
    try {
      execFileSync("psql", [
        PGURL,
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        `BEGIN; INSERT INTO "${table}" VALUES (3000, 'psql', 7); UPDATE "${table}" SET item = 'psql2' WHERE id = 3000; COMMIT;`,
      ]);
      await until(() => events.length === 2, "the psql changes");
      expect(events).toEqual([
        ["create", `public.${table}`, { id: 3000, item: "psql", qty: 7 }],
        ["update", { id: 3000, item: "psql", qty: 7 }, { id: 3000, item: "psql2", qty: 7 }],
      ]);
    } finally {
      await listener.gracefulStop();
    }
  });

  it("rejects services without change methods or tables", async () => {
    const listener = new CdcListener({ url: PGURL, slotName: "unused_slot" });
    await expect(listener.attach({ onError: () => undefined }, { tables: [table] })).rejects.toMatchObject({
      name: "SqlError",
    });
    await expect(listener.attach(recorder([]), { tables: [] })).rejects.toMatchObject({ code: "SQL_INVALID_CONFIG" });
    expect(() => new CdcListener({ url: PGURL, slotName: "Bad-Name" })).toThrow(/slotName/);
    await listener.gracefulStop();
  });
});
