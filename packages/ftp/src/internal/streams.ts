/**
 * Bridges between driver streams and core `Stream`s: a download as a `Stream<Uint8Array,
 * FtpError>` that checks it got every byte and frees its connection when closed, and any
 * stream or iterable of byte blocks as a Node `Readable` for an upload.
 *
 * @internal
 * @module
 */
import { Readable } from "node:stream";
import { toError, type Stream } from "@pirouette/core";
import { FtpError } from "../errors.ts";
import { BlockQueue } from "./block-queue.ts";
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
 * Blocks (up to 64 KiB each) buffered between the driver and the consumer before the transfer
 * is paused: about 1 MiB, plus the chunk the consumer is working through.
 */
const DOWNLOAD_HIGH_WATER_MARK = 16;

/**
 * Start a download as a core Stream. The driver's stream is piped into a `DownloadDestination`
 * that pushes each block, as read, into a `BlockQueue` the consumer's Stream pulls from: no
 * Transform, async generator or error-mapping operator in between. A full queue pauses the
 * transfer. The stream fails with `FTP_CONNECTION` if the server sent fewer bytes than the
 * file had when the transfer started; closing it early aborts the transfer. Either way the
 * lease is released exactly once. Opening failures reject (the caller releases the lease).
 */
export async function downloadStream(lease: Lease, path: string): Promise<Stream<Uint8Array, FtpError>> {
  let complete = false;
  let released = false;
  // Runs when the consumer drained the stream, it failed, or it was closed early: only after
  // the stream was handed out, so `download` is set by then.
  const queue = new BlockQueue<FtpError>(DOWNLOAD_HIGH_WATER_MARK, () => {
    if (released) return;
    released = true;
    if (!complete) download.abort();
    lease.release(!lease.conn.alive);
  });
  const download: Download = await lease.conn.openRead(path, queue);
  const size = download.size;
  download.done.then(
    () => {
      if (size !== undefined && queue.bytes < size) {
        queue.fail(new FtpError("FTP_CONNECTION", `the transfer of ${path} ended after ${queue.bytes} of ${size} bytes`, { path }));
        return;
      }
      complete = true;
      queue.end();
    },
    (e: unknown) => queue.fail(toFtpError(e, path, "read", "download")),
  );
  return queue.stream;
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
  const failed = (e: unknown): FtpError => {
    state.error = FtpError.isFtpError(e) && e.code === "FTP_SOURCE" ? e : new FtpError("FTP_SOURCE", `the content stream failed: ${toError(e).message}`, { cause: e });
    return state.error;
  };
  async function* fromAsync(blocks: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    try {
      for await (const block of blocks) yield asBuffer(block);
    } catch (e) {
      throw failed(e);
    }
  }
  // A synchronous source (an array, a generator) is read synchronously, as the driver asks:
  // no promise per block.
  function* fromSync(blocks: Iterable<Uint8Array>): Generator<Buffer> {
    try {
      for (const block of blocks) yield asBuffer(block);
    } catch (e) {
      throw failed(e);
    }
  }
  const blocks =
    typeof (source as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] === "function"
      ? fromAsync(source as AsyncIterable<Uint8Array>)
      : fromSync(source as Iterable<Uint8Array>);
  const readable = Readable.from(blocks, { objectMode: false });
  readable.on("error", () => undefined); // reported through `state` and the driver's own listener
  return readable;
}

function asBuffer(block: unknown): Buffer {
  if (!(block instanceof Uint8Array)) {
    throw new FtpError("FTP_SOURCE", `an upload takes Uint8Array blocks; got ${block === null ? "null" : typeof block}`);
  }
  return Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
}

/** A Readable over one buffer (a fresh one per attempt, so retries can re-send it). */
export function bufferReadable(bytes: Uint8Array): Readable {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Readable.from([buf], { objectMode: false });
}
