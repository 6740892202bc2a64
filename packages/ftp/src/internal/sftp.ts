/**
 * The SFTP side of the port, on ssh2-sftp-client (and ssh2 underneath). ssh2-sftp-client 12
 * ships no types and @types/ssh2-sftp-client describes v9, so the driver is used through the
 * small interface below, written against v12's source.
 *
 * @internal
 * @module
 */
import { readFile } from "node:fs/promises";
import { pipeline, type Readable } from "node:stream";
import sftpModule from "ssh2-sftp-client";
import ssh2 from "ssh2";
import { toError, type Logger } from "@pirouette/core";
import { FtpError } from "../errors.ts";
import type { PrivateKey } from "../options.ts";
import { DownloadDestination } from "./download-destination.ts";
import type { HostKeyVerifier } from "./host-key.ts";
import type { Connection, Download, DownloadSink, RemoteEntry } from "./port.ts";

/** A listing entry as ssh2-sftp-client 12 returns it. */
interface DriverEntry {
  readonly type: string;
  readonly name: string;
  readonly size: number;
  readonly modifyTime: number;
}

/** `stat`/`lstat` as ssh2-sftp-client 12 returns it. */
interface DriverStat {
  readonly size: number;
  readonly modifyTime: number;
  readonly isDirectory: boolean;
  readonly isFile: boolean;
  readonly isSymbolicLink: boolean;
}

interface StreamOptions {
  readonly writeStreamOptions?: { readonly flags?: string; readonly mode?: number };
}

/** The part of ssh2-sftp-client 12 the port uses. */
interface SftpDriver {
  readonly client: { destroy?(): void; end(): void; setNoDelay?(noDelay: boolean): void };
  connect(config: Record<string, unknown>): Promise<unknown>;
  list(path: string): Promise<DriverEntry[]>;
  stat(path: string): Promise<DriverStat>;
  lstat(path: string): Promise<DriverStat>;
  realPath(path: string): Promise<string>;
  createReadStream(path: string, options?: { readonly highWaterMark?: number }): Readable;
  put(source: Readable, path: string, options?: StreamOptions): Promise<string>;
  mkdir(path: string, recursive: boolean): Promise<string>;
  rmdir(path: string, recursive: boolean): Promise<string>;
  delete(path: string, notFoundOk?: boolean): Promise<string>;
  rename(from: string, to: string): Promise<string>;
  posixRename(from: string, to: string): Promise<string>;
  end(): Promise<boolean>;
}

type SftpDriverClass = new (
  name: string,
  callbacks: { error(err: Error): void; end(): void; close(): void },
) => SftpDriver;

const SftpDriverCtor = sftpModule as unknown as SftpDriverClass;
const sshUtils = ssh2.utils;

/** Everything needed to open one SFTP connection. */
export interface SftpParams {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string | undefined;
  readonly privateKey: PrivateKey | undefined;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly verifier: () => HostKeyVerifier;
  readonly logger: Logger;
  readonly debug: ((line: string) => void) | undefined;
}

const READ_BLOCK = 64 * 1024;
const CLOSE_TIMEOUT_MS = 2000;

/** A private key parsed by ssh2 (decrypted once: bcrypt KDF rounds are slow in JS). */
export type LoadedKey = Exclude<ReturnType<typeof ssh2.utils.parseKey>, Error>;

/** Read, decrypt and check the private key once: a wrong passphrase is an `FTP_AUTH` error, not a crash in ssh2. */
export async function loadPrivateKey(key: PrivateKey): Promise<LoadedKey> {
  let data: Buffer;
  if (key.key !== undefined) data = Buffer.from(key.key);
  else if (key.path !== undefined) {
    try {
      data = await readFile(key.path);
    } catch (cause) {
      throw new FtpError("FTP_INVALID_CONFIG", `cannot read the private key file ${key.path}: ${toError(cause).message}`, { cause });
    }
  } else throw new FtpError("FTP_INVALID_CONFIG", "auth.privateKey needs a path or a key");
  const parsed = sshUtils.parseKey(data, key.passphrase);
  if (parsed instanceof Error) {
    throw new FtpError(
      "FTP_AUTH",
      `the private key cannot be read${key.passphrase === undefined ? " (is it encrypted? give auth.privateKey.passphrase)" : " (wrong passphrase?)"}: ${parsed.message}`,
      { cause: parsed },
    );
  }
  return parsed;
}

function entryType(t: string): RemoteEntry["type"] {
  if (t === "-") return "file";
  if (t === "d") return "directory";
  if (t === "l") return "symlink";
  return "other";
}

function fromStat(name: string, s: DriverStat): RemoteEntry {
  return {
    name,
    type: s.isSymbolicLink ? "symlink" : s.isDirectory ? "directory" : s.isFile ? "file" : "other",
    size: s.size,
    mtimeMs: s.modifyTime,
  };
}

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === 2;
}

/** One SFTP connection (one SSH session, one SFTP channel; operations multiplex over it). */
export class SftpConnection implements Connection {
  readonly protocol = "sftp" as const;
  readonly capacity = Number.POSITIVE_INFINITY;
  readonly #driver: SftpDriver;
  #alive = true;

  private constructor(driver: SftpDriver) {
    this.#driver = driver;
  }

