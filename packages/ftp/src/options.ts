/**
 * Public option, configuration and value types of `@pirouette/ftp`.
 *
 * @module
 */
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { ListenerOptions, Logger, RetryPolicy } from "@pirouette/core";
import type { ParseOptions } from "@pirouette/io";
import type { ProcessedFileStore } from "./state-store.ts";

/**
 * The transfer protocol: SFTP (SSH, on ssh2-sftp-client) or FTP (optionally FTPS, on basic-ftp).
 *
 * @example
 * ```ts
 * const protocol: ftp.Protocol = "sftp";
 * ```
 */
export type Protocol = "sftp" | "ftp";

/**
 * How an SFTP client checks the server's host key. The check runs during the key exchange,
 * before any credential is sent: a mismatch fails with `FTP_HOST_KEY` and the server never
 * sees the password or the key signature.
 *
 * - `fingerprint`: one or more pinned SHA-256 fingerprints as printed by `ssh-keygen -lf key.pub`
 *   (`"SHA256:rJBS…"`; the `SHA256:` prefix is optional, trailing `=` ignored).
 * - `knownHostsFile` / `knownHosts`: an OpenSSH known_hosts file (path) or its text; entries
 *   for `host` (or `[host]:port`), hashed (`|1|…`) and wildcard patterns are understood;
 *   `@revoked` keys are refused, `@cert-authority` lines are ignored.
 * - `insecureAcceptAnyHostKey: true`: accept any key (a warning is logged on every connect).
 *   Only for throw-away test servers: anyone on the path can impersonate the server.
 *
 * @example
 * ```ts
 * const pinned: HostKeyPolicy = { fingerprint: "SHA256:rJBSSguac2TF5tLygXt+efJIvhiB0IZ4H3iEng9Kqkk" };
 * const known: HostKeyPolicy = { knownHostsFile: `${process.env.HOME}/.ssh/known_hosts` };
 * ```
 */
export type HostKeyPolicy =
  | { readonly fingerprint: string | readonly string[] }
  | { readonly knownHostsFile: string }
  | { readonly knownHosts: string }
  | { readonly insecureAcceptAnyHostKey: true };

/**
 * A private key for SFTP public-key authentication: a file `path` or the key text itself, and
 * its passphrase if it is encrypted.
 *
 * @example
 * ```ts
 * const key: PrivateKey = { path: "/home/app/.ssh/id_ed25519", passphrase: process.env.KEY_PASSPHRASE };
 * ```
 */
export interface PrivateKey {
  readonly path?: string;
  readonly key?: string | Uint8Array;
  readonly passphrase?: string | undefined;
}

/**
 * Ballerina's `ftp:AuthConfiguration`: a user name and password, and (SFTP) a private key. With
 * both, the key is tried first.
 *
 * @example
 * ```ts
 * const auth: AuthConfig = { credentials: { username: "etl", password: process.env.SFTP_PASSWORD } };
 * ```
 */
export interface AuthConfig {
  readonly credentials?: { readonly username: string; readonly password?: string | undefined };
  readonly privateKey?: PrivateKey;
}

/**
 * Where to connect and how: Ballerina's `ftp:ClientConfiguration`. Everything can come from a
 * URL (`sftp://user:password@host:2222`, `ftp://…`, `ftps://…` for explicit TLS); explicit
 * fields override it.
 *
 * @example
 * ```ts
 * const options: ClientOptions = {
 *   url: "sftp://etl@files.example.com",
 *   auth: { privateKey: { path: "/run/secrets/id_ed25519" } },
 *   hostKey: { fingerprint: "SHA256:rJBSSguac2TF5tLygXt+efJIvhiB0IZ4H3iEng9Kqkk" },
 * };
 * ```
 */
