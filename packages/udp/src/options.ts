/**
 * Public option and service types of `@pirouette/udp`.
 *
 * @module
 */
import type { Codec, HandlerContext, ListenerOptions, RetryPolicy } from "@pirouette/core";
import type { UdpCaller } from "./caller.ts";

/**
 * Ballerina's `udp:Datagram`: a payload with the address it came from or goes to.
 *
 * @example
 * ```ts
 * const d: udp.Datagram = { remoteHost: "127.0.0.1", remotePort: 9999, data: Buffer.from("ping") };
 * ```
 */
export interface Datagram<T = Buffer> {
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly data: T;
}

/** A datagram to send: the data may be a string (UTF-8). */
export type OutgoingDatagram = Datagram<Uint8Array | string>;

/**
 * The service attached to a {@link UdpListener}: exactly one of `onDatagram(datagram, caller,
 * context)` or `onBytes(data, caller, context)`, and optionally `onError(error, caller?)`.
 * What the method returns is sent back to the sender: bytes or a string, a {@link Datagram}
 * (sent to its own address), or, with a `codec`, any value it can encode.
 *
 * @example
 * ```ts
 * const echo: udp.Service = { onBytes: (data) => data };
 * const stamped: udp.Service = {
 *   onDatagram: (d) => ({ ...d, data: `${Date.now()} ${d.data.toString()}` }),
 *   onError: (err) => console.warn(err),
 * };
 * ```
 */
export interface UdpService<T = Buffer> {
  onDatagram?(datagram: Datagram<T>, caller: UdpCaller, context: HandlerContext): unknown;
  onBytes?(data: T, caller: UdpCaller, context: HandlerContext): unknown;
  onError?(error: Error, caller?: UdpCaller): unknown;
}

/**
 * Multicast settings: groups to join (listeners and clients that receive) and how multicast
 * datagrams are sent.
 *
 * @example
 * ```ts
 * new udp.Listener(5353, { reuseAddr: true, multicast: { groups: ["224.0.0.251"] } });
 * ```
 */
export interface MulticastOptions {
  /** Groups to join after binding (e.g. `"239.1.2.3"`). */
  readonly groups?: readonly string[];
  /** Local interface address used to join groups and to send multicast. Default: the system's choice. */
  readonly interface?: string;
  /** Receive our own multicast datagrams. Default: the system's (true on Linux). */
  readonly loopback?: boolean;
  /** Multicast TTL (hops). Default 1. */
  readonly ttl?: number;
}

/** Socket options shared by the listener and the clients. */
export interface UdpSocketOptions {
  /** `"udp4"` or `"udp6"`. Default: `"udp6"` when the local (or remote) host is an IPv6 address, else `"udp4"`. */
  readonly type?: "udp4" | "udp6";
  /** Allow several sockets on the same port (needed for multicast receivers sharing a port). Default false. */
  readonly reuseAddr?: boolean;
  /** Allow sending to broadcast addresses (`SO_BROADCAST`). Default false. */
  readonly broadcast?: boolean;
  readonly multicast?: MulticastOptions;
  /** Unicast TTL. Default: the system's. */
  readonly ttl?: number;
  /** `SO_RCVBUF` in bytes: raise it to lose fewer datagrams in bursts. Default: the system's. */
  readonly recvBufferSize?: number;
  /** `SO_SNDBUF` in bytes. Default: the system's. */
  readonly sendBufferSize?: number;
  /**
   * `sendBytes` splits data larger than this into several datagrams (Ballerina splits at
   * 8 KiB; set 8192 for the same). Default 65 507, the largest IPv4 UDP payload.
   */
  readonly sendChunkSize?: number;
}

/**
 * Options of {@link UdpListener}.
 *
 * @example
 * ```ts
 * new udp.Listener(9000, { localHost: "0.0.0.0", codec: json(), maxDatagramSize: 1024, recvBufferSize: 4 << 20 });
 * ```
 */
export interface UdpListenerOptions extends ListenerOptions, UdpSocketOptions {
  /** Address to bind. Default: all interfaces. */
  readonly localHost?: string;
  /** With `remotePort`: only take datagrams from this peer (the socket is connected to it). */
  readonly remoteHost?: string;
  readonly remotePort?: number;
  /** Larger datagrams are dropped and reported to `onError` (`UDP_DATAGRAM_TOO_LARGE`). Default 65 535 (no limit). */
  readonly maxDatagramSize?: number;
  /**
   * Decode each datagram with this codec (e.g. `json()`); a payload schema (`@payload`,
   * `attach({ payload })`) without a codec uses `json()`. Undecodable datagrams go to `onError`
   * as `PayloadBindingError`s. Returned values that are not bytes are encoded with it.
   * Default: none (raw `Buffer`s).
   */
  readonly codec?: Codec<unknown>;
  /** Handler batches running at once. Default 1. */
  readonly concurrency?: number;
  /**
   * Datagrams received and not yet handled. UDP cannot slow the sender down, so datagrams
   * beyond this are dropped and counted ({@link UdpListener.droppedDatagrams}). Default 4096.
   */
  readonly maxPending?: number;
  /** Retries of a failing handler before `onError`. Default `false` (no retry). */
  readonly retry?: RetryPolicy | false;
}

/**
 * Options of {@link UdpClient}.
 *
 * @example
 * ```ts
 * const client = new udp.Client({ timeoutMs: 2_000, broadcast: true });
 * ```
 */
export interface UdpClientOptions extends UdpSocketOptions {
  /** Address to bind. Default: all interfaces. */
  readonly localHost?: string;
  /** Port to bind. Default: any free port. */
  readonly localPort?: number;
  /** How long `receiveDatagram` waits. Default 300 000 ms (Ballerina's 300 s). */
  readonly timeoutMs?: number;
  /** Received datagrams buffered for `receiveDatagram`/`stream()`; more are dropped and counted. Default 1024. */
  readonly highWaterMark?: number;
}

/**
 * Options of {@link UdpConnectClient}.
 *
 * @example
 * ```ts
 * const client = new udp.ConnectClient("10.0.0.5", 514, { timeoutMs: 1_000 });
 * ```
 */
export type UdpConnectClientOptions = UdpClientOptions;
