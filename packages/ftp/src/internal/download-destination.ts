/**
 * The Writable a driver's download stream is piped into: each block goes straight to the
 * download's sink, and a full sink holds the write callback, so the pipe pauses the transfer.
 *
 * @internal
 * @module
 */
import { Writable } from "node:stream";
import type { DownloadSink } from "./port.ts";

/**
 * Bytes queued in the Writable while the sink is full, before the pipe pauses the source.
 * Above one socket read (64 KiB), so a sink that keeps up never pauses it.
 */
const HIGH_WATER_MARK = 256 * 1024;

/** Pipe a download into this (basic-ftp's stall watchdog needs a pipe to see backpressure). */
export class DownloadDestination extends Writable {
  readonly #sink: DownloadSink;

  constructor(sink: DownloadSink) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.#sink = sink;
    this.on("error", () => undefined); // the transfer reports it
  }

  override _write(block: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#sink.push(block)) callback();
    else void this.#sink.ready().then(() => callback());
  }
}
