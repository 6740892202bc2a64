/**
 * `Client`: queries as lazy streams over a server-side cursor, plus execute, batches and
 * transactions, for PostgreSQL and MySQL/MariaDB.
 *
 * @module
 */
import { PayloadBindingError, Stream, validate, type StreamSource } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { SqlError, wrapDriverError } from "./errors.ts";
import type { Driver, RowReader, Session } from "./internal/driver.ts";
import { mysqlDriver } from "./internal/mysql-driver.ts";
import { pgDriver } from "./internal/pg-driver.ts";
import type { ClientOptions, ExecutionResult, QueryOptions, Row } from "./options.ts";
import { requireQuery, type Dialect, type SqlQuery } from "./sql-template.ts";

/** The row type of a query: the schema's output, or {@link Row}. */
export type RowOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : Row;

/** How a stream of rows fails: a database error, or a row the schema rejected. */
export type QueryError = SqlError | PayloadBindingError;

/** Where an executor gets its session from: the pool (one per operation) or a transaction. */
interface SessionSource {
  readonly dialect: Dialect;
  readonly batchSize: number;
  acquire(): Promise<Session>;
  /** Give the session back after an operation (a no-op inside a transaction). */
  done(session: Session, destroy: boolean): void;
  /** Whether closing a result early must keep the session usable (transactions). */
  readonly keepSession: boolean;
}

/**
 * The operations a {@link Client} and a {@link Transaction} share.
 *
 * @example
 * ```ts
 * async function countCustomers(db: Executor): Promise<number> {
 *   const row = await db.queryRow(sql`SELECT count(*)::int AS n FROM customers`);
 *   return row.n as number;
 * }
 * ```
 */
export abstract class Executor {
  /** @internal */
  protected abstract readonly source: SessionSource;

  /**
   * Run a query and stream its rows: a lazy cursor (nothing is sent before the first read)
   * fetching `batchSize` rows per round trip. It closes when drained, on an error, on
   * `close()`, and when a `for await` loop exits early. With a `schema`, every row is validated
   * and the stream fails with a `PayloadValidationError` on the first bad one.
   *
   * @example
   * ```ts
   * for await (const c of db.query(sql`SELECT id, email FROM customers WHERE active = ${true}`)) {
   *   await sendWelcome(c.email as string);
   * }
   * ```
   */
  query<S extends StandardSchemaV1 | undefined = undefined>(
    query: SqlQuery,
    options: QueryOptions<S> = {},
  ): Stream<RowOf<S>, QueryError> {
    const { text, values } = requireQuery(query).render(this.source.dialect);
    const source = this.source;
    const batchSize = options.batchSize ?? source.batchSize;
    checkBatchSize(batchSize);
    const schema = options.schema;
    let session: Session | undefined;
    let reader: RowReader | undefined;
    let failed = false;
    let index = 0;
    const streamSource: StreamSource<RowOf<S>> = {
      async pull() {
        try {
          if (reader === undefined) {
            session = await source.acquire();
            reader = session.rows(text, values, batchSize);
          }
          const rows = await reader.read();
          if (rows === null) return null;
          if (schema === undefined) {
            index += rows.length;
            return rows as RowOf<S>[];
          }
          const out: RowOf<S>[] = [];
          for (const row of rows) out.push((await validate(schema, row, { row: index++ })) as RowOf<S>);
          return out;
        } catch (e) {
          failed = true;
          throw e instanceof PayloadBindingError ? e : wrapDriverError(e, "query failed");
        }
      },
      async close() {
        if (session === undefined) return;
        const reusable = reader === undefined ? true : await reader.close(source.keepSession);
        source.done(session, failed && !source.keepSession ? true : !reusable);
      },
    };
    return new Stream<RowOf<S>, QueryError>(streamSource);
  }

  /**
   * The first row of a query (the rest is not fetched). Throws `SQL_NO_ROWS` when there is none.
   *
   * @throws {SqlError} `SQL_NO_ROWS`, `SQL_QUERY`, `SQL_CONNECTION`
   * @example
   * ```ts
   * const c = await db.queryRow(sql`SELECT * FROM customers WHERE id = ${id}`);
   * ```
   */
  async queryRow<S extends StandardSchemaV1 | undefined = undefined>(
    query: SqlQuery,
    options: QueryOptions<S> = {},
  ): Promise<RowOf<S>> {
    const stream = this.query(query, { batchSize: 1, ...options });
    try {
      const r = await stream.next();
      if (r === undefined) throw new SqlError("SQL_NO_ROWS", "the query returned no rows");
      if (r instanceof Error) throw r;
      return r.value;
    } finally {
      await stream.close();
    }
  }

