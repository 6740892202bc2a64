/**
 * `udp.Caller`: replies to the sender of a datagram.
 *
 * @module
 */
import type { Socket } from "node:dgram";
import type { OutgoingDatagram } from "./options.ts";
import { checkDatagram, payloadBytes, sendChunked } from "./internal/socket.ts";

/** @internal What a {@link UdpCaller} shares with its listener. */
export interface CallerSocket {
  readonly socket: Socket;
  readonly localHost: string;
  readonly localPort: number;
  readonly chunkSize: number;
  /** The listener's socket is connected to one peer (`remoteHost`/`remotePort` options). */
  readonly connected: boolean;
}

/**
 * The sender of one datagram, and a way to answer it (Ballerina's `udp:Caller`). Passed to
 * `onDatagram`/`onBytes`; returning a value from the handler sends it here too.
 *
 * @example
 * ```ts
 * const service: udp.Service = {
 *   async onBytes(data, caller) {
 *     await caller.sendBytes("ack");
 *     await caller.sendDatagram({ remoteHost: "10.0.0.9", remotePort: 514, data }); // forward
 *   },
 * };
 * ```
 */
export class UdpCaller {
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly #s: CallerSocket;

  /** @internal Created by the listener. */
  constructor(s: CallerSocket, remoteHost: string, remotePort: number) {
    this.#s = s;
    this.remoteHost = remoteHost;
    this.remotePort = remotePort;
  }

  /** The listener's address. */
  get localHost(): string {
    return this.#s.localHost;
  }

  get localPort(): number {
    return this.#s.localPort;
  }

  /**
   * Send bytes (a string is UTF-8) to the sender, as several datagrams if larger than the
   * listener's `sendChunkSize`.
   *
   * @throws {UdpError} `CONNECTION` (rejects) when the system refuses the send.
   */
  sendBytes(data: Uint8Array | string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = payloadBytes(data);
    } catch (e) {
      return Promise.reject(e);
    }
    const s = this.#s;
    return s.connected
      ? sendChunked(s.socket, bytes, s.chunkSize, undefined, undefined)
      : sendChunked(s.socket, bytes, s.chunkSize, this.remotePort, this.remoteHost);
  }

  /**
   * Send a datagram to any address from the listener's socket.
   *
   * @throws {UdpError} `INVALID_ARGUMENT`, `CONNECTION` (rejects).
   */
  sendDatagram(datagram: OutgoingDatagram): Promise<void> {
    let bytes: Uint8Array;
    try {
      checkDatagram(datagram);
      bytes = payloadBytes(datagram.data);
    } catch (e) {
      return Promise.reject(e);
    }
    const s = this.#s;
    return sendChunked(s.socket, bytes, s.chunkSize, datagram.remotePort, datagram.remoteHost);
  }
}
