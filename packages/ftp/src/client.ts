/**
 * `ftp.Client`: Ballerina's `ftp:Client` for SFTP (ssh2-sftp-client) and FTP/FTPS (basic-ftp)
 * behind one API.
 *
 * @module
 */
import { bind, json, Stream, text, toError, type Logger } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { FtpError } from "./errors.ts";
import { resolveConfig, type ResolvedConfig } from "./internal/config.ts";
import { CsvEncoder, csvError, csvRecords, parseHeaderLine, type CsvWriteRow } from "./internal/csv.ts";
import { FtpConnection } from "./internal/ftp.ts";
import { loadHostKeyPolicy, type HostKeyVerifier } from "./internal/host-key.ts";
import { toFtpError, type OpKind } from "./internal/map-error.ts";
import { baseName, checkPath, extensionOf, joinPath, parentOf } from "./internal/paths.ts";
import { Pool, type Lease } from "./internal/pool.ts";
import type { Connection, RemoteEntry } from "./internal/port.ts";
import { withRetry } from "./internal/retry.ts";
import { loadPrivateKey, SftpConnection, type LoadedKey } from "./internal/sftp.ts";
import { bufferReadable, collect, downloadStream, toReadable, type ByteSource, type SourceState } from "./internal/streams.ts";
import type { ClientOptions, CsvReadOptions, FileInfo, Protocol, PutOptions } from "./options.ts";

export type { ByteSource } from "./internal/streams.ts";
export type { CsvWriteRow } from "./internal/csv.ts";

/** @internal Build a FileInfo from a driver entry. */
export function toFileInfo(dir: string, e: RemoteEntry, fullPath?: string): FileInfo {
  const path = fullPath ?? joinPath(dir, e.name);
  const name = fullPath === undefined ? e.name : baseName(fullPath);
  return {
    path,
    name,
    extension: extensionOf(name),
    size: e.size,
    lastModified: e.mtimeMs === undefined ? undefined : new Date(e.mtimeMs),
    ...(e.rawModified === undefined ? {} : { rawModified: e.rawModified }),
    isFile: e.type === "file",
    isDirectory: e.type === "directory",
    isSymbolicLink: e.type === "symlink",
    ...(e.linkTarget === undefined ? {} : { linkTarget: e.linkTarget }),
  };
}

const textEncoder = new TextEncoder();
/** Records encoded per upload block by a streaming `putCsv`. */
const CSV_BATCH = 1024;

/**
 * Ballerina's `ftp:Client`: reads, writes and directory operations on an SFTP or FTP(S) server,
 * chosen by `protocol` or the URL scheme.
 *
 * - **Connections** open lazily (or with `connect()`) and are reused. SFTP multiplexes every
 *   call over one SSH connection. basic-ftp runs one command at a time per connection, so FTP
 *   calls queue for one of `maxConnections` (default 2) connections; a streaming download
 *   holds its connection until the stream is drained or closed.
 * - **Host keys** (SFTP) are always verified: a pinned fingerprint or known_hosts, checked
 *   before authenticating. `hostKey: { insecureAcceptAnyHostKey: true }` turns this off, loudly.
 * - **Retries**: non-streaming calls are retried on a fresh connection after a transient
 *   failure (connection lost, timeout), with backoff; permanent failures (not found,
 *   permission, credentials, host key) fail at once. Streaming calls are not retried: their
 *   stream fails with `FTP_CONNECTION`.
 * - **Errors** are {@link FtpError}s with an `FTP_*` code and the remote `path`; bad content
 *   (invalid JSON, malformed CSV) is core's `PayloadBindingError` with `coordinates.path`.
 *
 * @example
 * ```ts
 * const client = new ftp.Client({
 *   url: "sftp://etl@127.0.0.1:2222",
 *   auth: { privateKey: { path: ".services/sftp/id_ed25519" } },
 *   hostKey: { fingerprint: "SHA256:rJBSSguac2TF5tLygXt+efJIvhiB0IZ4H3iEng9Kqkk" },
 * });
 * await client.putText("/in/hello.txt", "hi");
 * for await (const block of await client.getBytesAsStream("/in/big.bin")) hash.update(block);
 * const orders = await client.getCsv("/in/orders.csv", {}, Order);
 * await client.close();
 * ```
 */
