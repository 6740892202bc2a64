/**
 * Framed writes on a socket with drain-based backpressure and a write timeout.
 *
 * @internal
 * @module
 */
import type { Socket } from "node:net";
import { TcpError } from "../errors.ts";
import type { FrameEncoder } from "./framing.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** Bytes of a payload the user handed us: a string is UTF-8. */
export function payloadBytes(value: Uint8Array | string): Uint8Array {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value instanceof Uint8Array) return value;
  throw new TcpError("INVALID_ARGUMENT", `expected a Uint8Array or a string, got ${value === null ? "null" : typeof value}`);
}

/**
 * Writes frames to one socket. `writeSync` never waits; `write` resolves at once while the
 * socket buffer is below its high-water mark and otherwise when it drains (bounded by the
 * write timeout), so a producer that awaits it never outruns the peer.
 */
export class SocketWriter {
  readonly #socket: Socket;
  readonly #encoder: FrameEncoder;
  readonly #timeoutMs: number;
  /** Shared by every waiter; resolves (never rejects) with the error that ended the wait, if any. */
  #drain: Promise<TcpError | undefined> | undefined;
  readonly #describe: () => string;

  constructor(socket: Socket, encoder: FrameEncoder, timeoutMs: number, describe: () => string) {
    this.#socket = socket;
    this.#encoder = encoder;
    this.#timeoutMs = timeoutMs;
    this.#describe = describe;
  }

  /** True once nothing more can be written. */
  get isClosed(): boolean {
    return this.#socket.destroyed || this.#socket.writableEnded;
  }

  #assertOpen(): void {
    if (this.isClosed) throw new TcpError("CLOSED", `the connection ${this.#describe()} is closed`);
  }

  #writeOne(payload: Uint8Array): void {
    const encoded = this.#encoder.encode(payload);
    if (Buffer.isBuffer(encoded)) {
      this.#socket.write(encoded);
    } else {
      for (const piece of encoded) this.#socket.write(piece);
    }
  }

  /** Write one payload without waiting. Throws a {@link TcpError} (closed, frame too large…). */
  writeSync(payload: Uint8Array): void {
    this.#assertOpen();
    this.#writeOne(payload);
  }

  /** Write several payloads in one corked batch (one system call for small frames). */
  writeManySync(payloads: readonly Uint8Array[]): void {
    this.#assertOpen();
    const s = this.#socket;
    s.cork();
    try {
      for (let i = 0; i < payloads.length; i++) this.#writeOne(payloads[i] as Uint8Array);
    } finally {
      s.uncork();
    }
  }

  /** Write and resolve when the socket can take more. */
  write(payload: Uint8Array): Promise<void> {
    try {
      this.writeSync(payload);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.ready();
  }

  /** Write a batch and resolve when the socket can take more. */
  writeMany(payloads: readonly Uint8Array[]): Promise<void> {
    try {
      this.writeManySync(payloads);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.ready();
  }

  /** Resolves when the socket buffer is below its high-water mark (rejects if it closes or times out). */
  ready(): Promise<void> {
    if (!this.#socket.writableNeedDrain) return RESOLVED;
    if (this.#socket.destroyed) return Promise.reject(new TcpError("CLOSED", `the connection ${this.#describe()} is closed`));
    const drain = (this.#drain ??= this.#waitDrain());
    const timeoutMs = this.#timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer =
        timeoutMs > 0 && Number.isFinite(timeoutMs)
          ? setTimeout(
              () => reject(new TcpError("TIMEOUT", `write to ${this.#describe()} did not drain within ${timeoutMs} ms`)),
              timeoutMs,
            )
          : undefined;
      void drain.then((err) => {
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      });
    });
  }

  #waitDrain(): Promise<TcpError | undefined> {
    const s = this.#socket;
    return new Promise<TcpError | undefined>((resolve) => {
      const done = (err: TcpError | undefined): void => {
        s.off("drain", onDrain);
        s.off("close", onClose);
        this.#drain = undefined;
        resolve(err);
      };
      const onDrain = (): void => done(undefined);
      const onClose = (): void => done(new TcpError("CLOSED", `the connection ${this.#describe()} closed before the write drained`));
      s.on("drain", onDrain);
      s.on("close", onClose);
    });
  }
}
