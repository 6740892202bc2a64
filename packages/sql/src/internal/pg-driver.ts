/**
 * PostgreSQL through pg's pool and pg-cursor (a server-side portal read in batches).
 *
 * @module
 * @internal
 */
import pg from "pg";
import Cursor from "pg-cursor";
import type { ExecutionResult, Row } from "../options.ts";
import { bindable, type Driver, type RowReader, type Session } from "./driver.ts";

export interface PgDriverOptions {
  readonly url: string;
  readonly max: number;
  readonly applicationName: string | undefined;
  readonly connectTimeoutMs: number;
}

export function pgDriver(o: PgDriverOptions): Driver {
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.max,
    connectionTimeoutMillis: o.connectTimeoutMs,
    ...(o.applicationName === undefined ? {} : { application_name: o.applicationName }),
  });
  // An idle client that loses its connection is removed by the pool; without a listener the
  // error would crash the process.
  pool.on("error", () => undefined);
  return {
    dialect: "postgres",
    async acquire() {
      return pgSession(await pool.connect());
    },
    end: () => pool.end(),
  };
}

function pgSession(client: pg.PoolClient): Session {
  return {
    rows: (text, values, batchSize) => pgRows(client, text, values, batchSize),
    async exec(text, values): Promise<ExecutionResult> {
      const r = await client.query({ text, values: bindable(values) });
      const first = r.rows[0] as Row | undefined;
      const id = first === undefined ? undefined : Object.values(first)[0];
      return {
        affectedRowCount: r.rowCount ?? 0,
        lastInsertId: typeof id === "number" || typeof id === "string" || typeof id === "bigint" ? id : undefined,
      };
    },
    async run(text) {
      await client.query(text);
    },
    release: (destroy) => client.release(destroy),
  };
}

function pgRows(client: pg.PoolClient, text: string, values: unknown[], batchSize: number): RowReader {
  const cursor = client.query(new Cursor<Row>(text, bindable(values)));
  let ended = false;
  let failed = false;
  let pending: Promise<unknown> | undefined;
  return {
    async read() {
      if (ended) return null;
      const p = cursor.read(batchSize);
      pending = p;
      try {
        const rows = await p;
        if (rows.length === 0) {
          ended = true;
          return null;
        }
        if (rows.length < batchSize) ended = true;
        return rows;
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        pending = undefined;
      }
    },
    async close() {
      if (pending !== undefined) await pending.catch(() => undefined);
      if (failed) return false;
      try {
        await cursor.close();
        return true;
      } catch {
        return false;
      }
    },
  };
}
