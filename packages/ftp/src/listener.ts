/**
 * `ftp.Listener`: Ballerina's polling `ftp:Listener` for SFTP and FTP, at-least-once.
 *
 * @module
 */
import { posix } from "node:path";
import picomatch from "picomatch";
import {
  AbstractListener,
  bind,
  createServiceConfigDecorator,
  json,
  text,
  toError,
  validate,
  type AttachOptions,
  type Attachment,
  type Delivery,
  type Dispatcher,
  type HandlerContext,
  type ServiceSpec,
  type Stream,
} from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Caller } from "./caller.ts";
import { FtpClient } from "./client.ts";
import { FtpError, type FtpErrorCode } from "./errors.ts";
import { csvError, csvRecords } from "./internal/csv.ts";
import { DEFAULT_MAX_FILE_BYTES } from "./internal/config.ts";
import { collect, limitBytes } from "./internal/streams.ts";
import { checkPath, isInside, joinPath, printable, unsafeNameReason } from "./internal/paths.ts";
import type { FileAction, FileInfo, FtpListenerOptions, FtpServiceConfig, WatchEvent } from "./options.ts";
import type { ProcessedFileStore } from "./state-store.ts";

/**
 * The service shape. Every method is optional, but a service needs at least one of
 * `onFileChange`, `onFile`, `onFileText`, `onFileJson`, `onFileCsv`, `onFileDelete`;
 * `onFileChange` cannot be combined with the per-format methods.
 *
 * - `onFileChange(event, caller, ctx)`: once per poll with the files that became stable
 *   (`addedFiles`) and those that disappeared (`deletedFiles`).
 * - `onFile(content, file, caller, ctx)`: the bytes (`Uint8Array`, or a `Stream` of blocks with
 *   `content: "stream"`), for files no format method takes.
 * - `onFileText(text, file, …)` (`.txt`, and any file when there is no `onFile`),
 *   `onFileJson(value, file, …)` (`.json`), `onFileCsv(records, file, …)` (`.csv`; an array, or a
 *   `Stream` of records with `content: "stream"`). A payload schema (`@payload` or
 *   `attach({ payload })`) validates what the method receives: the JSON value, the text, the
 *   array of CSV records (`@payload(z.array(Order))`), or with `content: "stream"` each record.
 * - `onFileDelete(path, caller, ctx)`: a file seen before is gone (not counting the listener's own moves and deletes).
 * - `onError(error, file?)`: binding failures (`PayloadBindingError` with `coordinates.path`),
 *   handler failures after retries, unsafe names (`FTP_PATH`), failed polls (`FTP_CONNECTION`, …).
 *
 * A thrown error means the file was not handled: it is retried per `retry`, then `onError`
 * runs and `afterError` applies. `afterProcess` runs only after the handler succeeded.
 *
 * @example
 * ```ts
 * const svc: ftp.Service = {
 *   onFileCsv: (rows: Record<string, string>[], file: ftp.FileInfo) => save(file.name, rows),
 *   onError: (err, file) => log.warn({ err, path: file?.path }),
 * };
 * ```
 */
export interface Service {
  onFileChange?(event: WatchEvent, caller: Caller, context: HandlerContext): unknown;
  onFile?(content: never, file: FileInfo, caller: Caller, context: HandlerContext): unknown;
  onFileText?(content: never, file: FileInfo, caller: Caller, context: HandlerContext): unknown;
  onFileJson?(content: never, file: FileInfo, caller: Caller, context: HandlerContext): unknown;
  onFileCsv?(content: never, file: FileInfo, caller: Caller, context: HandlerContext): unknown;
  onFileDelete?(path: string, caller: Caller, context: HandlerContext): unknown;
  onError?(error: Error, file: FileInfo | undefined): unknown;
}

const CONTENT_METHODS = ["onFile", "onFileText", "onFileJson", "onFileCsv"] as const;
type ContentMethod = (typeof CONTENT_METHODS)[number];

const spec: ServiceSpec = {
  protocol: "ftp",
  methods: { onFileChange: {}, onFile: {}, onFileText: {}, onFileJson: {}, onFileCsv: {}, onFileDelete: {}, onError: {} },
  atLeastOneOf: [["onFileChange", ...CONTENT_METHODS, "onFileDelete"]],
  error: (code, message) => new FtpError(code as FtpErrorCode, message),
};

