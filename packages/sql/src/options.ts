/**
 * Public option and result types of `@pirouette/sql`.
 *
 * @module
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";

/** A row as the driver returns it: column name → value. */
export type Row = Record<string, unknown>;

/**
 * Options of {@link Client}.
 *
 * @example
 * ```ts
 * const db = new Client({ url: "postgres://postgres@127.0.0.1:5432/test", batchSize: 500 });
 * ```
 */
export interface ClientOptions {
  /**
   * Where to connect: `postgres://` / `postgresql://` (pg) or `mysql://` / `mariadb://` (mysql2).
   */
  readonly url: string;
  /** Rows fetched per round trip by a query stream (the cursor's batch size). Default 1000. */
  readonly batchSize?: number;
  /** Pool size. Default 10. */
  readonly maxConnections?: number;
  /** PostgreSQL `application_name` of the client's sessions (visible in `pg_stat_activity`). */
  readonly applicationName?: string;
  /** Give up connecting after this long. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
}

/**
 * Options of {@link Client.query}: a per-query batch size and an optional Standard Schema
 * (zod, valibot, arktype…) every row is validated against.
 *
 * @example
 * ```ts
 * const rows = db.query(sql`SELECT id, name FROM customers`, { schema: Customer, batchSize: 100 });
 * ```
 */
export interface QueryOptions<S extends StandardSchemaV1 | undefined = undefined> {
  readonly schema?: S;
  /** Overrides {@link ClientOptions.batchSize}. */
  readonly batchSize?: number;
}

/**
 * What {@link Client.execute} returns (Ballerina's `sql:ExecutionResult`).
 *
 * @example
 * ```ts
 * const { affectedRowCount, lastInsertId } = await db.execute(sql`INSERT INTO t (name) VALUES (${n})`);
 * ```
 */
export interface ExecutionResult {
  /** Rows inserted, updated or deleted. */
  readonly affectedRowCount: number;
  /**
   * MySQL/MariaDB: the `AUTO_INCREMENT` id generated. PostgreSQL has none: add
   * `RETURNING id` and the first column of the first returned row is given here.
   */
  readonly lastInsertId: number | string | bigint | undefined;
}
