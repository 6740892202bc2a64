/**
 * Driver errors (ssh2, ssh2-sftp-client, basic-ftp, sockets) → {@link FtpError}.
 *
 * @internal
 * @module
 */
import { FtpError, type FtpErrorCode } from "../errors.ts";

/** What kind of operation failed: a 550 on a read means "no such file", on a write it does not. */
export type OpKind = "read" | "write" | "connect";

const SOCKET_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_NOT_CONNECTED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_SOCKET_CLOSED",
]);

const CONNECTION_MESSAGES =
  /no response from server|unexpected (close|end) event|not connected|no sftp connection|connection (lost|closed|reset)|client is closed|server sent fin|socket (hang up|closed)|premature close|channel (open failure|closed)|connection ended|write after end|econnreset/i;
const TIMEOUT_MESSAGES = /timed out|timeout/i;

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Map any error from a driver to an `FtpError` for `path`. An `FtpError` is returned as is
 * (with the path added when it had none).
 */
export function toFtpError(e: unknown, path: string | undefined, op: OpKind, what?: string): FtpError {
  if (FtpError.isFtpError(e)) {
    if (e.path !== undefined || path === undefined) return e;
    return new FtpError(e.code, e.message, { path, cause: e.cause, serverCode: e.serverCode });
  }
  const err = e as { code?: unknown; level?: unknown; name?: unknown } | null | undefined;
  const code = err?.code;
  const level = typeof err?.level === "string" ? err.level : undefined;
  const message = describe(e);
  const prefix = what === undefined ? "" : `${what}: `;
  const make = (c: FtpErrorCode, m: string): FtpError =>
    new FtpError(c, `${prefix}${m}`, { path, cause: e, serverCode: typeof code === "number" || typeof code === "string" ? code : undefined });

  // basic-ftp: FTPError carries the numeric reply code.
  if (err?.name === "FTPError" && typeof code === "number") return fromFtpReply(code, message, op, make);

  if (level === "client-authentication" || /authentication methods failed|all configured authentication/i.test(message)) {
    return make("FTP_AUTH", `the server refused the credentials (${message})`);
  }
  if (/cannot parse privatekey|bad passphrase|encrypted private.*key|integrity check failed/i.test(message)) {
    return make("FTP_AUTH", `the private key cannot be read (wrong or missing passphrase?): ${message}`);
  }
  if (level === "client-timeout") return make("FTP_TIMEOUT", message);

  // SFTP status codes (ssh2's SFTP errors, and ssh2-sftp-client's wrapped ones).
  if (typeof code === "number") {
    switch (code) {
      case 2:
        return make("FTP_NOT_FOUND", `no such file or directory${path === undefined ? "" : `: ${path}`} (${message})`);
      case 3:
        return make("FTP_PERMISSION", `permission denied${path === undefined ? "" : `: ${path}`} (${message})`);
      case 6:
      case 7:
        return make("FTP_CONNECTION", message);
      case 4:
      case 5:
      case 8:
        return make("FTP_FAILED", message);
      default:
        break;
    }
  }
  if (typeof code === "string") {
    if (code === "ENOENT") return make("FTP_NOT_FOUND", `no such file or directory${path === undefined ? "" : `: ${path}`} (${message})`);
    if (code === "EACCES" || code === "EPERM") return make("FTP_PERMISSION", message);
    if (code === "ETIMEDOUT") return make("FTP_TIMEOUT", message);
    if (SOCKET_CODES.has(code)) return make("FTP_CONNECTION", message);
    if (code === "ERR_BAD_PATH") {
      if (/already exists/i.test(message)) return make("FTP_EXISTS", message);
      if (/not exist|no such/i.test(message)) return make("FTP_NOT_FOUND", message);
      if (/permission denied/i.test(message)) return make("FTP_PERMISSION", message);
      return make("FTP_FAILED", message);
    }
  }
  if (level === "client-socket") return make("FTP_CONNECTION", message);
  if (TIMEOUT_MESSAGES.test(message)) return make("FTP_TIMEOUT", message);
  if (CONNECTION_MESSAGES.test(message)) return make("FTP_CONNECTION", message);
  if (/no such file/i.test(message)) return make("FTP_NOT_FOUND", message);
  if (/permission denied/i.test(message)) return make("FTP_PERMISSION", message);
  return make("FTP_FAILED", message);
}

function fromFtpReply(code: number, text: string, op: OpKind, make: (c: FtpErrorCode, m: string) => FtpError): FtpError {
  const message = text.startsWith(String(code)) ? text.slice(String(code).length).trim() : text;
  if (code === 530 || code === 430 || code === 532 || code === 331) return make("FTP_AUTH", `the server refused the credentials (${code} ${message})`);
  if (code === 421 || code === 425 || code === 426) return make("FTP_CONNECTION", `${code} ${message}`);
  if (code === 534 || code === 522) return make("FTP_TLS", `${code} ${message}`);
  if (/permission denied/i.test(message)) return make("FTP_PERMISSION", `${code} ${message}`);
  if (code === 550 && op === "read") return make("FTP_NOT_FOUND", `no such file or directory (${code} ${message})`);
  return make("FTP_FAILED", `${code} ${message}`);
}
