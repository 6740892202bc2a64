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

/**
 * Payloads below this size written outside a batch are coalesced: the first one corks the
 * socket and the rest of the tick's writes join it in one system call (as node's own http
 * does for response writes).
 */
const AUTO_CORK_LIMIT = 16 * 1024;

/** Bytes of a payload the user handed us: a string is UTF-8. */
export function payloadBytes(value: Uint8Array | string): Uint8Array {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value instanceof Uint8Array) return value;
  throw new TcpError("INVALID_ARGUMENT", `expected a Uint8Array or a string, got ${value === null ? "null" : typeof value}`);
}

/** The payloads of a batch as bytes; the array itself when every item already is (no copy). */
export function payloadsBytes(values: readonly (Uint8Array | string)[]): readonly Uint8Array[] {
  for (let i = 0; i < values.length; i++) {
    if (!(values[i] instanceof Uint8Array)) return values.map(payloadBytes);
  }
  return values as readonly Uint8Array[];
}

function uncorkTick(w: SocketWriter): void {
  w.flushCork();
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
  readonly #describe: () => string;
  /** Waiting for 'drain': every waiter is settled by the same drain, close or timeout. */
  readonly #resolvers: (() => void)[] = [];
  readonly #rejecters: ((e: Error) => void)[] = [];
  #listening = false;
  /** One timer per writer, re-armed (refreshed) when a wait starts; unref'd. */
  #timer: NodeJS.Timeout | undefined;
  #autoCorked = false;

  constructor(socket: Socket, encoder: FrameEncoder, timeoutMs: number, describe: () => string) {
    this.#socket = socket;
    this.#encoder = encoder;
    this.#timeoutMs = timeoutMs > 0 && Number.isFinite(timeoutMs) ? timeoutMs : 0;
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

  /** Cork until the end of this tick, so that small writes of the same tick share a system call. */
  #autoCork(): void {
    if (this.#autoCorked) return;
    this.#autoCorked = true;
    this.#socket.cork();
    process.nextTick(uncorkTick, this);
  }

  /** @internal The end of the tick of an auto-cork. */
  flushCork(): void {
    if (!this.#autoCorked) return;
    this.#autoCorked = false;
    this.#socket.uncork();
  }

  /**
   * Write one payload without waiting (small payloads are sent at the end of the tick,
   * together with the tick's other writes). Throws a {@link TcpError} (closed, frame too large…).
   */
  writeSync(payload: Uint8Array): void {
    this.#assertOpen();
    if (payload.length < AUTO_CORK_LIMIT) this.#autoCork();
    this.#writeOne(payload);
  }

  /** Write one payload at once, inside the caller's own cork (the listener's replies). */
  writeDirect(payload: Uint8Array): void {
    this.#assertOpen();
    this.#writeOne(payload);
  }

  /**
   * Write several payloads as one batch: encoded into one buffer (one system call) when small,
   * else corked. Nothing is written when a payload cannot be encoded.
   */
  writeManySync(payloads: readonly Uint8Array[]): void {
    this.#assertOpen();
    if (payloads.length === 0) return;
    const s = this.#socket;
    const joined = this.#encoder.encodeMany(payloads);
    if (joined !== undefined) {
      if (joined.length < AUTO_CORK_LIMIT) this.#autoCork();
      s.write(joined);
      return;
    }
    // Too large to join: encode everything first (so that a bad payload writes nothing), then write corked.
    const pieces: Buffer[] = [];
    for (let i = 0; i < payloads.length; i++) {
      const encoded = this.#encoder.encode(payloads[i] as Uint8Array);
      if (Buffer.isBuffer(encoded)) pieces.push(encoded);
      else for (const piece of encoded) pieces.push(piece);
    }
    s.cork();
    for (let i = 0; i < pieces.length; i++) s.write(pieces[i] as Buffer);
    s.uncork();
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
    const s = this.#socket;
    if (!s.writableNeedDrain) return RESOLVED;
    if (s.destroyed) return Promise.reject(new TcpError("CLOSED", `the connection ${this.#describe()} is closed`));
    return new Promise<void>((resolve, reject) => {
      this.#resolvers.push(resolve);
      this.#rejecters.push(reject);
      if (this.#resolvers.length === 1) this.#startWait();
    });
  }

  #startWait(): void {
    const s = this.#socket;
    if (!this.#listening) {
      this.#listening = true;
      s.on("drain", () => this.#settleWaiters(undefined));
      s.on("close", () => {
        if (this.#resolvers.length > 0) {
          this.#settleWaiters(new TcpError("CLOSED", `the connection ${this.#describe()} closed before the write drained`));
        }
      });
    }
    const ms = this.#timeoutMs;
    if (ms === 0) return;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#onTimeout(), ms);
      // The socket keeps the process alive while a write is pending; the timer does not need to.
      this.#timer.unref();
    } else {
      this.#timer.refresh();
    }
  }

  #onTimeout(): void {
    // Fired after the last wait ended (the timer is re-armed, not cleared): nothing to do.
    if (this.#resolvers.length === 0) return;
    this.#settleWaiters(new TcpError("TIMEOUT", `write to ${this.#describe()} did not drain within ${this.#timeoutMs} ms`));
  }

  #settleWaiters(err: TcpError | undefined): void {
    const resolvers = this.#resolvers;
    const rejecters = this.#rejecters;
    const n = resolvers.length;
    if (n === 0) return;
    // Settling a promise runs no code synchronously: the arrays can be emptied after the loop.
    if (err === undefined) for (let i = 0; i < n; i++) (resolvers[i] as () => void)();
    else for (let i = 0; i < n; i++) (rejecters[i] as (e: Error) => void)(err);
    resolvers.length = 0;
    rejecters.length = 0;
  }
}
