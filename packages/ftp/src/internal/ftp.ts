/**
 * The FTP side of the port, on basic-ftp. basic-ftp runs one command at a time per
 * connection, so a connection has capacity 1 and the pool queues operations for it.
 *
 * @internal
 * @module
 */
import type { Readable } from "node:stream";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { Client as BasicFtp, FileType, type FileInfo as BasicFileInfo } from "basic-ftp";
import type { Logger } from "@pirouette/core";
import { FtpError } from "../errors.ts";
import { DownloadDestination } from "./download-destination.ts";
import { toFtpError } from "./map-error.ts";
import { baseName, parentOf } from "./paths.ts";
import type { Connection, Download, DownloadSink, RemoteEntry } from "./port.ts";

/** Everything needed to open one FTP connection. */
export interface FtpParams {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly secure: false | TlsConnectionOptions;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly logger: Logger;
}

function toEntry(f: BasicFileInfo): RemoteEntry {
  const type = f.type === FileType.File ? "file" : f.type === FileType.Directory ? "directory" : f.type === FileType.SymbolicLink ? "symlink" : "other";
  return {
    name: f.name,
    type,
    size: f.size,
    mtimeMs: f.modifiedAt?.getTime(),
    ...(f.rawModifiedAt === "" ? {} : { rawModified: f.rawModifiedAt }),
    ...(f.link === undefined || f.link === "" ? {} : { linkTarget: f.link }),
  };
}

/** One FTP control connection (plus a data connection per transfer). */
export class FtpConnection implements Connection {
  readonly protocol = "ftp" as const;
  readonly capacity = 1;
  readonly #client: BasicFtp;
  readonly #home: string;
  #dead = false;

  private constructor(client: BasicFtp, home: string) {
    this.#client = client;
    this.#home = home;
  }

  static async open(p: FtpParams): Promise<FtpConnection> {
    const client = new BasicFtp(p.timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        client.close();
        reject(new FtpError("FTP_TIMEOUT", `connecting to ${p.host}:${p.port} took longer than ${p.connectTimeoutMs} ms`));
      }, p.connectTimeoutMs);
    });
    const connect = async (): Promise<FtpConnection> => {
      await client.connect(p.host, p.port);
      if (p.secure !== false) {
        try {
          await client.useTLS({ host: p.host, ...p.secure });
        } catch (e) {
          throw new FtpError("FTP_TLS", `explicit TLS (AUTH TLS) failed on ${p.host}:${p.port}: ${toFtpError(e, undefined, "connect").message}`, { cause: e });
        }
      }
      await client.login(p.user, p.password);
      await client.useDefaultSettings();
      const home = await client.pwd();
      return new FtpConnection(client, home);
    };
    try {
      return await Promise.race([connect(), timeout]);
    } catch (e) {
      client.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  get alive(): boolean {
    return !this.#dead && !this.#client.closed;
  }

  async list(path: string): Promise<RemoteEntry[]> {
    const entries = (await this.#client.list(path)).map(toEntry).filter((e) => e.name !== "." && e.name !== "..");
    // vsftpd answers LIST of a missing directory with an empty listing: tell the two apart.
    if (entries.length === 0 && !(await this.#isDirectory(path))) {
      throw new FtpError("FTP_NOT_FOUND", `no such directory: ${path}`, { path });
    }
    return entries;
  }

  async #isDirectory(path: string): Promise<boolean> {
    const res = await this.#client.sendIgnoringError(`CWD ${await this.#client.protectWhitespace(path)}`);
    if (res.code >= 400) return false;
    await this.#client.send(`CWD ${this.#home}`);
    return true;
  }

  async lstat(path: string): Promise<RemoteEntry | undefined> {
    const trimmed = path.replace(/\/+$/, "");
    if (trimmed === "" || trimmed === "." || trimmed === "/") return { name: path, type: "directory", size: 0, mtimeMs: undefined };
    const parent = parentOf(trimmed);
    const name = baseName(trimmed);
    let entries: BasicFileInfo[];
    try {
      entries = await this.#client.list(parent === "" ? "" : parent);
    } catch (e) {
      const err = toFtpError(e, path, "read");
      if (err.code === "FTP_NOT_FOUND") return undefined;
      throw e;
    }
    const hit = entries.find((f) => f.name === name);
    return hit === undefined ? undefined : { ...toEntry(hit), name: path };
  }

  realPath(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  size(path: string): Promise<number> {
    return this.#client.size(path);
  }

  async openRead(path: string, sink: DownloadSink): Promise<Download> {
    // SIZE first: a missing file fails here, before a stream is handed out.
    const size = await this.#client.size(path);
    // basic-ftp pipes its data socket into the destination, which hands each block to the sink.
    const destination = new DownloadDestination(sink);
    const done = this.#client.downloadTo(destination, path).then(
      () => undefined,
      (e: unknown) => {
        this.#dead = true; // basic-ftp closes the connection on a failed transfer
        throw e;
      },
    );
    done.catch(() => undefined);
    return {
      size,
      done,
      abort: () => {
        // FTP has no reliable mid-transfer abort: drop the connection (the pool opens a new one).
        this.destroy();
        destination.destroy();
      },
    };
  }

  async write(path: string, source: Readable, append: boolean): Promise<void> {
    try {
      if (append) await this.#client.appendFrom(source, path);
      else await this.#client.uploadFrom(source, path);
    } catch (e) {
      if (this.#client.closed) this.#dead = true;
      throw e;
    }
  }

  async mkdir(path: string, recursive: boolean): Promise<void> {
    const dirs: string[] = [];
    if (recursive) {
      const abs = path.startsWith("/");
      const parts = path.split("/").filter((s) => s !== "");
      for (let i = 1; i <= parts.length; i++) dirs.push(`${abs ? "/" : ""}${parts.slice(0, i).join("/")}`);
    } else dirs.push(path);
    for (const d of dirs) {
      const res = await this.#client.sendIgnoringError(`MKD ${await this.#client.protectWhitespace(d)}`);
      if (res.code >= 400 && !(await this.#isDirectory(d))) {
        throw new FtpError("FTP_FAILED", `cannot create directory ${d}: ${res.message}`, {
          path: d,
          serverCode: res.code,
        });
      }
    }
  }

  async rmdir(path: string, recursive: boolean): Promise<void> {
    if (recursive) await this.#client.removeDir(path);
    else await this.#client.removeEmptyDir(path);
  }

  async rename(from: string, to: string, replace: boolean): Promise<void> {
    if (!replace && (await this.lstat(to)) !== undefined) {
      throw new FtpError("FTP_EXISTS", `cannot rename ${from}: ${to} already exists`, { path: to });
    }
    await this.#client.rename(from, to);
  }

  async delete(path: string): Promise<void> {
    await this.#client.remove(path);
  }

  async close(): Promise<void> {
    this.destroy();
    return Promise.resolve();
  }

  destroy(): void {
    this.#dead = true;
    this.#client.close();
  }
}
