/**
 * A batching file writer: overwrite through a temporary file renamed into place, or append.
 * @internal
 * @module
 */
import { randomBytes } from "node:crypto";
import { open, realpath, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsError, IoError } from "../errors.ts";
import type { FileWriteOption } from "../options.ts";

/** Writes are gathered up to this many bytes, then written with one system call. */
const BATCH = 65_536;

/**
 * OVERWRITE writes to `.<name>.<random>.tmp` next to the target, flushes it to disk and renames
 * it over the target on `commit`: readers see the old file or the new one, never a torn one, and
 * a failed write leaves the old file untouched. The existing file's permission bits are kept
 * (not its owner). A target that exists but is not a regular file (a FIFO, a device) is written
 * in place. APPEND opens the file with `O_APPEND` (created when missing): not atomic.
 */
export class FileSink {
  readonly #path: string;
  readonly #handle: FileHandle;
  readonly #temp: string | undefined;
  readonly #target: string;
  #pending: Uint8Array[] = [];
  #size = 0;
  #finished = false;

  private constructor(path: string, handle: FileHandle, temp: string | undefined, target: string) {
    this.#path = path;
    this.#handle = handle;
    this.#temp = temp;
    this.#target = target;
  }

  static async open(path: string, option: FileWriteOption): Promise<FileSink> {
    if (option !== "OVERWRITE" && option !== "APPEND") {
      throw new IoError("INVALID_ARGUMENT", `the write option must be "OVERWRITE" or "APPEND", got ${JSON.stringify(option)}`);
    }
    try {
      if (option === "APPEND") return new FileSink(path, await open(path, "a"), undefined, path);
      let target = path;
      let mode: number | undefined;
      try {
        const info = await stat(path);
        if (!info.isFile()) return new FileSink(path, await open(path, "w"), undefined, path);
        target = await realpath(path); // write next to the real file: a symlink keeps pointing at it
        mode = info.mode & 0o7777;
      } catch (cause) {
        if ((cause as { code?: unknown }).code !== "ENOENT") throw cause;
      }
      const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
      const handle = await open(temp, "wx", mode ?? 0o666);
      if (mode !== undefined) {
        try {
          await handle.chmod(mode); // the umask applied at creation must not narrow it
        } catch (cause) {
          await handle.close().catch(() => undefined);
          await unlink(temp).catch(() => undefined);
          throw cause;
        }
      }
      return new FileSink(path, handle, temp, target);
    } catch (cause) {
      throw fsError(cause, path, "write");
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    if (this.#size === 0 && bytes.length >= BATCH) return this.#writeAll(bytes);
    this.#pending.push(bytes);
    this.#size += bytes.length;
    if (this.#size >= BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#size === 0) return;
    const data = this.#pending.length === 1 ? (this.#pending[0] as Uint8Array) : Buffer.concat(this.#pending, this.#size);
    this.#pending = [];
    this.#size = 0;
    await this.#writeAll(data);
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    try {
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await this.#handle.write(data, offset, data.length - offset, null);
        offset += bytesWritten;
      }
    } catch (cause) {
      throw fsError(cause, this.#path, "write");
    }
  }

  /** Write what is pending, flush to disk and (OVERWRITE) rename into place. */
  async commit(): Promise<void> {
    if (this.#finished) return;
    try {
      await this.flush();
      if (this.#temp !== undefined) await this.#handle.datasync();
    } catch (cause) {
      await this.abort();
      throw fsError(cause, this.#path, "write");
    }
    this.#finished = true;
    try {
      await this.#handle.close();
      if (this.#temp !== undefined) await rename(this.#temp, this.#target);
    } catch (cause) {
      if (this.#temp !== undefined) await unlink(this.#temp).catch(() => undefined);
      throw fsError(cause, this.#path, "write");
    }
  }

  /**
   * Give up. OVERWRITE: close and remove the temporary file, leaving the target as it was.
   * APPEND: write what is pending (whole rows or lines received before the failure), then close.
   */
  async abort(): Promise<void> {
    if (this.#finished) return;
    if (this.#temp === undefined) await this.flush().catch(() => undefined);
    this.#finished = true;
    this.#pending = [];
    this.#size = 0;
    await this.#handle.close().catch(() => undefined);
    if (this.#temp !== undefined) await unlink(this.#temp).catch(() => undefined);
  }
}
