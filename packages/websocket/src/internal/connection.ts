/**
 * One server-side connection: sending with backpressure and a slow-consumer cap, closing with
 * a timeout, streamed replies, flow control of reads.
 * @internal
 * @module
 */
import { randomUUID } from "node:crypto";
import { Stream, toError, type Codec } from "@pirouette/core";
import { WebSocket } from "ws";
import { CloseFrame } from "../close-frame.ts";
import { WebSocketError } from "../errors.ts";
import type { WebSocketService } from "../options.ts";
import { encodeMessage, isMessageStream } from "./encode.ts";

export interface ConnectionSettings {
  readonly codec: Codec<unknown>;
  readonly highWaterMark: number;
  readonly maxBufferedBytes: number;
  readonly sendTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly secure: boolean;
  readonly remoteAddress: string | undefined;
  /** Report an error to the service's `onError` (never throws). */
  readonly report: (error: Error) => void;
}

const RESOLVED = Promise.resolve();

function closedError(): WebSocketError {
  return new WebSocketError("CLOSED", "the connection is closed");
}

export class Connection {
  readonly id = randomUUID();
  readonly ws: WebSocket;
  readonly service: WebSocketService;
  readonly attributes = new Map<string, unknown>();
  /** The coordinates of every message on this connection (shared, never mutated). */
  readonly coordinates: Readonly<Record<string, unknown>>;
  readonly settings: ConnectionSettings;
  /** Something arrived since the last liveness ping. */
  alive = true;
  /** Messages submitted and not settled. */
  queued = 0;
  /** Reads are paused because `queued` reached the limit. */
  queuePaused = false;
  #pauses = 0;
  readonly #pumps = new Set<Stream<unknown, unknown>>();
  #closeTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly closed: Promise<CloseFrame>;
  #resolveClosed!: (frame: CloseFrame) => void;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(ws: WebSocket, service: WebSocketService, settings: ConnectionSettings, path: string) {
    this.ws = ws;
    this.coordinates = Object.freeze({ path, connectionId: this.id });
    this.service = service;
    this.settings = settings;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** True while reads are held back by our own flow control (not the peer's fault). */
  get pausedByUs(): boolean {
    return this.#pauses > 0;
  }

  pause(): void {
    if (this.#pauses++ === 0) this.ws.pause();
  }

  resume(): void {
    if (this.#pauses === 0) return;
    if (--this.#pauses === 0) this.ws.resume();
  }

  /** Send raw data. Resolves at once below the high-water mark, else once the data is written. */
  sendRaw(data: string | Buffer, binary: boolean): Promise<void> {
    const ws = this.ws;
    if (ws.readyState !== WebSocket.OPEN) return Promise.reject(closedError());
    let p: Promise<void> = RESOLVED;
    if (ws.bufferedAmount >= this.settings.highWaterMark) {
      // Wait until the socket took it; a peer that takes nothing for sendTimeoutMs is a slow
      // consumer. Later write errors surface through the socket's error/close events, not here.
      p = new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.#slowConsumer(`nothing was taken for ${this.settings.sendTimeoutMs} ms`), this.settings.sendTimeoutMs);
        timer.unref();
        ws.send(data, { binary }, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    } else {
      ws.send(data, { binary });
    }
    if (ws.bufferedAmount > this.settings.maxBufferedBytes) this.#slowConsumer(`more than ${this.settings.maxBufferedBytes} bytes are queued`);
    return p;
  }

  /** Send a value: string → text, bytes → binary, else JSON text. */
  send(value: unknown): Promise<void> {
    let out;
    try {
      out = encodeMessage(value, this.settings.codec);
    } catch (e) {
      return Promise.reject(toError(e));
    }
    return this.sendRaw(out.data, out.binary);
  }

  /** A handler's reply: nothing, a close frame, a stream of messages, or one message. */
  reply(result: unknown): void {
    if (result === undefined || result === null) return;
    if (result instanceof CloseFrame) {
      this.close(result.status, result.reason).catch((e: unknown) => this.settings.report(toError(e)));
      return;
    }
    if (isMessageStream(result)) {
      void this.#pump(result instanceof Stream ? result : Stream.from(result));
      return;
    }
    if (!this.isOpen) return;
    this.send(result).catch((e: unknown) => {
      if (!(WebSocketError.is(e) && e.code === "CLOSED")) this.settings.report(toError(e));
    });
  }

  async #pump(stream: Stream<unknown, unknown>): Promise<void> {
    const chunks = stream.chunks();
    this.#pumps.add(chunks);
    if (this.#closed) {
      await chunks.close().catch(() => undefined);
      return;
    }
    try {
      for await (const chunk of chunks) {
        let last: Promise<void> = RESOLVED;
        for (let i = 0; i < chunk.length; i++) {
          if (!this.isOpen) return;
          const v = chunk[i];
          if (v instanceof CloseFrame) {
            await this.close(v.status, v.reason);
            return;
          }
          last = this.send(v);
        }
        await last;
      }
    } catch (e) {
      if (!(WebSocketError.is(e) && e.code === "CLOSED")) this.settings.report(toError(e));
    } finally {
      this.#pumps.delete(chunks);
    }
  }

  ping(data?: Uint8Array | string): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    this.ws.ping(data);
    return RESOLVED;
  }

  pong(data?: Uint8Array | string): Promise<void> {
    if (!this.isOpen) return Promise.reject(closedError());
    this.ws.pong(data);
    return RESOLVED;
  }

  /** Start the closing handshake; the socket is destroyed if it does not finish in time. */
  close(status = 1000, reason = "", timeoutMs = this.settings.closeTimeoutMs): Promise<void> {
    const frame = new CloseFrame(status, reason);
    try {
      frame.check();
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#closed) return RESOLVED;
    const ws = this.ws;
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
      // A paused socket would never read the peer's close frame.
      if (this.#pauses > 0) {
        this.#pauses = 0;
        ws.resume();
      }
      ws.close(status, reason);
    }
    this.#armCloseTimer(timeoutMs);
    return this.closed.then(() => undefined);
  }

  /** Destroy the socket now (no close handshake). */
  terminate(): void {
    if (!this.#closed) this.ws.terminate();
  }

  #armCloseTimer(ms: number): void {
    if (this.#closeTimer !== undefined || this.#closed) return;
    this.#closeTimer = setTimeout(() => this.ws.terminate(), ms);
    this.#closeTimer.unref();
  }

  #slowConsumer(why: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.settings.report(new WebSocketError("SLOW_CONSUMER", `the client does not read (${why}); closing with 1008`, { closeCode: 1008 }));
    this.ws.close(1008, "slow consumer");
    // The peer is not reading, so it will not answer the close frame soon: do not wait long.
    this.#armCloseTimer(Math.min(this.settings.closeTimeoutMs, 1_000));
  }

  /** The socket closed: release timers and streamed replies. */
  onClosed(code: number, reason: string): CloseFrame {
    const frame = new CloseFrame(code, reason);
    if (this.#closed) return frame;
    this.#closed = true;
    clearTimeout(this.#closeTimer);
    clearTimeout(this.idleTimer);
    for (const p of this.#pumps) p.close().catch(() => undefined);
    this.#pumps.clear();
    this.#resolveClosed(frame);
    return frame;
  }
}