/**
 * `@ftp.ServiceConfig({ path, fileNamePattern, afterProcess, afterError, content, csv })`: the
 * directory a service watches. Every field can also be passed to `listener.attach(service, { … })`.
 *
 * @example
 * ```ts
 * @ftp.ServiceConfig({ path: "/in", fileNamePattern: "*.csv", afterProcess: { moveTo: "processed" } })
 * class Orders {
 *   @payload(Order)
 *   onFileCsv(orders: Order[], file: ftp.FileInfo) { return save(orders); }
 * }
 * ```
 */
export const ServiceConfig = createServiceConfigDecorator<FtpServiceConfig>();

/** Service config after checks. */
interface ResolvedServiceConfig extends FtpServiceConfig {
  readonly path: string;
  readonly matches: (name: string) => boolean;
}

/** What the listener knows about one name in a watched directory. */
interface Tracked {
  /** Size and time as last listed. */
  sig: string;
  status: "pending" | "active" | "done" | "failed" | "rejected" | "unsettled";
  /** For "unsettled": the action still to run (its handler already finished). */
  action?: FileAction;
}

type Job =
  | { readonly kind: "file"; readonly file: FileInfo; readonly sig: string }
  | { readonly kind: "change"; readonly event: WatchEvent; readonly sigs: ReadonlyMap<string, string> }
  | { readonly kind: "delete"; readonly path: string };

interface Route {
  readonly att: Attachment<object, ResolvedServiceConfig>;
  readonly cfg: ResolvedServiceConfig;
  readonly dispatcher: Dispatcher<Job>;
  readonly files: Map<string, Tracked>;
  polled: boolean;
  /** The last poll error's code, to report a repeating failure once. */
  lastPollError: string | undefined;
  detached: boolean;
}

/** One job for the dispatcher; settles the files it covers. */
class FileDelivery implements Delivery<Job> {
  readonly message: Job;
  readonly key: string | undefined;
  readonly destination: string;
  readonly coordinates: Readonly<Record<string, unknown>>;
  failed = false;
  readonly #settle: (d: FileDelivery, ok: boolean | "rejected") => Promise<void>;

  constructor(message: Job, route: Route, settle: (d: FileDelivery, ok: boolean | "rejected") => Promise<void>) {
    this.message = message;
    this.destination = route.cfg.path;
    this.#settle = settle;
    if (message.kind === "file") {
      this.key = message.file.path;
      this.coordinates = { path: message.file.path, size: message.file.size };
    } else if (message.kind === "delete") {
      this.key = message.path;
      this.coordinates = { path: message.path };
    } else {
      this.key = route.cfg.path;
      this.coordinates = { path: route.cfg.path, added: message.event.addedFiles.length, deleted: message.event.deletedFiles.length };
    }
  }

  ack(): Promise<void> {
    return this.#settle(this, !this.failed);
  }

  reject(): Promise<void> {
    return this.#settle(this, "rejected");
  }
}

function signature(f: FileInfo): string {
  return `${f.size}:${f.lastModified?.getTime() ?? f.rawModified ?? ""}`;
}

function isAction(a: unknown): a is FileAction {
  return a === "delete" || (typeof a === "object" && a !== null && typeof (a as { moveTo?: unknown }).moveTo === "string" && (a as { moveTo: string }).moveTo !== "");
}