  /** Connect and authenticate; a host key refused by the verifier rejects with `FTP_HOST_KEY`. */
  static async open(p: SftpParams, privateKey: LoadedKey | undefined): Promise<SftpConnection> {
    const verifier = p.verifier();
    if (verifier.insecure) {
      p.logger.warn({ host: p.host, port: p.port }, "insecureAcceptAnyHostKey: the SFTP host key is NOT verified; anyone on the network path can impersonate this server");
    }
    const state = { conn: undefined as SftpConnection | undefined };
    const lost = (): void => {
      if (state.conn !== undefined) state.conn.#alive = false;
    };
    const driver = new SftpDriverCtor("pirouette", {
      // ssh2-sftp-client's defaults print to the console; a lost connection is seen by the next operation.
      error: (err) => {
        lost();
        p.logger.debug({ err, host: p.host }, "sftp connection error");
      },
      end: lost,
      close: lost,
    });
    const conn = new SftpConnection(driver);
    state.conn = conn;
    const methods: Record<string, unknown>[] = [];
    if (privateKey !== undefined) {
      methods.push({ type: "publickey", username: p.username, key: privateKey });
    }
    if (p.password !== undefined) methods.push({ type: "password", username: p.username, password: p.password });
    const preferred = verifier.preferredAlgorithms;
    const config: Record<string, unknown> = {
      host: p.host,
      port: p.port,
      username: p.username,
      readyTimeout: p.connectTimeoutMs,
      keepaliveInterval: Math.max(1000, Math.floor(p.timeoutMs / 3)),
      keepaliveCountMax: 3,
      // Runs during the key exchange: a refused key ends the connection before any USERAUTH request.
      hostVerifier: (key: Buffer) => verifier.verify(key),
      authHandler: (_methodsLeft: unknown, _partial: unknown, next: (m: unknown) => void) => next(methods.shift() ?? false),
      ...(preferred.length === 0 ? {} : { algorithms: { serverHostKey: { remove: [...preferred], prepend: [...preferred] } } }),
      ...(p.debug === undefined ? {} : { debug: p.debug }),
    };
    try {
      const connecting = driver.connect(config);
      // Without TCP_NODELAY, Nagle and delayed ACKs cost ~40 ms per SFTP request (64 KiB): 1.5 MB/s.
      driver.client.setNoDelay?.(true);
      await connecting;
    } catch (e) {
      conn.destroy();
      throw verifier.refusal ?? e;
    }
    if (verifier.refusal !== undefined) {
      conn.destroy();
      throw verifier.refusal;
    }
    return conn;
  }

  get alive(): boolean {
    return this.#alive;
  }

  async list(path: string): Promise<RemoteEntry[]> {
    const entries = await this.#driver.list(path);
    return entries.map((e) => ({ name: e.name, type: entryType(e.type), size: e.size, mtimeMs: e.modifyTime }));
  }

  async lstat(path: string): Promise<RemoteEntry | undefined> {
    try {
      return fromStat(path, await this.#driver.lstat(path));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async realPath(path: string): Promise<string | undefined> {
    const p = await this.#driver.realPath(path);
    return p === "" ? undefined : p;
  }

  async size(path: string): Promise<number> {
    return (await this.#driver.stat(path)).size;
  }

  async openRead(path: string, sink: DownloadSink): Promise<Download> {
    const st = await this.#driver.stat(path);
    if (st.isDirectory) throw new FtpError("FTP_FAILED", `${path} is a directory`, { path });
    const readable = this.#driver.createReadStream(path, { highWaterMark: READ_BLOCK });
    // An error emitted after the pipe is gone (the handle close failing on a dead connection)
    // must not become an uncaught exception.
    readable.on("error", () => undefined);
    // Piped (flowing): each block goes to the sink as ssh2 reads it; a full sink pauses the reads.
    const done = new Promise<void>((resolve, reject) => {
      pipeline(readable, new DownloadDestination(sink), (err) => (err ? reject(err) : resolve()));
    });
    done.catch(() => undefined);
    return {
      size: st.size,
      done,
      abort: () => readable.destroy(),
    };
  }

  async write(path: string, source: Readable, append: boolean): Promise<void> {
    await this.#driver.put(source, path, { writeStreamOptions: { flags: append ? "a" : "w", mode: 0o644 } });
  }

  async mkdir(path: string, recursive: boolean): Promise<void> {
    await this.#driver.mkdir(path, recursive);
  }

  async rmdir(path: string, recursive: boolean): Promise<void> {
    await this.#driver.rmdir(path, recursive);
  }

  async rename(from: string, to: string, replace: boolean): Promise<void> {
    // posix-rename@openssh.com replaces the target atomically; SFTPv3 RENAME refuses an existing one.
    if (!replace) {
      await this.#driver.rename(from, to);
      return;
    }
    try {
      await this.#driver.posixRename(from, to);
    } catch (e) {
      // Servers without the extension: remove the target, then a plain rename (not atomic).
      if (!/does not support|not supported|unsupported/i.test((e as Error).message)) throw e;
      await this.#driver.delete(to, true);
      await this.#driver.rename(from, to);
    }
  }

  async delete(path: string): Promise<void> {
    await this.#driver.delete(path);
  }

  async close(): Promise<void> {
    if (!this.#alive) {
      this.destroy();
      return;
    }
    this.#alive = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      // A half-dead connection may never answer the polite close: drop it after a while.
      await Promise.race([this.#driver.end(), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)))]);
    } catch {
      // dropped below
    } finally {
      clearTimeout(timer);
      this.destroy();
    }
  }

  destroy(): void {
    this.#alive = false;
    const c = this.#driver.client;
    try {
      if (typeof c.destroy === "function") c.destroy();
      else c.end();
    } catch {
      // already gone
    }
  }
}
