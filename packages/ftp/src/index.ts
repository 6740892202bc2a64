/**
 * `@pirouette/ftp`: Ballerina's `ftp` module for Node — an SFTP/FTP(S) client with streaming
 * transfers, and a polling file-arrival listener with at-least-once processing.
 *
 * ```ts
 * import * as ftp from "@pirouette/ftp";
 * import { payload, service } from "@pirouette/core";
 *
 * const listener = new ftp.Listener({
 *   url: "sftp://etl@127.0.0.1:2222",
 *   auth: { privateKey: { path: "/run/secrets/id_ed25519" } },
 *   hostKey: { fingerprint: "SHA256:rJBSSguac2TF5tLygXt+efJIvhiB0IZ4H3iEng9Kqkk" },
 *   pollingIntervalMs: 5000,
 * });
 *
 * @service(listener)
 * @ftp.ServiceConfig({ path: "/in", fileNamePattern: "*.csv", afterProcess: { moveTo: "processed" } })
 * class Orders {
 *   @payload(Order)
 *   async onFileCsv(orders: Order[], file: ftp.FileInfo) { await save(orders); }
 *   onError(err: Error, file?: ftp.FileInfo) { log.warn({ err, path: file?.path }); }
 * }
 *
 * await listener.start();
 * ```
 *
 * @module
 */
export { FtpClient, FtpClient as Client } from "./client.ts";
export type { ByteSource, CsvWriteRow } from "./client.ts";
export { FtpListener, FtpListener as Listener, ServiceConfig } from "./listener.ts";
export type { Service } from "./listener.ts";
export type { Caller, CallerMethod } from "./caller.ts";
export { FtpError } from "./errors.ts";
export type { FtpErrorCode, FtpErrorOptions } from "./errors.ts";
export { fileStateStore } from "./state-store.ts";
export type { ProcessedFileStore } from "./state-store.ts";
export type {
  AuthConfig,
  ClientOptions,
  CsvReadOptions,
  FileAction,
  FileInfo,
  FtpListenerOptions,
  FtpServiceConfig,
  HostKeyPolicy,
  PrivateKey,
  Protocol,
  PutOptions,
  WatchEvent,
  WriteMode,
} from "./options.ts";