  /**
   * Run a statement (INSERT, UPDATE, DELETE, DDL) and report the rows it affected.
   *
   * @throws {SqlError} `SQL_QUERY`, `SQL_CONNECTION`
   * @example
   * ```ts
   * const r = await db.execute(sql`UPDATE customers SET active = ${false} WHERE id = ${id}`);
   * r.affectedRowCount; // 1
   * ```
   */
  async execute(query: SqlQuery): Promise<ExecutionResult> {
    const { text, values } = requireQuery(query).render(this.source.dialect);
    const session = await this.#acquire();
    let destroy = false;
    try {
      return await session.exec(text, values);
    } catch (e) {
      const err = wrapDriverError(e, "execute failed");
      destroy = err.code === "SQL_CONNECTION";
      throw err;
    } finally {
      this.source.done(session, destroy);
    }
  }

  /**
   * Run several statements in order, all or nothing (inside a transaction; within
   * {@link Client.transaction} they join the surrounding one).
   *
   * @throws {SqlError} `SQL_BATCH_EXECUTE` with `failedIndex` (the batch was rolled back)
   * @example
   * ```ts
   * await db.batchExecute(rows.map((r) => sql`INSERT INTO t (a, b) VALUES (${r.a}, ${r.b})`));
   * ```
   */
  abstract batchExecute(queries: readonly SqlQuery[]): Promise<ExecutionResult[]>;

  /** @internal */
  protected async runBatch(session: Session, queries: readonly SqlQuery[]): Promise<ExecutionResult[]> {
    const rendered = queries.map((q) => requireQuery(q).render(this.source.dialect));
    const results: ExecutionResult[] = [];
    for (const [i, { text, values }] of rendered.entries()) {
      try {
        results.push(await session.exec(text, values));
      } catch (e) {
        const cause = wrapDriverError(e, `statement ${i} failed`);
        throw new SqlError("SQL_BATCH_EXECUTE", `batchExecute: ${cause.message}`, {
          cause,
          failedIndex: i,
          sqlState: cause.sqlState,
          errno: cause.errno,
        });
      }
    }
    return results;
  }

  async #acquire(): Promise<Session> {
    try {
      return await this.source.acquire();
    } catch (e) {
      throw wrapDriverError(e, "cannot connect");
    }
  }

  /** @internal */
  protected acquireSession(): Promise<Session> {
    return this.#acquire();
  }
}

/**
 * The operations of {@link Client} bound to one connection inside {@link Client.transaction}.
 * Use it only within the callback. Read a query stream to its end (or close it) before
 * running the next statement: a connection runs one statement at a time.
 *
 * @example
 * ```ts
 * await db.transaction(async (tx) => {
 *   await tx.execute(sql`UPDATE accounts SET balance = balance - ${n} WHERE id = ${from}`);
 *   await tx.execute(sql`UPDATE accounts SET balance = balance + ${n} WHERE id = ${to}`);
 * });
 * ```
 */
export class Transaction extends Executor {
  /** @internal */
  protected readonly source: SessionSource;
  readonly #session: Session;

  /** @internal Created by {@link Client.transaction}. */
  constructor(session: Session, dialect: Dialect, batchSize: number) {
    super();
    this.#session = session;
    this.source = {
      dialect,
      batchSize,
      keepSession: true,
      acquire: () => Promise.resolve(session),
      done: () => undefined,
    };
  }

