/**
 * `udp.Client` and `udp.ConnectClient`.
 *
 * @module
 */
import type dgram from "node:dgram";
import type { Sink, Stream } from "@pirouette/core";
import { UdpError } from "./errors.ts";
import type { Datagram, OutgoingDatagram, UdpClientOptions, UdpConnectClientOptions } from "./options.ts";
import { Receiver } from "./internal/receiver.ts";
import { checkDatagram, checkPort, checkSocketOptions, MAX_UDP_PAYLOAD, openSocket, payloadBytes, sendChunked } from "./internal/socket.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** The socket life cycle shared by both clients. */
abstract class ClientBase<T> {
  protected readonly options: UdpClientOptions;
  protected readonly receiver: Receiver<T>;
  #socket: dgram.Socket | undefined;
  #opening: Promise<dgram.Socket> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: UdpClientOptions) {
    checkSocketOptions(options);
    checkPort(options.localPort, "localPort", true);
    this.options = options;
    this.receiver = new Receiver<T>(options.highWaterMark ?? 1024, () => this.close());
  }

  /** The bound address, once open. */
  get localHost(): string | undefined {
    return this.#socket?.address().address;
  }

  /** The bound port, once open. */
  get localPort(): number | undefined {
    return this.#socket?.address().port;
  }

  /** Received datagrams dropped because `highWaterMark` were waiting to be read. */
  get droppedDatagrams(): number {
    return this.receiver.dropped;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  protected abstract connectTo(): { host: string; port: number } | undefined;
  protected abstract received(msg: Buffer, rinfo: dgram.RemoteInfo): T;

  protected get chunkSize(): number {
    return this.options.sendChunkSize ?? MAX_UDP_PAYLOAD;
  }

  protected open(): Promise<dgram.Socket> {
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    if (this.#closed) return Promise.reject(new UdpError("CLOSED", "the client is closed"));
    return (this.#opening ??= openSocket({ ...this.options, connectTo: this.connectTo() }, (error) => this.receiver.source.fail(error)).then(
      (socket) => {
        if (this.#closed) {
          socket.close();
          throw new UdpError("CLOSED", "the client is closed");
        }
        this.#socket = socket;
        socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.receiver.source.push(this.received(msg, rinfo)));
        socket.on("close", () => {
          this.#closed = true;
          this.receiver.source.end();
        });
        return socket;
      },
      (e: unknown) => {
        this.#closed = true;
        this.receiver.source.fail(e as UdpError);
        throw e;
      },
    ));
  }

  protected send(data: Uint8Array, port: number | undefined, host: string | undefined): Promise<void> {
    const s = this.#socket;
    if (s !== undefined) return sendChunked(s, data, this.chunkSize, port, host);
    if (this.#closed) return Promise.reject(new UdpError("CLOSED", "the client is closed"));
    return this.open().then((socket) => sendChunked(socket, data, this.chunkSize, port, host));
  }

  protected async receive(timeoutMs: number | undefined, what: string): Promise<T> {
    if (this.#socket === undefined && !this.#closed) await this.open();
    return this.receiver.next(timeoutMs ?? this.options.timeoutMs ?? 300_000, what);
  }

  protected receiveStream(): Stream<T, UdpError> {
    if (this.#socket === undefined && !this.#closed) this.open().catch(() => undefined); // the failure fails the stream
    return this.receiver.source.stream;
  }

  /** Close the socket; the stream ends. Idempotent. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    const s = this.#socket;
    this.receiver.source.end();
    if (s === undefined) {
      this.#closing = RESOLVED;
      return RESOLVED;
    }
    this.#closing = new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Ballerina's `udp:Client`: an unconnected socket that sends datagrams anywhere and receives
 * datagrams from anyone. The socket is bound on first use (or with {@link UdpClient.bind}).
 * Implements `Sink<Datagram>`, so `stream.pipeTo(client)` sends a stream of datagrams.
 *
 * @example
 * ```ts
 * import * as udp from "@pirouette/udp";
 *
 * await using client = new udp.Client({ timeoutMs: 1_000 });
 * await client.sendDatagram({ remoteHost: "127.0.0.1", remotePort: 9000, data: "ping" });
 * const reply = await client.receiveDatagram();
 * console.log(reply.remoteHost, reply.data.toString());
 * ```
 */
export class UdpClient extends ClientBase<Datagram> implements Sink<OutgoingDatagram>, AsyncDisposable {
  /** @throws {UdpError} `INVALID_ARGUMENT` for a bad option. */
  constructor(options: UdpClientOptions = {}) {
    super(options);
  }

  protected connectTo(): undefined {
    return undefined;
  }

  protected received(msg: Buffer, rinfo: dgram.RemoteInfo): Datagram {
    return { remoteHost: rinfo.address, remotePort: rinfo.port, data: msg };
  }

  /**
   * Bind the socket now (otherwise the first send, receive or `stream()` does). Idempotent.
   *
   * @throws {UdpError} `CONNECTION` (address in use, a multicast group that cannot be joined…), `CLOSED`.
   */
  async bind(): Promise<void> {
    await this.open();
  }

  /**
   * Send a datagram (a string is UTF-8; data over `sendChunkSize` goes as several datagrams).
   *
   * @throws {UdpError} `INVALID_ARGUMENT`, `CONNECTION` (e.g. `EACCES` for a broadcast address without `broadcast: true`), `CLOSED`.
   */
  sendDatagram(datagram: OutgoingDatagram): Promise<void> {
    let bytes: Uint8Array;
    try {
      checkDatagram(datagram);
      bytes = payloadBytes(datagram.data);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.send(bytes, datagram.remotePort, datagram.remoteHost);
  }

  /**
   * The next datagram received.
   *
   * @param timeoutMs - default the client's `timeoutMs` (300 000 ms).
   * @throws {UdpError} `TIMEOUT` (nothing is lost), `CLOSED`, `CONNECTION`.
   */
  receiveDatagram(timeoutMs?: number): Promise<Datagram> {
    return this.receive(timeoutMs, "received");
  }

  /**
   * The received datagrams as a `Stream` (one per client; `receiveDatagram` reads from it too).
   * It ends when the client is closed; closing it closes the client.
   */
  stream(): Stream<Datagram, UdpError> {
    return this.receiveStream();
  }

  /** `Sink.write`: same as {@link UdpClient.sendDatagram}. */
  write(datagram: OutgoingDatagram): Promise<void> {
    return this.sendDatagram(datagram);
  }
}

/**
 * Ballerina's `udp:ConnectClient`: a socket connected to one peer. It sends to that peer only
 * and receives from that peer only (the system filters the rest). If the peer's port is
 * closed, the system may report `ECONNREFUSED` (ICMP port unreachable): reads and the stream
 * then fail with `CONNECTION` and the client is closed.
 *
 * @example
 * ```ts
 * await using client = new udp.ConnectClient("127.0.0.1", 9000, { timeoutMs: 1_000 });
 * await client.writeBytes("ping");
 * const pong = await client.readBytes();
 * ```
 */
export class UdpConnectClient extends ClientBase<Buffer> implements Sink<Uint8Array | string>, AsyncDisposable {
  readonly remoteHost: string;
  readonly remotePort: number;

  /** @throws {UdpError} `INVALID_ARGUMENT` for a bad port or option. */
  constructor(remoteHost: string, remotePort: number, options: UdpConnectClientOptions = {}) {
    super(options);
    checkPort(remotePort, "remotePort", false);
    this.remoteHost = remoteHost;
    this.remotePort = remotePort;
  }

  protected connectTo(): { host: string; port: number } {
    return { host: this.remoteHost, port: this.remotePort };
  }

  protected received(msg: Buffer): Buffer {
    return msg;
  }

  /**
   * Bind and connect now (otherwise the first write, read or `stream()` does). Idempotent.
   *
   * @throws {UdpError} `CONNECTION` (e.g. the host does not resolve), `CLOSED`.
   */
  async connect(): Promise<void> {
    await this.open();
  }

  /**
   * Send bytes (a string is UTF-8) to the peer, as several datagrams if over `sendChunkSize`.
   *
   * @throws {UdpError} `CONNECTION`, `CLOSED`, `INVALID_ARGUMENT`.
   */
  writeBytes(data: Uint8Array | string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = payloadBytes(data);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.send(bytes, undefined, undefined);
  }

  /**
   * The next datagram's bytes from the peer.
   *
   * @throws {UdpError} `TIMEOUT` (nothing is lost), `CLOSED`, `CONNECTION`.
   */
  readBytes(timeoutMs?: number): Promise<Buffer> {
    return this.receive(timeoutMs, `from ${this.remoteHost}:${this.remotePort}`);
  }

  /** The peer's datagrams as a `Stream`; closing it closes the client. */
  stream(): Stream<Buffer, UdpError> {
    return this.receiveStream();
  }

  /** `Sink.write`: same as {@link UdpConnectClient.writeBytes}. */
  write(data: Uint8Array | string): Promise<void> {
    return this.writeBytes(data);
  }
}
