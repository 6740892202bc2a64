/**
 * `CdcListener`: PostgreSQL change data capture over logical replication (pgoutput).
 *
 * @module
 */
import {
  AbstractListener,
  createServiceConfigDecorator,
  toError,
  validate,
  type Attachment,
  type Dispatcher,
  type DualClassDecorator,
  type FailureAction,
  type HandlerContext,
  type ListenerOptions,
  type RetryPolicy,
} from "@pirouette/core";
import pg from "pg";
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from "pg-logical-replication";
import { SqlError } from "./errors.ts";
import type { Row } from "./options.ts";

/**
 * A CDC service: any of the three change methods, and optionally `onError`. `table` is the
 * qualified name, `schema.table`. `before` holds the old row: all columns with
 * `REPLICA IDENTITY FULL`, else only the key columns (and `undefined` for updates that did
 * not change the key).
 *
 * @example
 * ```ts
 * const service: CdcService = {
 *   onCreate: (after, table) => console.log("new row in", table, after),
 *   onDelete: (before) => console.log("gone", before.id),
 * };
 * ```
 */
export interface CdcService {
  onCreate?(after: Row, table: string, ctx: HandlerContext): unknown;
  onUpdate?(before: Row | undefined, after: Row, table: string, ctx: HandlerContext): unknown;
  onDelete?(before: Row, table: string, ctx: HandlerContext): unknown;
  onError?(error: Error): unknown;
}

/**
 * Per-service CDC configuration (`@sql.CdcServiceConfig` or `attach` options).
 *
 * @example
 * ```ts
 * @CdcServiceConfig({ tables: ["public.orders", "order_lines"] })
 * class Orders implements CdcService { onCreate(after: Row) {} }
 * ```
 */
export interface CdcServiceConfig {
  /** Tables to capture: `name` (schema `public`) or `schema.name`. */
  readonly tables: readonly string[];
}

/**
 * Options of {@link CdcListener}.
 *
 * @example
 * ```ts
 * new CdcListener({ url: "postgres://postgres@127.0.0.1:5432/test", slotName: "orders_cdc" });
 * ```
 */
export interface CdcListenerOptions extends ListenerOptions {
  /** A `postgres://` URL of a server with `wal_level = logical`. */
  readonly url: string;
  /**
   * The logical replication slot: it keeps the position acknowledged so far, so a listener
   * started again with the same slot resumes there. Created (pgoutput) when missing.
   */
  readonly slotName: string;
  /** The publication (created or set to the services' tables on start). Default: `slotName`. */
  readonly publicationName?: string;
  /** Retries of a failing handler before `onHandlerFailure`. Default: core's policy. */
  readonly retry?: RetryPolicy | false;
  /**
   * After retries: `"skip"` (default: `onError`, then acknowledged) or `"stop"` (stop the
   * listener without acknowledging: the change comes again after a restart).
   */
  readonly onHandlerFailure?: Exclude<FailureAction, "dead-letter">;
  /** How often to send a status update with the acknowledged position. Default 10 000 ms. */
  readonly statusIntervalMs?: number;
}

/**
 * `@sql.CdcServiceConfig({ tables })`: the tables a CDC service captures.
 *
 * @example
 * ```ts
 * @CdcServiceConfig({ tables: ["orders"] })
 * class Orders { onCreate(after: Row, table: string) { console.log(table, after); } }
 * ```
 */
export const CdcServiceConfig: (config: CdcServiceConfig) => DualClassDecorator =
  createServiceConfigDecorator<CdcServiceConfig>();