/**
 * Ballerina's `ftp:Listener`: polls each attached service's directory over SFTP or FTP and
 * calls the service for new and re-uploaded files.
 *
 * - **Stable files only**: a file is taken once its size and time are the same on two polls
 *   in a row, so one still being uploaded waits; a re-upload under the same name (new size or
 *   time) is taken again.
 * - **At least once**: `afterProcess` (delete, or move to a folder) runs only after the handler
 *   succeeded; a failure is retried per `retry`, then `onError` runs and `afterError` applies. A
 *   crash between a handler's success and the move means the file is handled again on restart.
 * - **Restarts**: files present at the first poll are processed (`initialFiles: "process"`,
 *   default) — with `afterProcess` these are exactly the unprocessed ones; without it, pass a
 *   `stateStore` (or `initialFiles: "skip"`) so that processed files are not taken again.
 * - **Hostile names**: names with `..`, a separator, NUL or control characters, and symbolic
 *   links leading outside the watched directory are never processed: `onError` gets `FTP_PATH`.
 * - **Graceful stop** stops polling and lets in-flight files finish (and be moved).
 *
 * @example
 * ```ts
 * const listener = new ftp.Listener({
 *   url: "sftp://etl@127.0.0.1:2222",
 *   auth: { credentials: { username: "etl", password: process.env.SFTP_PASSWORD } },
 *   hostKey: { fingerprint: "SHA256:rJBSSguac2TF5tLygXt+efJIvhiB0IZ4H3iEng9Kqkk" },
 *   pollingIntervalMs: 5000,
 * });
 *
 * @service(listener)
 * @ftp.ServiceConfig({ path: "/in", fileNamePattern: "*.csv", afterProcess: { moveTo: "/in/processed" }, afterError: { moveTo: "/in/errors" } })
 * class Orders {
 *   @payload(Order)
 *   async onFileCsv(orders: Order[], file: ftp.FileInfo) { await db.insert(orders); }
 *   onError(err: Error, file?: ftp.FileInfo) { log.warn({ err, path: file?.path }); }
 * }
 *
 * await listener.start();
 * ```
 */
