/**
 * Pull sources over a file handle: blocks and lines.
 * @internal
 * @module
 */
import { open, type FileHandle } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import type { StreamSource } from "@pirouette/core";
import { fsError, IoError } from "../errors.ts";

/** Bytes read from the file per system call (blocks smaller than this are views into one read). */
export const READ_SIZE = 262_144;

/**
 * Opens the file on the first pull (so a missing file fails the stream with `IO_NOT_FOUND`),
 * reads `readSize` bytes per pull, and closes the handle once on end, failure or close. A close
 * while a read is pending waits for it (FileHandle semantics) and no read starts after it.
 */
class FileReader {
  readonly #path: string;
  #handle: FileHandle | undefined;
  #opening: Promise<FileHandle> | undefined;
  #closed = false;
  #eof = false;

  constructor(path: string) {
    this.#path = path;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next bytes (a fresh buffer, never reused), or `null` at the end of the file. */
  async read(size: number): Promise<Buffer | null> {
    if (this.#closed || this.#eof) return null;
    const handle = this.#handle ?? (await this.#open());
    if (this.#closed) return null;
    let bytesRead: number;
    const buffer = Buffer.allocUnsafe(size);
    try {
      ({ bytesRead } = await handle.read(buffer, 0, size, null));
    } catch (cause) {
      if (this.#closed) return null;
      throw fsError(cause, this.#path, "read");
    }
    if (bytesRead === 0) {
      this.#eof = true;
      return null;
    }
    return bytesRead === size ? buffer : buffer.subarray(0, bytesRead);
  }

  async #open(): Promise<FileHandle> {
    this.#opening ??= open(this.#path, "r").then(
      (h) => (this.#handle = h),
      (cause: unknown) => {
        throw fsError(cause, this.#path, "read");
      },
    );
    return this.#opening;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const handle = this.#handle ?? (this.#opening === undefined ? undefined : await this.#opening.catch(() => undefined));
    this.#handle = undefined;
    try {
      await handle?.close();
    } catch (cause) {
      throw fsError(cause, this.#path, "read");
    }
  }
}

/** Checks a path argument. */
export function checkPath(path: unknown): string {
  if (typeof path === "string" && path !== "" && !path.includes("\0")) return path;
  if (path instanceof URL && path.protocol === "file:") return decodeURIComponent(path.pathname);
  throw new IoError("INVALID_ARGUMENT", `a file path must be a non-empty string without NUL, got ${JSON.stringify(path)}`);
}

/** Blocks of exactly `blockSize` bytes (the last may be shorter), several per pull as views into one read. */
export function blockSource(path: string, blockSize: number): StreamSource<Uint8Array> {
  const reader = new FileReader(path);
  const readSize = blockSize >= READ_SIZE ? blockSize : Math.floor(READ_SIZE / blockSize) * blockSize;
  let carry: Buffer | undefined; // a short read that is not the end of the file (rare: pipes, FIFOs)
  return {
    async pull() {
      let bytes = await reader.read(readSize);
      if (bytes === null) {
        if (carry === undefined) return null;
        const last = carry;
        carry = undefined;
        return [last];
      }
      if (carry !== undefined) {
        bytes = Buffer.concat([carry, bytes]);
        carry = undefined;
      }
      const whole = bytes.length - (bytes.length % blockSize);
      const blocks: Uint8Array[] = [];
      for (let at = 0; at < whole; at += blockSize) blocks.push(bytes.subarray(at, at + blockSize));
      if (whole < bytes.length) carry = bytes.subarray(whole);
      return blocks;
    },
    close: () => reader.close(),
  };
}

/**
 * Text lines (without `\n` or `\r\n`), decoded across block boundaries. A last line without a
 * terminator is yielded; a trailing terminator does not make an empty last line.
 */
export function lineSource(path: string, encoding: BufferEncoding): StreamSource<string> {
  const reader = new FileReader(path);
  const decoder = new StringDecoder(encoding);
  let partial = "";
  let done = false;
  return {
    async pull() {
      for (;;) {
        if (done) return null;
        const bytes = await reader.read(READ_SIZE);
        if (bytes === null) {
          done = true;
          const rest = partial + decoder.end();
          partial = "";
          if (rest === "") return null;
          return [stripCr(rest)];
        }
        const text = partial + decoder.write(bytes);
        const lines = text.split("\n");
        partial = lines.pop() as string;
        if (lines.length === 0) continue;
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i] as string;
          if (line.endsWith("\r")) lines[i] = line.slice(0, -1);
        }
        return lines;
      }
    },
    close: () => reader.close(),
  };
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
