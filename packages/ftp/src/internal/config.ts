/**
 * Client options (and a URL) → the resolved connection settings.
 *
 * @internal
 * @module
 */
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { silentLogger, type Logger } from "@pirouette/core";
import { FtpError } from "../errors.ts";
import type { ClientOptions, HostKeyPolicy, PrivateKey, Protocol } from "../options.ts";
import { resolveRetry, type ResolvedRetry } from "./retry.ts";

export interface ResolvedConfig {
  readonly protocol: Protocol;
  readonly host: string;
  readonly port: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly privateKey: PrivateKey | undefined;
  readonly hostKey: HostKeyPolicy | undefined;
  readonly secure: false | TlsConnectionOptions;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly retry: ResolvedRetry;
  readonly maxConnections: number;
  readonly maxFileBytes: number;
  readonly logger: Logger;
  readonly debug: ((line: string) => void) | undefined;
}

export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

function positive(value: number | undefined, fallback: number, name: string, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || (integer && !Number.isInteger(value))) {
    throw new FtpError("FTP_INVALID_CONFIG", `${name} must be a positive ${integer ? "integer" : "number"}`);
  }
  return value;
}

/** Resolve and check client options. Throws `FTP_INVALID_CONFIG`; never echoes a password. */
export function resolveConfig(o: ClientOptions): ResolvedConfig {
  let urlProtocol: Protocol | undefined;
  let urlSecure = false;
  let urlHost: string | undefined;
  let urlPort: number | undefined;
  let urlUser: string | undefined;
  let urlPassword: string | undefined;
  if (o.url !== undefined) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new FtpError("FTP_INVALID_CONFIG", "url is not a valid URL (expected sftp://, ftp:// or ftps://user@host:port)");
    }
    if (u.protocol === "sftp:") urlProtocol = "sftp";
    else if (u.protocol === "ftp:") urlProtocol = "ftp";
    else if (u.protocol === "ftps:") {
      urlProtocol = "ftp";
      urlSecure = true;
    } else throw new FtpError("FTP_INVALID_CONFIG", `url scheme ${u.protocol} is not sftp:, ftp: or ftps:`);
    urlHost = u.hostname.replace(/^\[(.*)\]$/, "$1") || undefined;
    urlPort = u.port === "" ? undefined : Number(u.port);
    urlUser = u.username === "" ? undefined : decodeURIComponent(u.username);
    urlPassword = u.password === "" ? undefined : decodeURIComponent(u.password);
  }
  if (o.protocol !== undefined && o.protocol !== "sftp" && o.protocol !== "ftp") {
    throw new FtpError("FTP_INVALID_CONFIG", 'protocol must be "sftp" or "ftp"');
  }
  if (o.protocol !== undefined && urlProtocol !== undefined && o.protocol !== urlProtocol) {
    throw new FtpError("FTP_INVALID_CONFIG", `protocol "${o.protocol}" contradicts the url's scheme (${urlProtocol})`);
  }
  const protocol: Protocol = o.protocol ?? urlProtocol ?? "ftp";
  const host = o.host ?? urlHost ?? "127.0.0.1";
  const port = o.port ?? urlPort ?? (protocol === "sftp" ? 22 : 21);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new FtpError("FTP_INVALID_CONFIG", "port must be an integer in 1…65535");
  const username = o.auth?.credentials?.username ?? urlUser;
  const password = o.auth?.credentials !== undefined && "password" in o.auth.credentials ? o.auth.credentials.password : urlPassword;
  const privateKey = o.auth?.privateKey;

  let secure: false | TlsConnectionOptions = urlSecure ? {} : false;
  if (o.secure !== undefined) secure = o.secure === true ? {} : o.secure === false ? false : o.secure;

  if (protocol === "sftp") {
    if (username === undefined || username === "") {
      throw new FtpError("FTP_INVALID_CONFIG", "SFTP needs a user name: auth.credentials.username or sftp://user@host");
    }
    if (password === undefined && privateKey === undefined) {
      throw new FtpError("FTP_INVALID_CONFIG", "SFTP needs a password (auth.credentials.password) or a private key (auth.privateKey)");
    }
    if (o.hostKey === undefined) {
      throw new FtpError(
        "FTP_INVALID_CONFIG",
        'SFTP needs hostKey: a pinned { fingerprint: "SHA256:…" } (ssh-keygen -lf), a { knownHostsFile }, or, for throw-away test servers only, { insecureAcceptAnyHostKey: true }',
      );
    }
    if (secure !== false) throw new FtpError("FTP_INVALID_CONFIG", "secure (FTPS) applies to FTP only; SFTP is always encrypted");
    if (privateKey !== undefined && privateKey.path === undefined && privateKey.key === undefined) {
      throw new FtpError("FTP_INVALID_CONFIG", "auth.privateKey needs a path or a key");
    }
  } else {
    if (o.hostKey !== undefined) throw new FtpError("FTP_INVALID_CONFIG", "hostKey applies to SFTP only (use secure for FTPS)");
    if (privateKey !== undefined) throw new FtpError("FTP_INVALID_CONFIG", "auth.privateKey applies to SFTP only");
  }
  const maxDefault = protocol === "sftp" ? 1 : 2;
  return {
    protocol,
    host,
    port,
    username,
    password,
    privateKey,
    hostKey: o.hostKey,
    secure,
    connectTimeoutMs: positive(o.connectTimeoutMs, 30_000, "connectTimeoutMs"),
    timeoutMs: positive(o.timeoutMs, 30_000, "timeoutMs"),
    retry: resolveRetry(o.retry),
    maxConnections: positive(o.maxConnections, maxDefault, "maxConnections", true),
    maxFileBytes: positive(o.maxFileBytes, DEFAULT_MAX_FILE_BYTES, "maxFileBytes"),
    logger: o.logger ?? silentLogger,
    debug: o.debug,
  };
}