export class FtpClient implements AsyncDisposable {
  readonly #cfg: ResolvedConfig;
  readonly #pool: Pool;
  readonly #logger: Logger;
  #verifier: Promise<() => HostKeyVerifier> | undefined;
  #privateKey: Promise<LoadedKey | undefined> | undefined;
  #closed = false;

  constructor(options: ClientOptions = {}) {
    this.#cfg = resolveConfig(options);
    this.#logger = this.#cfg.logger;
    this.#pool = new Pool(() => this.#open(), this.#cfg.maxConnections, this.#logger);
  }

  /** `"sftp"` or `"ftp"`. */
  get protocol(): Protocol {
    return this.#cfg.protocol;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#pool.size;
  }

  async #open(): Promise<Connection> {
    const c = this.#cfg;
    if (c.protocol === "sftp") {
      // Read the key and the known_hosts file once; a failure is not cached (the file may be fixed).
      const verifier = (this.#verifier ??= loadHostKeyPolicy(c.hostKey, c.host, c.port));
      const key = (this.#privateKey ??= c.privateKey === undefined ? Promise.resolve(undefined) : loadPrivateKey(c.privateKey));
      let v: () => HostKeyVerifier;
      let k: LoadedKey | undefined;
      try {
        [v, k] = await Promise.all([verifier, key]);
      } catch (e) {
        this.#verifier = undefined;
        this.#privateKey = undefined;
        throw e;
      }
      return SftpConnection.open(
        {
          host: c.host,
          port: c.port,
          username: c.username as string,
          password: c.password,
          privateKey: c.privateKey,
          connectTimeoutMs: c.connectTimeoutMs,
          timeoutMs: c.timeoutMs,
          verifier: v,
          logger: this.#logger,
          debug: c.debug,
        },
        k,
      );
    }
    return FtpConnection.open({
      host: c.host,
      port: c.port,
      user: c.username ?? "anonymous",
      password: c.password ?? "guest",
      secure: c.secure,
      connectTimeoutMs: c.connectTimeoutMs,
      timeoutMs: c.timeoutMs,
      logger: this.#logger,
    });
  }

  async #lease(): Promise<Lease> {
    if (this.#closed) throw new FtpError("FTP_CLOSED", "the client is closed");
    try {
      return await this.#pool.lease();
    } catch (e) {
      throw toFtpError(e, undefined, "connect", `connecting to ${this.#cfg.host}:${this.#cfg.port}`);
    }
  }

  /** One operation on a leased connection, retried per policy when `retry` is true. */
  #run<T>(what: string, path: string | undefined, kind: OpKind, fn: (c: Connection) => Promise<T>, retry = true): Promise<T> {
    const attempt = async (): Promise<T> => {
      const lease = await this.#lease();
      let discard = false;
      try {
        return await fn(lease.conn);
      } catch (e) {
        const err = toFtpError(e, path, kind, what);
        discard = err.transient;
        throw err;
      } finally {
        lease.release(discard);
      }
    };
    if (!retry) return attempt();
    return withRetry(this.#cfg.retry, attempt, (error, n, delayMs) =>
      this.#logger.warn({ err: toError(error), attempt: n, delayMs, path }, `${what} failed; retrying on a new connection`),
    );
  }

  /**
   * Open a connection now (calls otherwise connect on first use): fails fast on a wrong host,
   * host key or credentials.
   *
   * @example
   * ```ts
   * const client = new ftp.Client(options);
   * await client.connect(); // FTP_AUTH, FTP_HOST_KEY, FTP_CONNECTION…
   * ```
   */
  async connect(): Promise<void> {
    await this.#run("connect", undefined, "connect", () => Promise.resolve());
  }

  // ---------------------------------------------------------------- reads

  /**
   * The file's content as a `Stream` of byte blocks, read as the consumer pulls (memory stays
   * bounded whatever the size). Opening (not found, permission) fails the returned promise;
   * a failure during the transfer fails the stream with an `FtpError` (`FTP_CONNECTION` when
   * the connection was lost or the transfer came up short). Closing the stream early aborts
   * the transfer and frees the connection. Not retried.
   *
   * @example
   * ```ts
   * const hash = createHash("sha256");
   * for await (const block of await client.getBytesAsStream("/in/big.bin")) hash.update(block);
   * ```
   */
  async getBytesAsStream(path: string): Promise<Stream<Uint8Array, FtpError>> {
    checkPath(path);
    const lease = await this.#lease();
    try {
      return await downloadStream(lease, path);
    } catch (e) {
      const err = toFtpError(e, path, "read", "getBytesAsStream");
      lease.release(err.transient);
      throw err;
    }
  }

