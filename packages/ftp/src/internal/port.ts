/**
 * The typed port both drivers implement: one connection to one server. Nothing outside
 * `internal/sftp.ts` and `internal/ftp.ts` sees a driver type.
 *
 * @internal
 * @module
 */
import type { Readable } from "node:stream";

/** One directory entry as the driver reports it. */
export interface RemoteEntry {
  readonly name: string;
  readonly type: "file" | "directory" | "symlink" | "other";
  readonly size: number;
  /** Milliseconds since the epoch, when the server tells it reliably. */
  readonly mtimeMs: number | undefined;
  /** FTP LIST's unparsed date. */
  readonly rawModified?: string;
  /** FTP LIST's `name -> target`. */
  readonly linkTarget?: string;
}

/**
 * Where a download delivers its bytes, in order: a core `PushSource` underneath, so blocks go
 * from the driver's socket to the consumer with no stream in between.
 */
export interface DownloadSink {
  /** One block. False: the consumer is behind, deliver the next block after `ready()`. */
  push(block: Buffer): boolean;
  /** Resolves when the sink takes blocks again (or was closed: the transfer is being aborted). */
  ready(): Promise<void>;
}

/** A download in progress, delivering into the `DownloadSink` it was opened with. */
export interface Download {
  /** The size when the transfer started, if known: fewer bytes means a truncated transfer. */
  readonly size: number | undefined;
  /**
   * Resolves once every byte went to the sink and the server confirmed the transfer; rejects
   * if it failed. Never unhandled.
   */
  readonly done: Promise<void>;
  /** Stop the transfer now (the connection may have to be dropped to do it). */
  abort(): void;
}

/** One connection. Methods reject with driver errors; `toFtpError` maps them. */
export interface Connection {
  readonly protocol: "sftp" | "ftp";
  /** Operations this connection runs at once (SFTP multiplexes; basic-ftp runs one). */
  readonly capacity: number;
  /** False once the connection was lost or closed. */
  readonly alive: boolean;
  list(path: string): Promise<RemoteEntry[]>;
  /** Attributes of `path` (not following a final symlink), or `undefined` if it does not exist. */
  lstat(path: string): Promise<RemoteEntry | undefined>;
  /** Canonical absolute path, symlinks resolved (SFTP); `undefined` where the protocol cannot tell. */
  realPath(path: string): Promise<string | undefined>;
  size(path: string): Promise<number>;
  /** Start a download into `sink`; opening failures (not found, a directory) reject here. */
  openRead(path: string, sink: DownloadSink): Promise<Download>;
  write(path: string, source: Readable, append: boolean): Promise<void>;
  mkdir(path: string, recursive: boolean): Promise<void>;
  rmdir(path: string, recursive: boolean): Promise<void>;
  rename(from: string, to: string, replace: boolean): Promise<void>;
  delete(path: string): Promise<void>;
  /** Close politely. */
  close(): Promise<void>;
  /** Drop now (after a failure or an aborted transfer). */
  destroy(): void;
}

/** Opens connections. */
export type ConnectionFactory = () => Promise<Connection>;
