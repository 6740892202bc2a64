/**
 * `SqlError`: the one error class of `@pirouette/sql`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes an {@link SqlError} carries.
 *
 * | code | when |
 * |---|---|
 * | `SQL_UNKNOWN_METHOD`, `SQL_MISSING_METHOD`, `SQL_METHOD_CONFLICT`, `SQL_INVALID_SERVICE` | `attach` rejected a CDC service |
 * | `SQL_INVALID_CONFIG` | an option or service config value is wrong (unknown URL scheme, empty `tables`…) |
 * | `SQL_INVALID_QUERY` | a query was not built with the `sql` tag, or a fragment is malformed |
 * | `SQL_CONNECTION` | the database cannot be reached, or the connection broke |
 * | `SQL_QUERY` | the database rejected a statement (`sqlState` / `errno` hold the server's code) |
 * | `SQL_NO_ROWS` | `queryRow` found no row (Ballerina's `NoRowsError`) |
 * | `SQL_BATCH_EXECUTE` | a statement of `batchExecute` failed; the batch was rolled back (`failedIndex`) |
 * | `SQL_REPLICATION` | the CDC replication stream failed |
 * | `SQL_CLOSED` | the client or listener is closed |
 */
export type SqlErrorCode =
  | "SQL_UNKNOWN_METHOD"
  | "SQL_MISSING_METHOD"
  | "SQL_METHOD_CONFLICT"
  | "SQL_INVALID_SERVICE"
  | "SQL_INVALID_CONFIG"
  | "SQL_INVALID_QUERY"
  | "SQL_CONNECTION"
  | "SQL_QUERY"
  | "SQL_NO_ROWS"
  | "SQL_BATCH_EXECUTE"
  | "SQL_REPLICATION"
  | "SQL_CLOSED";

/** Options of {@link SqlError}. */
export interface SqlErrorOptions extends PirouetteErrorOptions {
  /** The SQLSTATE the server reported (PostgreSQL `code`, MySQL `sqlState`). */
  readonly sqlState?: string | undefined;
  /** MySQL/MariaDB's numeric error code. */
  readonly errno?: number | undefined;
  /** For `SQL_BATCH_EXECUTE`: the index of the statement that failed. */
  readonly failedIndex?: number | undefined;
}

/**
 * The error `@pirouette/sql` throws and fails streams with. Tell codes apart with `code`;
 * guard with `PirouetteError.is(e)` rather than `instanceof`.
 *
 * @example
 * ```ts
 * try {
 *   await db.queryRow(sql`SELECT * FROM customers WHERE id = ${id}`);
 * } catch (e) {
 *   if (e instanceof SqlError && e.code === "SQL_NO_ROWS") return undefined;
 *   throw e;
 * }
 * ```
 */
export class SqlError extends PirouetteError {
  override name = "SqlError";
  declare readonly code: SqlErrorCode;
  /** The SQLSTATE the server reported, when it did. */
  readonly sqlState: string | undefined;
  /** MySQL/MariaDB's numeric error code, when there is one. */
  readonly errno: number | undefined;
  /** For `SQL_BATCH_EXECUTE`: the index of the statement that failed. */
  readonly failedIndex: number | undefined;

  constructor(code: SqlErrorCode, message: string, options: SqlErrorOptions = {}) {
    super(code, message, options);
    this.sqlState = options.sqlState;
    this.errno = options.errno;
    this.failedIndex = options.failedIndex;
  }
}

/** @internal Wrap a driver error (pg, mysql2) in an SqlError, keeping the server's codes. */
export function wrapDriverError(cause: unknown, context: string): SqlError {
  if (cause instanceof SqlError) return cause;
  const e = cause as { code?: unknown; sqlState?: unknown; errno?: unknown; message?: unknown; severity?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(cause);
  const pgServer = typeof e?.severity === "string" && typeof e.code === "string";
  const mysqlServer = typeof e?.sqlState === "string" && typeof e.errno === "number";
  if (pgServer) {
    return new SqlError("SQL_QUERY", `${context}: ${message}`, { cause, sqlState: e.code as string });
  }
  if (mysqlServer) {
    return new SqlError("SQL_QUERY", `${context}: ${message}`, {
      cause,
      sqlState: e.sqlState as string,
      errno: e.errno as number,
    });
  }
  return new SqlError("SQL_CONNECTION", `${context}: ${message}`, { cause });
}