export interface ClientOptions {
  /** `"sftp"` or `"ftp"`. Default: from `url`, else `"ftp"` (as Ballerina). */
  readonly protocol?: Protocol;
  /** `sftp://`, `ftp://` or `ftps://` (explicit TLS) URL with optional user, password and port. */
  readonly url?: string;
  /** Default `"127.0.0.1"`. */
  readonly host?: string;
  /** Default 22 (SFTP) or 21 (FTP). */
  readonly port?: number;
  readonly auth?: AuthConfig;
  /** SFTP only, and required for SFTP: how the server's host key is verified. */
  readonly hostKey?: HostKeyPolicy;
  /**
   * FTP only: explicit FTPS (`AUTH TLS` on the plain port, then TLS for control and data).
   * `true` uses Node's TLS defaults (certificates verified); an object passes TLS options (`ca`,
   * `servername`, …). Default `false`, or `true` for an `ftps://` URL.
   */
  readonly secure?: boolean | TlsConnectionOptions;
  /** Connecting (TCP + handshake + login) may take this long. Default 30 000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * FTP: the control connection's idle timeout (basic-ftp's `timeout`); SFTP: keep-alive probes
   * every `timeoutMs / 3`, and the connection counts as lost after three unanswered ones.
   * Default 30 000 ms.
   */
  readonly timeoutMs?: number;
  /**
   * Retries of non-streaming calls after a transient failure (connection lost, timeout), each on
   * a fresh connection. Default: core's policy (3 attempts, 100 ms doubling, jitter). `false`
   * turns retries off. Permanent failures (not found, permission, auth, host key) are never retried.
   */
  readonly retry?: RetryPolicy | false;
  /**
   * Connections opened at most. SFTP multiplexes every operation over one connection (default 1).
   * basic-ftp runs one command at a time per connection, so FTP operations queue for a free
   * connection; default 2 (a streaming download holds its connection until the stream ends).
   */
  readonly maxConnections?: number;
  /** Largest file the whole-file reads (`getBytes`, `getText`, `getJson`, `getCsv`) accept. Default 64 MiB. */
  readonly maxFileBytes?: number;
  /** A pino-compatible logger. Silent by default. */
  readonly logger?: Logger;
  /** SFTP: ssh2's protocol debug lines (no secrets), for troubleshooting. */
  readonly debug?: (line: string) => void;
}

/**
 * What the client knows about a remote file or directory: Ballerina's `ftp:FileInfo`.
 *
 * @example
 * ```ts
 * for (const f of await client.list("/in")) if (f.isFile) console.log(f.path, f.size, f.lastModified);
 * ```
 */
export interface FileInfo {
  /** The full remote path (`directory/name`). */
  readonly path: string;
  /** The file name. */
  readonly name: string;
  /** The extension without the dot (`"csv"`), or `""`. */
  readonly extension: string;
  /** Size in bytes (of the link itself for a symbolic link in a listing). */
  readonly size: number;
  /**
   * Last modification time, when the server tells it reliably: SFTP (1 s resolution) and FTP
   * servers with `MLSD`. Otherwise `undefined` (see `rawModified`).
   */
  readonly lastModified: Date | undefined;
  /** FTP without `MLSD`: the listing's human-readable date (e.g. `"Nov 22 23:47"`). */
  readonly rawModified?: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly isSymbolicLink: boolean;
  /** The link target, when the server lists it (FTP `name -> target`). */
  readonly linkTarget?: string;
}

/**
 * Ballerina's `ftp:WatchEvent`: what `onFileChange` receives once per poll.
 *
 * @example
 * ```ts
 * onFileChange(event: ftp.WatchEvent) {
 *   for (const f of event.addedFiles) console.log("added", f.path);
 *   for (const p of event.deletedFiles) console.log("deleted", p);
 * }
 * ```
 */
export interface WatchEvent {
  /** New (or re-uploaded) files whose size and time stayed the same across two polls. */
  readonly addedFiles: readonly FileInfo[];
  /** Paths of files seen before and gone now (files the listener moved or deleted itself excluded). */
  readonly deletedFiles: readonly string[];
}

/**
 * Whether a `put…` call replaces the file or adds to its end (Ballerina's `OVERWRITE|APPEND`).
 *
 * @example
 * ```ts
 * await client.putText("/logs/app.log", "line\n", { mode: "append" });
 * ```
 */
export type WriteMode = "overwrite" | "append";

/**
 * Options of the `put…` methods.
 *
 * @example
 * ```ts
 * await client.putJson("/out/summary.json", summary, { mode: "overwrite" });
 * ```
 */
export interface PutOptions {
  /** Default `"overwrite"`. */
  readonly mode?: WriteMode;
}

