/**
 * `ftp.Caller`: the client operations a service method can use on the listener's connection.
 *
 * @module
 */
import type { FtpClient } from "./client.ts";

/**
 * The client methods a {@link Caller} offers (everything but `connect` and `close`).
 *
 * @example
 * ```ts
 * const reads: ftp.CallerMethod[] = ["getText", "getJson", "list"];
 * ```
 */
export type CallerMethod =
  | "getBytes"
  | "getBytesAsStream"
  | "getText"
  | "getJson"
  | "getCsv"
  | "getCsvAsStream"
  | "putBytes"
  | "putBytesAsStream"
  | "putText"
  | "putJson"
  | "putCsv"
  | "appendBytes"
  | "appendText"
  | "appendCsv"
  | "list"
  | "stat"
  | "exists"
  | "isDirectory"
  | "size"
  | "realPath"
  | "mkdir"
  | "rmdir"
  | "rename"
  | "move"
  | "delete";

/**
 * Ballerina's `ftp:Caller`: the client's operations on the listener's own connections, for a
 * service method that needs to read or write other files (an FTP listener keeps one
 * connection more than its `concurrency` for this).
 *
 * @example
 * ```ts
 * async onFileCsv(rows: Order[], file: ftp.FileInfo, caller: ftp.Caller) {
 *   await caller.putJson(`/out/${file.name}.summary.json`, { rows: rows.length });
 * }
 * ```
 */
export type Caller = Pick<FtpClient, CallerMethod>;
