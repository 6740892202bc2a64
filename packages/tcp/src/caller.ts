/**
 * `tcp.Caller`: one accepted connection, as the service sees it.
 *
 * @module
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { payloadBytes, type SocketWriter } from "./internal/writer.ts";

/** @internal What a {@link TcpCaller} needs from the listener's connection. */
export interface CallerConnection {
  readonly id: string;
  readonly socket: Socket;
  readonly writer: SocketWriter;
  /** Record write activity (for the idle timeout). */
  touch(): void;
  /** Flush, send FIN, and destroy once the peer closes or after a linger time. */
  end(): Promise<void>;
}

/**
 * One accepted connection: its addresses, its id, and a way to write to it and close it.
 * Passed to every service method of the connection; keep it to write later (server push).
 *
 * @example
 * ```ts
 * const service: tcp.Service = {
 *   async onConnect(caller) {
 *     await caller.writeBytes(`hello ${caller.remoteHost}\n`);
 *   },
 *   onBytes(data, caller) {
 *     if (data.toString() === "quit") void caller.close();
 *     return data; // echoed back
 *   },
 * };
 * ```
 */
export class TcpCaller {
  /** A unique id for the connection (a UUID). */
  readonly id: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly localHost: string;
  readonly localPort: number;
  readonly #conn: CallerConnection;

  /** @internal Created by the listener. */
  constructor(conn: CallerConnection) {
    this.#conn = conn;
    this.id = conn.id;
    const s = conn.socket;
    this.remoteHost = s.remoteAddress ?? "";
    this.remotePort = s.remotePort ?? 0;
    this.localHost = s.localAddress ?? "";
    this.localPort = s.localPort ?? 0;
  }

  /** Bytes received on this connection so far. */
  get bytesRead(): number {
    return this.#conn.socket.bytesRead;
  }

  /** Bytes written to this connection so far (including bytes still buffered). */
  get bytesWritten(): number {
    return this.#conn.socket.bytesWritten;
  }

  /** True once the connection can no longer be written to. */
  get isClosed(): boolean {
    return this.#conn.writer.isClosed;
  }

  /** True for a TLS connection. */
  get isSecure(): boolean {
    return (this.#conn.socket as Partial<TLSSocket>).encrypted === true;
  }

  /**
   * Write bytes (a string is UTF-8), framed with the listener's framing. Resolves at once while
   * the socket buffer has room, else when it drains.
   *
   * @throws {TcpError} `CLOSED`, `TCP_FRAME_TOO_LARGE`, `INVALID_ARGUMENT` (rejects).
   */
  writeBytes(data: Uint8Array | string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = payloadBytes(data);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#conn.touch();
    return this.#conn.writer.write(bytes);
  }

  /**
   * Close the connection: pending writes are flushed and a FIN is sent. Resolves once the
   * output is flushed; the socket is released when the peer closes its side (or after 2 s).
   * Called from `onBytes`, it resolves at once and takes effect after the handler's reply is
   * written; frames of the same read not handled yet are dropped.
   */
  close(): Promise<void> {
    return this.#conn.end();
  }
}
