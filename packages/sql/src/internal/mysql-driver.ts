/**
 * MySQL/MariaDB through mysql2's callback pool: `execute(...).stream()` (server-side
 * prepared statement, rows pushed with backpressure) or `query(...).stream()` without values.
 *
 * @module
 * @internal
 */
import { createPool, type ExecuteValues, type Pool, type PoolConnection, type ResultSetHeader } from "mysql2";
import type { Readable } from "node:stream";
import type { ExecutionResult, Row } from "../options.ts";
import { bindable, type Driver, type RowReader, type Session } from "./driver.ts";

export interface MysqlDriverOptions {
  readonly url: string;
  readonly max: number;
  readonly connectTimeoutMs: number;
}

export function mysqlDriver(o: MysqlDriverOptions): Driver {
  const pool: Pool = createPool({
    uri: o.url.replace(/^mariadb:/, "mysql:"),
    connectionLimit: o.max,
    connectTimeout: o.connectTimeoutMs,
  });
  pool.on("connection", (c) => c.on("error", () => undefined));
  return {
    dialect: "mysql",
    acquire: () =>
      new Promise<Session>((resolve, reject) => {
        pool.getConnection((err, conn) => (err ? reject(err) : resolve(mysqlSession(conn))));
      }),
    end: () => new Promise<void>((resolve, reject) => pool.end((err) => (err ? reject(err) : resolve()))),
  };
}

function command<T>(conn: PoolConnection, text: string, values: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cb = (err: Error | null, result: unknown): void => (err ? reject(err) : resolve(result as T));
    if (values.length === 0) conn.query(text, cb);
    else conn.execute(text, bindable(values) as ExecuteValues, cb);
  });
}

function mysqlSession(conn: PoolConnection): Session {
  return {
    rows: (text, values, batchSize) => mysqlRows(conn, text, values, batchSize),
    async exec(text, values): Promise<ExecutionResult> {
      const r = await command<ResultSetHeader | Row[]>(conn, text, values);
      if (Array.isArray(r)) return { affectedRowCount: r.length, lastInsertId: undefined };
      return { affectedRowCount: r.affectedRows, lastInsertId: r.insertId === 0 ? undefined : r.insertId };
    },
    async run(text) {
      await command(conn, text, []);
    },
    release(destroy) {
      if (!destroy) return conn.release();
      conn.destroy();
      // destroy() only half-closes (FIN); a server blocked writing a large result into our full
      // receive window would keep running the query. Resetting the socket ends it at once.
      (conn as unknown as { stream?: { destroy?: () => void } }).stream?.destroy?.();
    },
  };
}

function mysqlRows(conn: PoolConnection, text: string, values: unknown[], batchSize: number): RowReader {
  const cmd = values.length === 0 ? conn.query(text) : conn.execute(text, bindable(values) as ExecuteValues);
  const stream: Readable = cmd.stream({ highWaterMark: batchSize });
  let ended = false;
  let error: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.on("readable", notify);
  stream.on("end", () => {
    ended = true;
    notify();
  });
  stream.on("error", (e) => {
    error ??= e;
    notify();
  });
  return {
    async read() {
      for (;;) {
        if (error !== undefined) throw error;
        const batch: Row[] = [];
        let r: unknown;
        while (batch.length < batchSize && (r = stream.read()) !== null) batch.push(r as Row);
        if (batch.length > 0) return batch;
        if (ended) return null;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async close(keepSession) {
      if (error !== undefined) return false;
      if (ended) return true;
      if (!keepSession) return false; // the caller destroys the connection, which ends the result
      // Inside a transaction the connection must survive: read the rest of the result and drop it.
      stream.removeAllListeners("readable");
      stream.on("data", () => undefined);
      stream.resume();
      await new Promise<void>((resolve) => {
        if (ended || error !== undefined) resolve();
        else {
          stream.once("end", resolve);
          stream.once("error", () => resolve());
        }
      });
      return error === undefined;
    },
  };
}