/** A change handed to a dispatcher. */
interface Change {
  readonly kind: "insert" | "update" | "delete";
  readonly table: string;
  readonly before: Row | undefined;
  readonly after: Row | undefined;
  readonly lsn: string;
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A PostgreSQL change-data-capture listener (Ballerina's CDC `Listener`): it streams the
 * changes of the services' tables through logical replication (pgoutput) and calls
 * `onCreate(after, table)`, `onUpdate(before, after, table)` and `onDelete(before, table)` in
 * commit order, one change at a time. Delivery is at-least-once: a transaction's end is
 * acknowledged to the server only after every handler for it finished, and a listener started
 * again on the same slot resumes from the last acknowledged transaction.
 *
 * The slot and the publication it creates stay after `gracefulStop` (that is what makes
 * resuming possible); drop them with `SELECT pg_drop_replication_slot('…')` and
 * `DROP PUBLICATION …` when the capture is retired.
 *
 * @example
 * ```ts
 * const listener = new CdcListener({ url: process.env.PGURL!, slotName: "orders_cdc" });
 * await listener.attach(
 *   { onCreate: (order: Row) => ship(order), onError: (e: Error) => console.error(e) },
 *   { tables: ["orders"] },
 * );
 * await listener.start();
 * ```
 */
export class CdcListener extends AbstractListener<CdcService, CdcServiceConfig> {
  protected readonly spec = {
    protocol: "sql",
    methods: { onCreate: {}, onUpdate: {}, onDelete: {}, onError: {} },
    atLeastOneOf: [["onCreate", "onUpdate", "onDelete"]],
    error: (code: string, message: string) => new SqlError(code as never, message),
  };
  readonly #o: CdcListenerOptions;
  readonly #publication: string;
  #replication: LogicalReplicationService | undefined;
  #routes = new Map<string, { att: Attachment<CdcService, CdcServiceConfig>; dispatcher: Dispatcher<Change> }[]>();
  #stopping = false;
  #processing: Promise<void> = Promise.resolve();
  #pending: Promise<boolean>[] = [];
  #acked: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failed = false;

  constructor(options: CdcListenerOptions) {
    super({ ...options, protocol: "sql-cdc" });
    this.#o = options;
    this.#publication = options.publicationName ?? options.slotName;
    for (const [what, name] of [
      ["slotName", options.slotName],
      ["publicationName", this.#publication],
    ] as const) {
      if (!NAME.test(name)) {
        throw new SqlError("SQL_INVALID_CONFIG", `${what} must match ${String(NAME)} (got ${JSON.stringify(name)})`);
      }
    }
  }

  /** The last position acknowledged to the server (`X/Y`), once there is one. */
  get acknowledgedLsn(): string | undefined {
    return this.#acked;
  }

  protected override validateConfig(config: CdcServiceConfig): CdcServiceConfig {
    const tables: unknown = config.tables;
    if (!Array.isArray(tables) || tables.length === 0 || !tables.every((t) => typeof t === "string" && t !== "")) {
      throw new SqlError("SQL_INVALID_CONFIG", "a CDC service needs tables: a non-empty list of table names");
    }
    return { ...config, tables: tables.map(qualify) };
  }

  protected override onAttach(): Promise<void> {
    return Promise.reject(new SqlError("SQL_INVALID_CONFIG", "attach CDC services before start(): the publication is fixed then"));
  }

  protected async onStart(attachments: Attachment<CdcService, CdcServiceConfig>[]): Promise<void> {
    if (attachments.length === 0) throw new SqlError("SQL_INVALID_CONFIG", "attach at least one service before start()");
    const tables = new Set<string>();
    for (const att of attachments) {
      const dispatcher = this.createDispatcher<Change>({
        concurrency: 1,
        maxInFlight: 16,
        ...(this.#o.retry === undefined ? {} : { retry: this.#o.retry }),
        onHandlerFailure: this.#o.onHandlerFailure ?? "skip",
        telemetry: { system: "postgresql", consumerGroup: this.#o.slotName },
        invoke: (d, ctx) => this.#invoke(att, d.message, ctx),
        reportError: (err) => this.notifyError(att, err),
        onStop: () => this.#halt(),
      });
      for (const t of att.config.tables) {
        tables.add(t);
        const list = this.#routes.get(t) ?? [];
        list.push({ att, dispatcher });
        this.#routes.set(t, list);
      }
    }
    await this.#prepare([...tables]);
    const replication = new LogicalReplicationService(
      { connectionString: this.#o.url },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    this.#replication = replication;
    replication.on("data", (lsn: string, message: Pgoutput.Message) => {
      const p = this.#processing.then(() => this.#onMessage(lsn, message));
      this.#processing = p.catch(() => undefined);
      return p;
    });
    replication.on("heartbeat", (_lsn: string, _ts: number, shouldRespond: boolean) => {
      if (shouldRespond) this.#sendStatus();
    });
    replication.on("error", (e: Error) => {
      if (this.#stopping || this.#failed) return;
      void this.#reportAll(new SqlError("SQL_REPLICATION", `replication failed: ${e.message}`, { cause: e }));
    });
    const started = new Promise<void>((resolve) => replication.once("start", () => resolve()));
    const subscribed = replication
      .subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.#publication] }), this.#o.slotName)
      .catch((e: unknown) => {
        if (!this.#stopping && !this.#failed) {
          void this.#reportAll(new SqlError("SQL_REPLICATION", `replication stopped: ${toError(e).message}`, { cause: e }));
        }
        throw e;
      });
    await Promise.race([started, subscribed.then(() => undefined)]);
    subscribed.catch(() => undefined);
    this.#timer = setInterval(() => this.#sendStatus(), this.#o.statusIntervalMs ?? 10_000);
    this.#timer.unref();
  }

  async #prepare(tables: string[]): Promise<void> {
    const client = new pg.Client({ connectionString: this.#o.url });
    client.on("error", () => undefined);
    try {
      await client.connect();
      const list = tables.map((t) => t.split(".").map((p) => client.escapeIdentifier(p)).join(".")).join(", ");
      const exists = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [this.#publication]);
      const pub = client.escapeIdentifier(this.#publication);
      await client.query(exists.rowCount === 0 ? `CREATE PUBLICATION ${pub} FOR TABLE ${list}` : `ALTER PUBLICATION ${pub} SET TABLE ${list}`);
      const slot = await client.query("SELECT plugin FROM pg_replication_slots WHERE slot_name = $1", [this.#o.slotName]);
      if (slot.rowCount === 0) {
        await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [this.#o.slotName]);
      } else if ((slot.rows[0] as { plugin: string }).plugin !== "pgoutput") {
        throw new SqlError("SQL_INVALID_CONFIG", `slot ${this.#o.slotName} does not use pgoutput`);
      }
    } catch (e) {
      throw e instanceof SqlError ? e : new SqlError("SQL_REPLICATION", `cannot set up replication: ${toError(e).message}`, { cause: e });
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #onMessage(lsn: string, m: Pgoutput.Message): Promise<void> {
    if (this.#stopping || this.#failed) return; // not acknowledged: sent again after a restart
    switch (m.tag) {
      case "insert":
      case "update":
      case "delete": {
        const table = `${m.relation.schema}.${m.relation.name}`;
        const before = m.tag === "insert" ? undefined : ((m.old ?? m.key ?? undefined) as Row | undefined);
        const after = m.tag === "delete" ? undefined : (m.new as Row);
        const change: Change = { kind: m.tag, table, before, after, lsn };
        for (const { dispatcher } of this.#routes.get(table) ?? []) {
          let settle!: (ok: boolean) => void;
          this.#pending.push(new Promise<boolean>((resolve) => (settle = resolve)));
          // submit resolves when the dispatcher has room: commit order and bounded memory
          await dispatcher
            .submit({
              message: change,
              key: "cdc",
              destination: table,
              coordinates: { table, lsn, operation: m.tag },
              ack: () => settle(true),
              reject: () => settle(false),
            })
            .catch(() => settle(false));
        }
        return;
      }
      case "commit": {
        const pending = this.#pending;
        this.#pending = [];
        const results = await Promise.all(pending);
        if (results.includes(false) || this.#failed) {
          this.#halt();
          return;
        }
        if (m.commitEndLsn !== null) {
          this.#acked = m.commitEndLsn;
          this.#sendStatus();
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * A change could not be handled (`onHandlerFailure: "stop"`, or aborted): take no more
   * changes and close the replication stream without acknowledging anything further. A listener
   * started again on the slot gets the unacknowledged transaction again.
   */
  #halt(): void {
    if (this.#failed) return;
    this.#failed = true;
    this.logger.warn({ slot: this.#o.slotName }, "a change was not handled: replication stopped");
    void this.#replication?.stop().catch(() => undefined);
  }

  /** Report the acknowledged position (flush = the end of the last fully handled transaction). */
  #sendStatus(): void {
    if (this.#replication === undefined || this.#failed) return;
    // acknowledge(x) reports x + 1: pass the position before, so that the server records the
    // transaction's end exactly (one byte further could skip a transaction committed there).
    // Before the first acknowledgement, 0/0 keeps the connection alive and moves nothing.
    const lsn = this.#acked === undefined ? "0/0" : lsnMinusOne(this.#acked);
    void this.#replication.acknowledge(lsn).catch(() => undefined);
  }

  async #invoke(att: Attachment<CdcService, CdcServiceConfig>, c: Change, ctx: HandlerContext): Promise<unknown> {
    const s = att.service;
    if (c.kind === "insert") {
      if (s.onCreate === undefined) return undefined;
      return s.onCreate(await this.#bind(att, "onCreate", c.after, c), c.table, ctx);
    }
    if (c.kind === "update") {
      if (s.onUpdate === undefined) return undefined;
      return s.onUpdate(c.before, await this.#bind(att, "onUpdate", c.after, c), c.table, ctx);
    }
    if (s.onDelete === undefined) return undefined;
    return s.onDelete(c.before ?? {}, c.table, ctx);
  }

  async #bind(att: Attachment<CdcService, CdcServiceConfig>, method: string, row: Row | undefined, c: Change): Promise<Row> {
    const schema = att.payloadSchema(method);
    if (schema === undefined) return row ?? {};
    return (await validate(schema, row, { table: c.table, lsn: c.lsn })) as Row;
  }

  async #reportAll(error: Error): Promise<void> {
    const seen = new Set<CdcService>();
    for (const list of this.#routes.values()) {
      for (const { att } of list) {
        if (seen.has(att.service)) continue;
        seen.add(att.service);
        await this.notifyError(att, error);
      }
    }
  }

  protected stopIntake(): Promise<void> {
    this.#stopping = true;
    return Promise.resolve();
  }

  protected async onClose(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    const replication = this.#replication;
    this.#replication = undefined;
    if (replication === undefined) return;
    // A commit being settled acknowledges once its handlers finished (drained by gracefulStop).
    await Promise.race([this.#processing, new Promise((r) => setTimeout(r, 1000).unref())]);
    if (this.#acked !== undefined) await replication.acknowledge(lsnMinusOne(this.#acked)).catch(() => false);
    await replication.destroy().catch(() => undefined);
  }
}

function qualify(table: string): string {
  return table.includes(".") ? table : `public.${table}`;
}

function lsnMinusOne(lsn: string): string {
  const [hi = "0", lo = "0"] = lsn.split("/");
  const v = (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`) - 1n;
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}