export class FtpListener extends AbstractListener<object, ResolvedServiceConfig> {
  protected readonly spec = spec;
  readonly #o: FtpListenerOptions;
  readonly #client: FtpClient;
  readonly #interval: number;
  readonly #concurrency: number;
  readonly #store: ProcessedFileStore | undefined;
  readonly #routes = new Map<object, Route>();
  #stopping = false;
  #loop: Promise<void> | undefined;
  #polling: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: FtpListenerOptions = {}) {
    super({ ...options, protocol: "ftp" });
    this.#o = options;
    this.#interval = options.pollingIntervalMs ?? 60_000;
    if (!(this.#interval > 0)) throw new FtpError("FTP_INVALID_CONFIG", "pollingIntervalMs must be a positive number");
    this.#concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) throw new FtpError("FTP_INVALID_CONFIG", "concurrency must be an integer >= 1");
    if (options.initialFiles !== undefined && options.initialFiles !== "process" && options.initialFiles !== "skip") {
      throw new FtpError("FTP_INVALID_CONFIG", 'initialFiles must be "process" or "skip"');
    }
    this.#store = options.stateStore;
    const { retry: _handlerRetry, clientRetry, ...connection } = options;
    const isFtp = (options.protocol ?? (options.url?.startsWith("sftp:") === true ? "sftp" : "ftp")) === "ftp";
    this.#client = new FtpClient({
      ...connection,
      ...(clientRetry === undefined ? {} : { retry: clientRetry }),
      // FTP: one connection per file in flight, one for polling and the handlers' caller.
      ...(isFtp ? { maxConnections: Math.max(options.maxConnections ?? 0, this.#concurrency + 1) } : {}),
      logger: this.logger,
    });
  }

  /** The listener's client: what a `Caller` is. */
  get client(): Caller {
    return this.#client;
  }

  override attach(service: object, options?: string | readonly string[] | AttachOptions): Promise<void> {
    const has = (m: string): boolean => typeof (service as Record<string, unknown>)[m] === "function";
    if (has("onFileChange") && CONTENT_METHODS.some(has)) {
      return Promise.reject(
        new FtpError(
          "FTP_METHOD_CONFLICT",
          `an ftp service has either onFileChange or the per-format methods (${CONTENT_METHODS.join(", ")}), not both`,
        ),
      );
    }
    return super.attach(service, options);
  }

  protected override validateConfig(config: ResolvedServiceConfig): ResolvedServiceConfig {
    const path = config.path;
    if (typeof path !== "string" || path === "") {
      throw new FtpError("FTP_INVALID_CONFIG", "an ftp service needs a path: @ftp.ServiceConfig({ path: \"/in\" }) or attach(service, { path })");
    }
    checkPath(path, "service path");
    const p = config.fileNamePattern;
    let matches: (name: string) => boolean;
    if (p === undefined) matches = () => true;
    else if (p instanceof RegExp) matches = (n) => p.test(n);
    else if (typeof p === "string" && p !== "") {
      try {
        matches = picomatch(p);
      } catch (cause) {
        throw new FtpError("FTP_INVALID_CONFIG", `fileNamePattern ${JSON.stringify(p)} is not a valid glob: ${toError(cause).message}`, { cause });
      }
    } else throw new FtpError("FTP_INVALID_CONFIG", "fileNamePattern must be a glob string or a RegExp");
    for (const k of ["afterProcess", "afterError"] as const) {
      if (config[k] !== undefined && !isAction(config[k])) throw new FtpError("FTP_INVALID_CONFIG", `${k} must be "delete" or { moveTo: folder }`);
    }
    if (config.content !== undefined && config.content !== "whole" && config.content !== "stream") {
      throw new FtpError("FTP_INVALID_CONFIG", 'content must be "whole" or "stream"');
    }
    return { ...config, path, matches };
  }

  protected async onStart(attachments: Attachment<object, ResolvedServiceConfig>[]): Promise<void> {
    // Fail start on a wrong host, host key or credentials rather than in the first poll.
    await this.#client.connect();
    for (const att of attachments) this.#addRoute(att);
    this.#loop = this.#run();
  }

  protected override onAttach(att: Attachment<object, ResolvedServiceConfig>): Promise<void> {
    this.#addRoute(att);
    this.#wake?.();
    return Promise.resolve();
  }

  protected override async onDetach(att: Attachment<object, ResolvedServiceConfig>): Promise<void> {
    const route = this.#routes.get(att.service);
    if (route === undefined) return;
    route.detached = true;
    this.#routes.delete(att.service);
    const drained = await route.dispatcher.drain(this.gracefulStopTimeoutMs);
    if (!drained) route.dispatcher.abortAll();
    this.releaseDispatcher(route.dispatcher);
  }

  protected async stopIntake(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    // A poll may be waiting for room in a dispatcher (handlers running); it submits nothing more.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#loop, new Promise((resolve) => (timer = setTimeout(resolve, this.gracefulStopTimeoutMs)))]);
    clearTimeout(timer);
  }

  protected async onClose(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#client.close();
    for (const r of this.#routes.values()) this.releaseDispatcher(r.dispatcher);
    this.#routes.clear();
  }

  /**
   * Poll every service's directory now (Ballerina's `poll()`), without waiting for the
   * interval. Resolves when the poll has submitted what it found (not when handlers finish).
   *
   * @example
   * ```ts
   * await client.putText("/in/a.txt", "x");
   * await listener.poll(); // seen
   * await listener.poll(); // stable: handed to the service
   * ```
   */
  poll(): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return (this.#polling ??= this.#pollAll().finally(() => {
      this.#polling = undefined;
    }));
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      await this.poll();
      if (this.#stopping) break;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, this.#interval);
      });
      this.#wake = undefined;
    }
  }

  async #pollAll(): Promise<void> {
    for (const route of [...this.#routes.values()]) {
      if (this.#stopping) return;
      try {
        await this.#pollRoute(route);
      } catch (e) {
        // #pollRoute reports its own failures; this is a bug guard, never an unhandled rejection.
        this.logger.error({ err: toError(e), path: route.cfg.path }, "ftp poll failed unexpectedly");
      }
    }
  }

  // ---------------------------------------------------------------- one poll of one directory

  async #pollRoute(route: Route): Promise<void> {
    const dir = route.cfg.path;
    let listing: FileInfo[];
    try {
      listing = await this.#client.list(dir);
    } catch (e) {
      if (this.#stopping) return; // the client is closing under it
      const err = FtpError.isFtpError(e) ? e : new FtpError("FTP_FAILED", toError(e).message, { path: dir, cause: e });
      if (route.lastPollError !== err.code) {
        route.lastPollError = err.code;
        await this.notifyError(route.att, err, undefined);
      } else this.logger.warn({ err, path: dir }, "ftp poll failed again");
      return;
    }
    route.lastPollError = undefined;
    const first = !route.polled;
    route.polled = true;
    const seen = new Set<string>();
    const ready: FileInfo[] = [];
    /** Listing signatures of the ready files (a symlink's file info describes its target). */
    const sigs = new Map<string, string>();
    const service = route.att.service as Service;
    const takesFiles = typeof service.onFileChange === "function" || CONTENT_METHODS.some((m) => route.att.has(m));
    let rootReal: string | undefined | null = null;

    for (const entry of listing) {
      if (entry.isDirectory) continue;
      const name = entry.name;
      seen.add(name);
      const unsafe = unsafeNameReason(name);
      const sig = signature(entry);
      const t = route.files.get(name);
      if (unsafe !== undefined) {
        if (t?.status !== "rejected" || t.sig !== sig) {
          route.files.set(name, { sig, status: "rejected" });
          await this.#reject(route, entry, `the remote name ${printable(name)} has ${unsafe}; not processed`);
        }
        continue;
      }
      if (!route.cfg.matches(name)) continue;
      if (t?.status === "active") continue;
      if (t?.status === "unsettled") {
        await this.#retrySettle(route, entry, t);
        continue;
      }
      if (t !== undefined && t.status !== "pending" && t.sig === sig) continue; // done, failed or rejected, unchanged
      if (t === undefined || t.status !== "pending") {
        // New, or changed since it was handled: wait for one more poll with the same size and time.
        let status: Tracked["status"] = "pending";
        if (t === undefined && first && this.#o.initialFiles === "skip") status = "done";
        else if (t === undefined && this.#store !== undefined && (await this.#storeGet(entry.path)) === sig) status = "done";
        route.files.set(name, { sig, status });
        continue;
      }
      if (t.sig !== sig) {
        t.sig = sig; // still growing
        continue;
      }
      // Stable. Symbolic links must stay inside the watched directory.
      let file: FileInfo | undefined = entry;
      if (entry.isSymbolicLink) {
        if (rootReal === null) rootReal = await this.#realPath(route, dir);
        file = await this.#resolveLink(route, entry, rootReal);
        if (file === undefined) {
          t.status = "rejected";
          continue;
        }
      } else if (!entry.isFile) continue;
      if (!takesFiles) {
        t.status = "done"; // an onFileDelete-only service: tracked for deletions, never handled
        continue;
      }
      t.status = "active";
      ready.push(file);
      sigs.set(name, sig);
    }

    const deleted: string[] = [];
    for (const [name, t] of route.files) {
      if (seen.has(name) || t.status === "active") continue;
      route.files.delete(name);
      if (t.status === "done" || t.status === "failed") {
        const path = joinPath(dir, name);
        deleted.push(path);
        if (this.#store !== undefined) await this.#storeDelete(path);
      }
    }

    if (this.#stopping || route.detached) {
      for (const f of ready) {
        const t = route.files.get(f.name);
        if (t !== undefined) t.status = "pending";
      }
      return;
    }
    if (typeof service.onFileChange === "function") {
      if (ready.length > 0 || deleted.length > 0) {
        await route.dispatcher.submit(new FileDelivery({ kind: "change", event: { addedFiles: ready, deletedFiles: deleted }, sigs }, route, this.#settler(route)));
      }
      return;
    }
    for (const file of ready) {
      if (this.#stopping) {
        const t = route.files.get(file.name);
        if (t !== undefined) t.status = "pending";
        continue;
      }
      await route.dispatcher.submit(new FileDelivery({ kind: "file", file, sig: sigs.get(file.name) ?? signature(file) }, route, this.#settler(route)));
    }
    if (typeof service.onFileDelete === "function") {
      for (const path of deleted) {
        if (this.#stopping) break;
        await route.dispatcher.submit(new FileDelivery({ kind: "delete", path }, route, this.#settler(route)));
      }
    }
  }

  async #realPath(route: Route, dir: string): Promise<string | undefined> {
    try {
      return await this.#client.realPath(dir);
    } catch (e) {
      await this.notifyError(route.att, toError(e), undefined);
      return undefined;
    }
  }

  /** A symbolic link in the watched directory: the file it leads to, if that stays inside. */
  async #resolveLink(route: Route, entry: FileInfo, rootReal: string | undefined): Promise<FileInfo | undefined> {
    const dir = route.cfg.path;
    try {
      if (this.#client.protocol === "sftp") {
        const target = await this.#client.realPath(entry.path);
        if (rootReal === undefined || target === undefined || !isInside(rootReal, target)) {
          await this.#reject(route, entry, `the symbolic link ${entry.path} leads to ${target ?? "an unknown place"}, outside ${dir}; not processed`);
          return undefined;
        }
        const st = await this.#client.stat(target);
        if (!st.isFile) return undefined;
        return { ...st, path: entry.path, name: entry.name, extension: entry.extension, isSymbolicLink: true };
      }
      // FTP cannot resolve links: judge the listed target by its text.
      const link = entry.linkTarget;
      const target = link === undefined ? undefined : posix.normalize(link.startsWith("/") ? link : joinPath(dir, link));
      if (target === undefined || !isInside(dir, target) || target === posix.normalize(dir)) {
        await this.#reject(route, entry, `the symbolic link ${entry.path} leads to ${link ?? "an unknown place"}, outside ${dir}; not processed`);
        return undefined;
      }
      const size = await this.#client.size(entry.path);
      return { ...entry, size, isFile: true };
    } catch (e) {
      await this.notifyError(route.att, toError(e), entry);
      return undefined;
    }
  }

  async #reject(route: Route, file: FileInfo, message: string): Promise<void> {
    const err = new FtpError("FTP_PATH", message, { path: file.path });
    this.logger.warn({ path: file.path }, message);
    await this.notifyError(route.att, err, file);
  }

  // ---------------------------------------------------------------- dispatch

  #addRoute(att: Attachment<object, ResolvedServiceConfig>): Route {
    const o = this.#o;
    const dispatcher = this.createDispatcher<Job>({
      concurrency: this.#concurrency,
      maxInFlight: Math.max(2, this.#concurrency * 2),
      ...(o.retry === undefined ? {} : { retry: o.retry }),
      onHandlerFailure: "skip",
      telemetry: { system: this.#client.protocol },
      invoke: (d, ctx) => this.#invoke(route, d.message, ctx),
      reportError: (error, d) => {
        (d as FileDelivery).failed = true;
        const m = d.message;
        return this.notifyError(att, error, m.kind === "file" ? m.file : undefined);
      },
    });
    const route: Route = { att, cfg: att.config, dispatcher, files: new Map(), polled: false, lastPollError: undefined, detached: false };
    this.#routes.set(att.service, route);
    return route;
  }

  #invoke(route: Route, job: Job, ctx: HandlerContext): unknown {
    const service = route.att.service as Service & Record<string, unknown>;
    const caller: Caller = this.#client;
    if (job.kind === "change") return (service.onFileChange as NonNullable<Service["onFileChange"]>).call(service, job.event, caller, ctx);
    if (job.kind === "delete") return (service.onFileDelete as NonNullable<Service["onFileDelete"]>).call(service, job.path, caller, ctx);
    const method = this.#methodFor(route, job.file);
    if (method === undefined) {
      this.logger.debug({ path: job.file.path }, "no handler for this file; left as is");
      return undefined;
    }
    return this.#deliverContent(route, method, job.file, caller, ctx);
  }

  /** `.json` → onFileJson, `.csv` → onFileCsv, `.txt` → onFileText; else onFile, onFileText, onFileCsv, onFileJson. */
  #methodFor(route: Route, file: FileInfo): ContentMethod | undefined {
    const has = (m: ContentMethod): boolean => route.att.has(m);
    const ext = file.extension.toLowerCase();
    if (ext === "json" && has("onFileJson")) return "onFileJson";
    if (ext === "csv" && has("onFileCsv")) return "onFileCsv";
    if (ext === "txt" && has("onFileText")) return "onFileText";
    for (const m of ["onFile", "onFileText", "onFileCsv", "onFileJson"] as const) if (has(m)) return m;
    return undefined;
  }

  async #deliverContent(route: Route, method: ContentMethod, file: FileInfo, caller: Caller, ctx: HandlerContext): Promise<unknown> {
    const service = route.att.service as Record<string, (...args: unknown[]) => unknown>;
    const fn = service[method] as (...args: unknown[]) => unknown;
    const schema: StandardSchemaV1 | undefined = route.att.payloadSchema(method);
    const coordinates = { path: file.path, size: file.size };
    const streaming = route.cfg.content === "stream";
    const max = this.#o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (method === "onFile" && streaming) {
      const stream = await this.#client.getBytesAsStream(file.path);
      return this.#withStream(stream, () => fn.call(service, stream, file, caller, ctx));
    }
    if (method === "onFileCsv") {
      const bytes: Stream<Uint8Array, FtpError> = await this.#client.getBytesAsStream(file.path);
      if (streaming) {
        // A stream's schema checks each record as it is parsed.
        const records = csvRecords(bytes, file.path, route.cfg.csv, schema);
        return this.#withStream(records, () => fn.call(service, records, file, caller, ctx));
      }
      let rows: unknown[];
      try {
        rows = await csvRecords(limitBytes(bytes, file.path, max), file.path, route.cfg.csv, undefined).toArray();
      } catch (e) {
        throw csvError(e, file.path);
      }
      // The array's schema checks what the method receives: `@payload(z.array(Order))`.
      const value = schema === undefined ? rows : await validate(schema, rows, coordinates);
      return fn.call(service, value, file, caller, ctx);
    }
    const bytes = await collect(await this.#client.getBytesAsStream(file.path), file.path, max);
    if (method === "onFile") return fn.call(service, bytes, file, caller, ctx);
    const codec = method === "onFileJson" ? json({ maxBytes: max }) : text({ maxBytes: max });
    const value = await bind(bytes, { codec, ...(schema === undefined ? {} : { schema }), coordinates });
    return fn.call(service, value, file, caller, ctx);
  }

  /** Run a handler that got a stream; close the stream after it (the transfer and its connection end). */
  async #withStream(stream: Stream<unknown, unknown>, call: () => unknown): Promise<unknown> {
    try {
      return await call();
    } finally {
      await stream.close();
    }
  }

  // ---------------------------------------------------------------- settling

  #settler(route: Route): (d: FileDelivery, ok: boolean | "rejected") => Promise<void> {
    return async (d, ok) => {
      const job = d.message;
      if (job.kind === "delete") return;
      const files = job.kind === "file" ? [{ file: job.file, sig: job.sig }] : job.event.addedFiles.map((f) => ({ file: f, sig: job.sigs.get(f.name) ?? signature(f) }));
      for (const { file, sig } of files) await this.#settleFile(route, file, sig, ok);
    };
  }

  async #settleFile(route: Route, file: FileInfo, sig: string, ok: boolean | "rejected"): Promise<void> {
    const t = route.files.get(file.name) ?? { sig, status: "active" as const };
    route.files.set(file.name, t);
    if (ok === "rejected") {
      // Not handled (stopping): taken again on the next poll or the next start.
      t.status = "pending";
      t.sig = sig;
      return;
    }
    const action = ok ? route.cfg.afterProcess : route.cfg.afterError;
    if (action === undefined) {
      t.status = ok ? "done" : "failed";
      t.sig = sig;
      if (ok && this.#store !== undefined) await this.#storeSet(file.path, sig);
      return;
    }
    try {
      await this.#apply(route, file, action);
      route.files.delete(file.name);
      if (this.#store !== undefined) await this.#storeDelete(file.path);
    } catch (e) {
      // The handler's outcome stands; only the action is retried on the next polls.
      t.status = "unsettled";
      t.sig = sig;
      t.action = action;
      const err = FtpError.isFtpError(e) ? e : new FtpError("FTP_FAILED", toError(e).message, { path: file.path, cause: e });
      this.logger.error({ err, path: file.path }, `${ok ? "afterProcess" : "afterError"} failed; retried on the next poll`);
      await this.notifyError(route.att, err, file);
    }
  }

  async #retrySettle(route: Route, file: FileInfo, t: Tracked): Promise<void> {
    if (t.action === undefined) return;
    try {
      await this.#apply(route, file, t.action);
      route.files.delete(file.name);
    } catch (e) {
      this.logger.warn({ err: toError(e), path: file.path }, "after-processing action failed again");
    }
  }

  #apply(route: Route, file: FileInfo, action: FileAction): Promise<void> {
    if (action === "delete") return this.#client.delete(file.path);
    const folder = action.moveTo.startsWith("/") ? action.moveTo : joinPath(route.cfg.path, action.moveTo);
    return this.#client.move(file.path, joinPath(folder, file.name));
  }

  async #storeGet(path: string): Promise<string | undefined> {
    try {
      return await (this.#store as ProcessedFileStore).get(path);
    } catch (e) {
      this.logger.error({ err: toError(e), path }, "stateStore.get failed; the file is treated as new");
      return undefined;
    }
  }

  async #storeSet(path: string, sig: string): Promise<void> {
    try {
      await (this.#store as ProcessedFileStore).set(path, sig);
    } catch (e) {
      this.logger.error({ err: toError(e), path }, "stateStore.set failed; the file may be processed again after a restart");
    }
  }

  async #storeDelete(path: string): Promise<void> {
    try {
      await (this.#store as ProcessedFileStore).delete(path);
    } catch (e) {
      this.logger.warn({ err: toError(e), path }, "stateStore.delete failed");
    }
  }
}
