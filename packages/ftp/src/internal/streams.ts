/**
 * Bridges between driver streams and core `Stream`s: a download as a `Stream<Uint8Array,
 * FtpError>` that checks it got every byte and frees its connection when closed, and any
 * stream or iterable of byte blocks as a Node `Readable` for an upload.
 *
 * @internal
 * @module
 */
import { Readable } from "node:stream";
import { Stream, toError } from "@pirouette/core";
import { FtpError } from "../errors.ts";
import { toFtpError } from "./map-error.ts";
import type { Lease } from "./pool.ts";
import type { Download } from "./port.ts";

/**
 * What an upload accepts: a core `Stream`, an async iterable (a Node readable, an async
 * generator) or an iterable of byte blocks.
 *
 * @example
 * ```ts
 * const source: ftp.ByteSource = fs.createReadStream("big.bin");
 * await client.putBytesAsStream("/in/big.bin", source);
 * ```
 */
export type ByteSource = Stream<Uint8Array, unknown> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * A download as a core Stream. It fails with `FTP_CONNECTION` if the server sent fewer bytes
 * than the file had when the transfer started; closing it early aborts the transfer. Either
 * way the lease is released exactly once.
 */
export function downloadStream(download: Download, lease: Lease, path: string): Stream<Uint8Array, FtpError> {
  let received = 0;
  let complete = false;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    if (!complete) download.abort();
    lease.release(!lease.conn.alive);
  };
  async function* blocks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of download.readable as AsyncIterable<Buffer>) {
      received += chunk.length;
      yield chunk;
    }
    await download.done;
    if (download.size !== undefined && received < download.size) {
      throw new FtpError("FTP_CONNECTION", `the transfer of ${path} ended after ${received} of ${download.size} bytes`, { path });
    }
    complete = true;
  }
  return Stream.from<Uint8Array, unknown>(blocks, { close: release }).mapError((e) => toFtpError(e, path, "read", "download"));
}

/** Read a whole download, failing with `FTP_TOO_LARGE` beyond `maxBytes`. */
export async function collect(stream: Stream<Uint8Array, FtpError>, path: string, maxBytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      total += chunk.length;
      if (total > maxBytes) {
        throw new FtpError("FTP_TOO_LARGE", `${path} is larger than maxFileBytes (${maxBytes} bytes); read it with getBytesAsStream`, { path });
      }
      parts.push(chunk);
    }
  } finally {
    await stream.close();
  }
  return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, total);
}

/** Fail the stream with `FTP_TOO_LARGE` once more than `maxBytes` went through. */
export function limitBytes(stream: Stream<Uint8Array, FtpError>, path: string, maxBytes: number): Stream<Uint8Array, FtpError> {
  let total = 0;
  return stream.map((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw new FtpError("FTP_TOO_LARGE", `${path} is larger than maxFileBytes (${maxBytes} bytes); use content: "stream"`, { path });
    return chunk;
  });
}

/** Holds the error of the user's content stream, if it failed. */
export interface SourceState {
  error: FtpError | undefined;
}

/**
 * A byte source as a binary Node Readable (Buffers: ssh2's write stream takes nothing else).
 * A failing source ends the upload with `FTP_SOURCE`, recorded in `state`.
 */
export function toReadable(source: ByteSource, state: SourceState): Readable {
  async function* buffers(): AsyncGenerator<Buffer> {
    try {
      for await (const block of source as AsyncIterable<Uint8Array>) {
        if (!(block instanceof Uint8Array)) {
          throw new FtpError("FTP_SOURCE", `an upload takes Uint8Array blocks; got ${block === null ? "null" : typeof block}`);
        }
        yield Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
      }
    } catch (e) {
      state.error = FtpError.isFtpError(e) && e.code === "FTP_SOURCE" ? e : new FtpError("FTP_SOURCE", `the content stream failed: ${toError(e).message}`, { cause: e });
      throw state.error;
    }
  }
  const readable = Readable.from(buffers(), { objectMode: false });
  readable.on("error", () => undefined); // reported through `state` and the driver's own listener
  return readable;
}

/** A Readable over one buffer (a fresh one per attempt, so retries can re-send it). */
export function bufferReadable(bytes: Uint8Array): Readable {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Readable.from([buf], { objectMode: false });
}
