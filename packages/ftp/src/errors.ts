/**
 * `FtpError`: the one error class of `@pirouette/ftp`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes an {@link FtpError} carries.
 *
 * | code | when | retried |
 * |---|---|---|
 * | `FTP_NOT_FOUND` | the remote file or directory does not exist | no |
 * | `FTP_EXISTS` | the target already exists (mkdir over a file, rename onto an existing name on SFTP) | no |
 * | `FTP_PERMISSION` | the server refused the operation (permission denied) | no |
 * | `FTP_FAILED` | the server refused the operation for another reason (SFTP `FAILURE`, FTP 5xx) | no |
 * | `FTP_AUTH` | the credentials were refused, or the private key could not be read (wrong passphrase) | no |
 * | `FTP_HOST_KEY` | the SFTP server's host key does not match the pinned fingerprint / known_hosts: refused before authenticating | no |
 * | `FTP_TLS` | the FTP server does not support explicit TLS (`AUTH TLS`), or the TLS handshake failed | no |
 * | `FTP_CONNECTION` | the server cannot be reached, or the connection was lost (reset, closed, truncated transfer) | yes |
 * | `FTP_TIMEOUT` | connecting or an operation took longer than allowed | yes |
 * | `FTP_PATH` | an unsafe remote path or file name: `..` segments, NUL or control characters, a separator inside a name, a symlink escaping the watched directory | no |
 * | `FTP_TOO_LARGE` | a whole-file read is larger than `maxFileBytes` | no |
 * | `FTP_SOURCE` | the content stream given to a `put…` method failed (the error is the `cause`) | no |
 * | `FTP_INVALID_CONFIG` | an option or service config value is wrong | no |
 * | `FTP_CLOSED` | the client or listener is closed | no |
 * | `FTP_UNKNOWN_METHOD`, `FTP_MISSING_METHOD`, `FTP_METHOD_CONFLICT`, `FTP_INVALID_SERVICE` | `attach` rejected the service | no |
 *
 * @example
 * ```ts
 * const fatal: ftp.FtpErrorCode[] = ["FTP_AUTH", "FTP_HOST_KEY"];
 * if (ftp.FtpError.isFtpError(e) && fatal.includes(e.code)) process.exit(1);
 * ```
 */
export type FtpErrorCode =
  | "FTP_NOT_FOUND"
  | "FTP_EXISTS"
  | "FTP_PERMISSION"
  | "FTP_FAILED"
  | "FTP_AUTH"
  | "FTP_HOST_KEY"
  | "FTP_TLS"
  | "FTP_CONNECTION"
  | "FTP_TIMEOUT"
  | "FTP_PATH"
  | "FTP_TOO_LARGE"
  | "FTP_SOURCE"
  | "FTP_INVALID_CONFIG"
  | "FTP_CLOSED"
  | "FTP_UNKNOWN_METHOD"
  | "FTP_MISSING_METHOD"
  | "FTP_METHOD_CONFLICT"
  | "FTP_INVALID_SERVICE";

const TRANSIENT: ReadonlySet<FtpErrorCode> = new Set(["FTP_CONNECTION", "FTP_TIMEOUT"]);

/**
 * Options of {@link FtpError}.
 *
 * @example
 * ```ts
 * throw new FtpError("FTP_NOT_FOUND", "no such file", { path: "/in/a.csv", serverCode: 550 });
 * ```
 */
export interface FtpErrorOptions extends PirouetteErrorOptions {
  /** The remote path concerned, when there is one. */
  readonly path?: string | undefined;
  /** What the server or driver said: an FTP reply code (550), an SFTP status (2) or a socket code ("ECONNRESET"). */
  readonly serverCode?: number | string | undefined;
}

/**
 * Every error `@pirouette/ftp` throws, fails a stream with, or reports to `onError`: an `FTP_*`
 * code (see {@link FtpErrorCode}), the remote `path`, and the server's own code. `transient` is
 * true for connection losses and timeouts: the client retries those (non-streaming calls) and
 * never retries the others. Payload binding failures in a listener (bad JSON, malformed CSV)
 * reach `onError` as core's `PayloadBindingError` / `PayloadValidationError` with
 * `coordinates.path`.
 *
 * @example
 * ```ts
 * try {
 *   await client.getText("/in/missing.txt");
 * } catch (e) {
 *   if (ftp.FtpError.isFtpError(e) && e.code === "FTP_NOT_FOUND") console.log("no file at", e.path);
 * }
 * ```
 */
export class FtpError extends PirouetteError {
  override name = "FtpError";
  declare readonly code: FtpErrorCode;
  /** The remote path concerned, when there is one. */
  readonly path: string | undefined;
  /** The server's or the driver's own code (FTP reply code, SFTP status, socket error code). */
  readonly serverCode: number | string | undefined;

  constructor(code: FtpErrorCode, message: string, options: FtpErrorOptions = {}) {
    const coordinates = options.coordinates ?? (options.path === undefined ? undefined : { path: options.path });
    super(code, message, { ...(options.cause === undefined ? {} : { cause: options.cause }), ...(coordinates === undefined ? {} : { coordinates }) });
    this.path = options.path;
    this.serverCode = options.serverCode;
  }

  /** True for errors worth retrying: a lost connection or a timeout. */
  get transient(): boolean {
    return TRANSIENT.has(this.code);
  }

  /**
   * Whether `value` is an `FtpError` (by brand and name, so it works across package copies).
   *
   * @example
   * ```ts
   * if (FtpError.isFtpError(err) && err.code === "FTP_HOST_KEY") alertSecurity(err);
   * ```
   */
  static isFtpError(value: unknown): value is FtpError {
    return PirouetteError.is(value) && value.name === "FtpError";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), path: this.path, serverCode: this.serverCode };
  }
}