/**
 * Options of `getCsv` / `getCsvAsStream`: `@pirouette/io`'s `ParseOptions` (Ballerina's
 * `data.csv` names and defaults: `delimiter`, `header`, `skipLines`, `nilValue`, `failSafe`, …).
 *
 * @example
 * ```ts
 * const rows = await client.getCsv("/in/orders.csv", { delimiter: ";" }, Order);
 * ```
 */
export type CsvReadOptions = ParseOptions;

/**
 * What the listener does with a file after its handler succeeded (`afterProcess`) or failed
 * for good (`afterError`): delete it, or move it to a folder (absolute, or relative to the
 * watched directory; created when missing; a file of the same name there is replaced).
 *
 * @example
 * ```ts
 * const done: FileAction = { moveTo: "/in/processed" };
 * const failed: FileAction = { moveTo: "errors" }; // <path>/errors
 * ```
 */
export type FileAction = "delete" | { readonly moveTo: string };

/**
 * `@ftp.ServiceConfig({...})`: the directory a service watches and what happens to its files.
 * Every field can also be passed to `listener.attach(service, { … })`.
 *
 * @example
 * ```ts
 * @ftp.ServiceConfig({ path: "/in", fileNamePattern: "*.csv", afterProcess: { moveTo: "/in/processed" }, afterError: { moveTo: "/in/errors" } })
 * class Orders {
 *   onFileCsv(rows: Record<string, string>[], file: ftp.FileInfo) { … }
 * }
 * ```
 */
export interface FtpServiceConfig {
  /** The watched directory (absolute, or relative to the login directory). Required. Not recursive. */
  readonly path?: string;
  /** Which names to take: a glob (`"*.csv"`, `"orders-*.{csv,txt}"`, picomatch) or a RegExp. Default: every file. */
  readonly fileNamePattern?: string | RegExp;
  /** After the handler succeeded. Default: nothing (the file stays; see the listener's `initialFiles` and `stateStore`). */
  readonly afterProcess?: FileAction;
  /** After the handler failed on every retry (and `onError` ran). Default: nothing (the file stays, and is not taken again until it changes). */
  readonly afterError?: FileAction;
  /**
   * How `onFile` and `onFileCsv` receive the content: `"whole"` (default) a `Uint8Array` / an
   * array of records, or `"stream"` a core `Stream` of byte blocks / records read while the
   * handler consumes it (memory stays flat for any file size).
   */
  readonly content?: "whole" | "stream";
  /** CSV parse options for `onFileCsv` (`@pirouette/io`'s `ParseOptions`). */
  readonly csv?: ParseOptions;
}

/**
 * Options of {@link FtpListener}: the connection (as {@link ClientOptions}) and the polling.
 *
 * @example
 * ```ts
 * const listener = new ftp.Listener({
 *   url: "sftp://etl@files.example.com",
 *   auth: { privateKey: { path: "/run/secrets/id_ed25519" } },
 *   hostKey: { knownHostsFile: "/etc/ssh/ssh_known_hosts" },
 *   pollingIntervalMs: 10_000,
 * });
 * ```
 */
export interface FtpListenerOptions extends Omit<ClientOptions, "retry" | "logger">, ListenerOptions {
  /** Time between polls. Default 60 000 ms (Ballerina's 60 s). */
  readonly pollingIntervalMs?: number;
  /**
   * Files already in the directory at the first poll: `"process"` (default) takes them like new
   * files, so nothing that arrived while the listener was down is missed (at-least-once; with
   * `afterProcess` move/delete only unprocessed files are there). `"skip"` treats them as
   * already processed and only fires for files that appear or change later.
   */
  readonly initialFiles?: "process" | "skip";
  /**
   * Remembers processed files (path → size and time) across restarts, for services without
   * `afterProcess`: a file is taken again only when it changed. See `fileStateStore`.
   */
  readonly stateStore?: ProcessedFileStore;
  /** Files handled at once per service (different files only). Default 1. */
  readonly concurrency?: number;
  /** Handler retries (core's policy: 3 attempts, 100 ms doubling, jitter). Binding failures are not retried. */
  readonly retry?: RetryPolicy | false;
  /** Retries of the listener's own remote calls (list, read, move) after a lost connection. Default: core's policy. */
  readonly clientRetry?: RetryPolicy | false;
}
