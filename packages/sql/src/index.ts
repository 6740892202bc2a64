/**
 * `@pirouette/sql`: SQL query results as streams (PostgreSQL, MySQL/MariaDB) and a PostgreSQL
 * change-data-capture listener.
 *
 * @example
 * ```ts
 * import { Client, sql } from "@pirouette/sql";
 * await using db = new Client({ url: "postgres://postgres@127.0.0.1:5432/test" });
 * for await (const row of db.query(sql`SELECT * FROM customers WHERE city = ${city}`)) console.log(row);
 * ```
 *
 * @module
 */
export { Client, Executor, Transaction } from "./client.ts";
export type { RowOf, QueryError } from "./client.ts";
export { sql, SqlQuery } from "./sql-template.ts";
export type { SqlTag, Dialect } from "./sql-template.ts";
export { SqlError } from "./errors.ts";
export type { SqlErrorCode, SqlErrorOptions } from "./errors.ts";
export type { ClientOptions, QueryOptions, ExecutionResult, Row } from "./options.ts";
export { CdcListener, CdcListener as Listener, CdcServiceConfig } from "./cdc-listener.ts";
export type { CdcService, CdcService as Service, CdcListenerOptions } from "./cdc-listener.ts";