  /**
   * The whole file as bytes (at most `maxFileBytes`, else `FTP_TOO_LARGE`). Retried on
   * transient failures.
   *
   * @example
   * ```ts
   * const png = await client.getBytes("/img/logo.png");
   * ```
   */
  getBytes(path: string): Promise<Uint8Array> {
    checkPath(path);
    const max = this.#cfg.maxFileBytes;
    return withRetry(
      this.#cfg.retry,
      async () => {
        const stream = await this.getBytesAsStream(path);
        return collect(stream, path, max);
      },
      (error, n, delayMs) => this.#logger.warn({ err: toError(error), attempt: n, delayMs, path }, "getBytes failed; retrying"),
    );
  }

  /**
   * The whole file as UTF-8 text (invalid UTF-8 is a `PayloadBindingError`), validated with a
   * Standard Schema when one is given.
   *
   * @example
   * ```ts
   * const readme = await client.getText("/docs/README.txt");
   * const id = await client.getText("/run/id", z.string().uuid());
   * ```
   */
  getText<S extends StandardSchemaV1>(path: string, schema: S): Promise<StandardSchemaV1.InferOutput<S>>;
  getText(path: string): Promise<string>;
  async getText(path: string, schema?: StandardSchemaV1): Promise<unknown> {
    const bytes = await this.getBytes(path);
    return bind(bytes, { codec: text({ maxBytes: this.#cfg.maxFileBytes }), ...(schema === undefined ? {} : { schema }), coordinates: { path } });
  }

  /**
   * The file parsed as JSON with core's safe parser (no prototype pollution, depth and
   * integer checks), validated with a Standard Schema when one is given.
   *
   * @example
   * ```ts
   * const Config = z.object({ batch: z.number() });
   * const cfg = await client.getJson("/etc/app.json", Config); // typed
   * ```
   */
  getJson<S extends StandardSchemaV1>(path: string, schema: S): Promise<StandardSchemaV1.InferOutput<S>>;
  getJson<T = unknown>(path: string): Promise<T>;
  async getJson(path: string, schema?: StandardSchemaV1): Promise<unknown> {
    const bytes = await this.getBytes(path);
    return bind(bytes, { codec: json({ maxBytes: this.#cfg.maxFileBytes }), ...(schema === undefined ? {} : { schema }), coordinates: { path } });
  }

  /**
   * The file parsed as CSV (`@pirouette/io`'s `parseToStream`, Ballerina's ParseOptions): an
   * array of records keyed by the header, or `string[]` rows with `header: null`; each row
   * validated with the schema when one is given. Malformed CSV is a `PayloadBindingError` with
   * `coordinates.path` and `line`. Reads at most `maxFileBytes`.
   *
   * @example
   * ```ts
   * const Order = z.object({ id: z.string(), amount: z.coerce.number() });
   * const orders = await client.getCsv("/in/orders.csv", {}, Order);
   * ```
   */
  getCsv<S extends StandardSchemaV1>(path: string, options: CsvReadOptions | undefined, schema: S): Promise<StandardSchemaV1.InferOutput<S>[]>;
  getCsv<T = Record<string, string>>(path: string, options?: CsvReadOptions): Promise<T[]>;
  async getCsv(path: string, options?: CsvReadOptions, schema?: StandardSchemaV1): Promise<unknown[]> {
    const bytes = await this.getBytes(path);
    const records = csvRecords(Stream.of(bytes), path, options, schema);
    try {
      return await records.toArray();
    } catch (e) {
      throw csvError(e, path);
    }
  }

  /**
   * The file's CSV records as a `Stream`, parsed while the transfer runs (flat memory for any
   * size). The stream fails with a `PayloadBindingError` at a malformed row (rows before it
   * are delivered first), or with an `FtpError` if the transfer fails.
   *
   * @example
   * ```ts
   * const big = (await client.getCsvAsStream("/in/orders.csv", {}, Order)).filter((o) => o.amount > 1000);
   * for await (const order of big) alert(order);
   * ```
   */
  getCsvAsStream<S extends StandardSchemaV1>(
    path: string,
    options: CsvReadOptions | undefined,
    schema: S,
  ): Promise<Stream<StandardSchemaV1.InferOutput<S>, Error>>;
  getCsvAsStream<T = Record<string, string>>(path: string, options?: CsvReadOptions): Promise<Stream<T, Error>>;
  async getCsvAsStream(path: string, options?: CsvReadOptions, schema?: StandardSchemaV1): Promise<Stream<unknown, Error>> {
    const bytes = await this.getBytesAsStream(path);
    return csvRecords(bytes, path, options, schema);
  }

  // ---------------------------------------------------------------- writes

  /**
   * Upload byte blocks from a core `Stream`, an async iterable (a Node readable, a generator)
   * or an iterable, block by block (memory bounded by the source). Replaces the file, or adds
   * to its end with `{ mode: "append" }`. Not retried (the source cannot be replayed); a
   * failing source ends the upload with `FTP_SOURCE` and the remote file may be partial.
   *
   * @example
   * ```ts
   * await client.putBytesAsStream("/out/copy.bin", fileReadBlocksAsStream("big.bin"));
   * await client.putBytesAsStream("/out/log.txt", Stream.of(new TextEncoder().encode("more\n")), { mode: "append" });
   * ```
   */
  async putBytesAsStream(path: string, content: ByteSource, options: PutOptions = {}): Promise<void> {
    checkPath(path);
    const append = writeMode(options) === "append";
    const state: SourceState = { error: undefined };
    const readable = toReadable(content, state);
    try {
      await this.#run("putBytesAsStream", path, "write", (c) => c.write(path, readable, append), false);
    } catch (e) {
      throw state.error ?? e;
    } finally {
      readable.destroy();
    }
  }

  /**
   * Upload bytes (replace, or `{ mode: "append" }`). Retried on transient failures.
   *
   * @example
   * ```ts
   * await client.putBytes("/out/logo.png", png);
   * ```
   */
  async putBytes(path: string, bytes: Uint8Array, options: PutOptions = {}): Promise<void> {
    checkPath(path);
    if (!(bytes instanceof Uint8Array)) throw new FtpError("FTP_SOURCE", "putBytes takes a Uint8Array", { path });
    const append = writeMode(options) === "append";
    await this.#run("putBytes", path, "write", (c) => c.write(path, bufferReadable(bytes), append));
  }

  /**
   * Upload text as UTF-8 (replace, or `{ mode: "append" }`).
   *
   * @example
   * ```ts
   * await client.putText("/out/hello.txt", "hello\n");
   * ```
   */
  putText(path: string, content: string, options: PutOptions = {}): Promise<void> {
    return this.putBytes(path, textEncoder.encode(content), options);
  }

  /**
   * Upload a value as JSON (replace, or `{ mode: "append" }`).
   *
   * @example
   * ```ts
   * await client.putJson("/out/summary.json", { files: 3, rows: 1200 });
   * ```
   */
  putJson(path: string, value: unknown, options: PutOptions = {}): Promise<void> {
    return this.putBytes(path, json().encode(value), options);
  }

  /**
   * Upload CSV rows: records (a header line from the first record's keys, then one line per
   * record) or arrays of fields (written as they are). Arrays are sent at once and retried on
   * transient failures; a `Stream` or async iterable is encoded and uploaded as it is pulled.
   * With `{ mode: "append" }` no header is written if the file already has content, and
   * records follow the existing header's column order (Ballerina's APPEND).
   *
   * @example
   * ```ts
   * await client.putCsv("/out/orders.csv", [{ id: "a1", amount: 12 }, { id: "a2", amount: 7 }]);
   * await client.putCsv("/out/orders.csv", [{ amount: 3, id: "a3" }], { mode: "append" }); // id,amount order kept
   * ```
   */
  async putCsv(path: string, rows: readonly CsvWriteRow[] | Stream<CsvWriteRow, unknown> | AsyncIterable<CsvWriteRow>, options: PutOptions = {}): Promise<void> {
    checkPath(path);
    const append = writeMode(options) === "append";
    let columns: string[] | undefined;
    let writeHeader = true;
    if (append) {
      const header = await this.#existingHeader(path);
      if (header !== null) {
        writeHeader = false;
        columns = header;
      }
    }
    const encoder = new CsvEncoder(columns, writeHeader);
    if (Array.isArray(rows)) {
      await this.putBytes(path, encoder.encode(rows as readonly CsvWriteRow[]), options);
      return;
    }
    // Encode in batches: one SFTP/FTP write per record would crawl.
    async function* blocks(): AsyncGenerator<Uint8Array> {
      let batch: CsvWriteRow[] = [];
      for await (const row of rows as AsyncIterable<CsvWriteRow>) {
        batch.push(row);
        if (batch.length >= CSV_BATCH) {
          yield encoder.encode(batch);
          batch = [];
        }
      }
      if (batch.length > 0) yield encoder.encode(batch);
    }
    await this.putBytesAsStream(path, blocks(), options);
  }

  /**
   * The header of an existing CSV file for an append: `null` when the file is missing or
   * empty (a header is due), `undefined` when it has content but no parsable header.
   */
  async #existingHeader(path: string): Promise<string[] | undefined | null> {
    let size: number;
    try {
      size = await this.size(path);
    } catch (e) {
      if (FtpError.isFtpError(e) && e.code === "FTP_NOT_FOUND") return null;
      throw e;
    }
    if (size === 0) return null;
    const stream = await this.getBytesAsStream(path);
    let head = "";
    try {
      for await (const block of stream) {
        head += Buffer.from(block).toString("utf8");
        const nl = head.indexOf("\n");
        if (nl >= 0) {
          head = head.slice(0, nl);
          break;
        }
        if (head.length > 1024 * 1024) break;
      }
    } finally {
      await stream.close();
    }
    return parseHeaderLine(head.replace(/^\uFEFF/, ""));
  }

  /**
   * Add bytes (or a stream of blocks) to the end of a file, creating it if missing.
   *
   * @example
   * ```ts
   * await client.appendBytes("/logs/raw.bin", chunk);
   * ```
   */
  appendBytes(path: string, content: Uint8Array | ByteSource): Promise<void> {
    return content instanceof Uint8Array ? this.putBytes(path, content, { mode: "append" }) : this.putBytesAsStream(path, content, { mode: "append" });
  }

  /**
   * Add UTF-8 text to the end of a file, creating it if missing.
   *
   * @example
   * ```ts
   * await client.appendText("/logs/app.log", `${new Date().toISOString()} started\n`);
   * ```
   */
  appendText(path: string, content: string): Promise<void> {
    return this.putText(path, content, { mode: "append" });
  }

  /**
   * Add CSV rows to the end of a file (no header if it has content; records follow its header).
   *
   * @example
   * ```ts
   * await client.appendCsv("/out/orders.csv", [{ id: "a4", amount: 9 }]);
   * ```
   */
  appendCsv(path: string, rows: readonly CsvWriteRow[] | Stream<CsvWriteRow, unknown> | AsyncIterable<CsvWriteRow>): Promise<void> {
    return this.putCsv(path, rows, { mode: "append" });
  }

  // ---------------------------------------------------------------- directories and files

  /**
   * The entries of a directory (without `.` and `..`). `FTP_NOT_FOUND` if it does not exist.
   *
   * @example
   * ```ts
   * const csvs = (await client.list("/in")).filter((f) => f.isFile && f.extension === "csv");
   * ```
   */
  list(path: string): Promise<FileInfo[]> {
    checkPath(path);
    return this.#run("list", path, "read", async (c) => {
      const entries = await c.list(path);
      return entries.filter((e) => e.name !== "." && e.name !== "..").map((e) => toFileInfo(path, e));
    });
  }

  /**
   * What the server knows about one path (a symbolic link itself, not its target).
   * `FTP_NOT_FOUND` if it does not exist.
   *
   * @example
   * ```ts
   * const info = await client.stat("/in/orders.csv");
   * console.log(info.size, info.lastModified);
   * ```
   */
  stat(path: string): Promise<FileInfo> {
    checkPath(path);
    return this.#run("stat", path, "read", async (c) => {
      const e = await c.lstat(path);
      if (e === undefined) throw new FtpError("FTP_NOT_FOUND", `no such file or directory: ${path}`, { path });
      return toFileInfo(parentOf(path), e, path);
    });
  }

  /**
   * Whether a file or directory exists at `path`.
   *
   * @example
   * ```ts
   * if (!(await client.exists("/out"))) await client.mkdir("/out");
   * ```
   */
  exists(path: string): Promise<boolean> {
    checkPath(path);
    return this.#run("exists", path, "read", async (c) => (await c.lstat(path)) !== undefined);
  }

  /**
   * Whether `path` is a directory (false if it does not exist).
   *
   * @example
   * ```ts
   * if (await client.isDirectory("/in/archive")) await client.rmdir("/in/archive", { recursive: true });
   * ```
   */
  isDirectory(path: string): Promise<boolean> {
    checkPath(path);
    return this.#run("isDirectory", path, "read", async (c) => (await c.lstat(path))?.type === "directory");
  }

  /**
   * The size of a file in bytes.
   *
   * @example
   * ```ts
   * const bytes = await client.size("/in/big.bin");
   * ```
   */
  size(path: string): Promise<number> {
    checkPath(path);
    return this.#run("size", path, "read", (c) => c.size(path));
  }

  /**
   * The canonical absolute form of a path with symbolic links resolved (SFTP `realpath`), or
   * `undefined` where the protocol cannot tell (FTP).
   *
   * @example
   * ```ts
   * await client.realPath("."); // "/home/etl"
   * ```
   */
  realPath(path: string): Promise<string | undefined> {
    checkPath(path);
    return this.#run("realPath", path, "read", (c) => c.realPath(path));
  }

  /**
   * Create a directory (and its parents with `{ recursive: true }`). An existing directory is fine.
   *
   * @example
   * ```ts
   * await client.mkdir("/in/processed/2025", { recursive: true });
   * ```
   */
  mkdir(path: string, options: { readonly recursive?: boolean } = {}): Promise<void> {
    checkPath(path);
    return this.#run("mkdir", path, "write", (c) => c.mkdir(path, options.recursive === true));
  }

  /**
   * Remove a directory: an empty one, or everything in it with `{ recursive: true }`.
   *
   * @example
   * ```ts
   * await client.rmdir("/tmp/run-42", { recursive: true });
   * ```
   */
  rmdir(path: string, options: { readonly recursive?: boolean } = {}): Promise<void> {
    checkPath(path);
    return this.#run("rmdir", path, "read", (c) => c.rmdir(path, options.recursive === true));
  }

  /**
   * Rename a file or directory. Fails with `FTP_EXISTS` when `to` exists (use `move` to replace).
   *
   * @example
   * ```ts
   * await client.rename("/in/orders.csv.part", "/in/orders.csv");
   * ```
   */
  rename(from: string, to: string): Promise<void> {
    checkPath(from);
    checkPath(to, "target path");
    return this.#run("rename", from, "read", async (c) => {
      if ((await c.lstat(to)) !== undefined) throw new FtpError("FTP_EXISTS", `cannot rename ${from}: ${to} already exists`, { path: to });
      await c.rename(from, to, false);
    });
  }

  /**
   * Move a file to `to` (a full path, not a folder), creating the target's directory when
   * missing and replacing a file already there (atomically on OpenSSH servers).
   *
   * @example
   * ```ts
   * await client.move("/in/orders.csv", "/in/processed/orders.csv");
   * ```
   */
  move(from: string, to: string): Promise<void> {
    checkPath(from);
    checkPath(to, "target path");
    return this.#run("move", from, "read", async (c) => {
      const dir = parentOf(to);
      if (dir !== "" && dir !== "/" && (await c.lstat(dir)) === undefined) await c.mkdir(dir, true);
      await c.rename(from, to, true);
    });
  }

  /**
   * Delete a file.
   *
   * @example
   * ```ts
   * await client.delete("/in/orders.csv");
   * ```
   */
  delete(path: string): Promise<void> {
    checkPath(path);
    return this.#run("delete", path, "read", (c) => c.delete(path));
  }

  /**
   * Close every connection. Calls after this fail with `FTP_CLOSED`. Idempotent.
   *
   * @example
   * ```ts
   * await using client = new ftp.Client(options); // closed at the end of the block
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** No credentials in logs or JSON. */
  toJSON(): Record<string, unknown> {
    return { protocol: this.#cfg.protocol, host: this.#cfg.host, port: this.#cfg.port, username: this.#cfg.username };
  }
}

function writeMode(options: PutOptions): "overwrite" | "append" {
  const m = options.mode ?? "overwrite";
  if (m !== "overwrite" && m !== "append") throw new FtpError("FTP_INVALID_CONFIG", 'mode must be "overwrite" or "append"');
  return m;
}