  batchExecute(queries: readonly SqlQuery[]): Promise<ExecutionResult[]> {
    return this.runBatch(this.#session, queries);
  }
}

/**
 * A SQL client for PostgreSQL (`postgres://…`, pg with a pg-cursor server-side cursor) or
 * MySQL/MariaDB (`mysql://…`, mysql2 streaming), with a connection pool. Queries are
 * {@link sql} tagged templates: values are always bound parameters.
 *
 * @example
 * ```ts
 * import { Client, sql } from "@pirouette/sql";
 * await using db = new Client({ url: process.env.PGURL ?? "postgres://postgres@127.0.0.1:5432/test" });
 * const active = db.query(sql`SELECT id, email FROM customers WHERE active = ${true}`);
 * for await (const c of active) console.log(c.email);
 * const { affectedRowCount } = await db.execute(sql`DELETE FROM customers WHERE id = ${7}`);
 * ```
 */
export class Client extends Executor implements AsyncDisposable {
  /** @internal */
  protected readonly source: SessionSource;
  readonly #driver: Driver;
  #closed: Promise<void> | undefined;

  constructor(options: ClientOptions | string) {
    super();
    const o: ClientOptions = typeof options === "string" ? { url: options } : options;
    const batchSize = o.batchSize ?? 1000;
    checkBatchSize(batchSize);
    const max = o.maxConnections ?? 10;
    if (!Number.isInteger(max) || max < 1) throw new SqlError("SQL_INVALID_CONFIG", "maxConnections must be an integer >= 1");
    const connectTimeoutMs = o.connectTimeoutMs ?? 10_000;
    const scheme = /^([a-z0-9+.-]+):/i.exec(o.url)?.[1]?.toLowerCase();
    if (scheme === "postgres" || scheme === "postgresql") {
      this.#driver = pgDriver({ url: o.url, max, applicationName: o.applicationName, connectTimeoutMs });
    } else if (scheme === "mysql" || scheme === "mariadb") {
      this.#driver = mysqlDriver({ url: o.url, max, connectTimeoutMs });
    } else {
      throw new SqlError("SQL_INVALID_CONFIG", `unsupported URL scheme ${JSON.stringify(scheme ?? "")}: use postgres:// or mysql://`);
    }
    const driver = this.#driver;
    const isClosed = (): boolean => this.#closed !== undefined;
    this.source = {
      dialect: driver.dialect,
      batchSize,
      keepSession: false,
      acquire: () => (isClosed() ? Promise.reject(new SqlError("SQL_CLOSED", "the client is closed")) : driver.acquire()),
      done: (session, destroy) => session.release(destroy),
    };
  }

  /** The dialect queries are rendered for: `"postgres"` or `"mysql"`. */
  get dialect(): Dialect {
    return this.#driver.dialect;
  }

  async batchExecute(queries: readonly SqlQuery[]): Promise<ExecutionResult[]> {
    return this.transaction((tx) => tx.batchExecute(queries));
  }

  /**
   * Run `fn` in a transaction on one connection: commit when it resolves, roll back when it
   * throws (the error is rethrown).
   *
   * @throws {SqlError} whatever `fn` throws, or `SQL_QUERY` / `SQL_CONNECTION` from BEGIN/COMMIT
   * @example
   * ```ts
   * const id = await db.transaction(async (tx) => {
   *   const r = await tx.execute(sql`INSERT INTO orders (customer) VALUES (${c}) RETURNING id`);
   *   await tx.execute(sql`INSERT INTO order_lines (order_id, sku) VALUES (${r.lastInsertId}, ${sku})`);
   *   return r.lastInsertId;
   * });
   * ```
   */
  async transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
    const session = await this.acquireSession();
    let destroy = false;
    try {
      try {
        await session.run(this.#driver.dialect === "postgres" ? "BEGIN" : "START TRANSACTION");
      } catch (e) {
        destroy = true;
        throw wrapDriverError(e, "BEGIN failed");
      }
      let result: R;
      try {
        result = await fn(new Transaction(session, this.#driver.dialect, this.source.batchSize));
      } catch (e) {
        try {
          await session.run("ROLLBACK");
        } catch {
          destroy = true;
        }
        throw e;
      }
      try {
        await session.run("COMMIT");
      } catch (e) {
        destroy = true;
        throw wrapDriverError(e, "COMMIT failed");
      }
      return result;
    } finally {
      session.release(destroy);
    }
  }

  /** Close the pool. Idempotent. Open streams should be closed first. */
  close(): Promise<void> {
    return (this.#closed ??= this.#driver.end());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function checkBatchSize(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new SqlError("SQL_INVALID_CONFIG", "batchSize must be an integer >= 1");
}
