/**
 * `tcp.Client`: one outgoing TCP (or TLS) connection.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { PushSource, type Sink, type Stream } from "@pirouette/core";
import { TcpError } from "./errors.ts";
import type { TcpClientOptions } from "./options.ts";
import { createDecoder, createEncoder, resolveFraming, type FrameDecoder, type FrameEncoder } from "./internal/framing.ts";
import { LINGER_MS } from "./internal/server.ts";
import { payloadBytes, payloadsBytes, SocketWriter } from "./internal/writer.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Ballerina's `tcp:Client`: connects to `host:port` (on first use, or with {@link TcpClient.connect}),
 * writes bytes or frames, and reads them back with {@link TcpClient.readBytes} or as a
 * {@link TcpClient.stream}. Implements `Sink`, so `stream.pipeTo(client)` writes a stream to
 * the connection (a chunk at a time, corked into one system call).
 *
 * @example
 * ```ts
 * import * as tcp from "@pirouette/tcp";
 *
 * await using client = new tcp.Client("127.0.0.1", 7000, { framing: "line" });
 * await client.writeBytes("hello");
 * const reply = await client.readBytes(); // one line, without the "\n"
 * for await (const line of client.stream().take(3)) console.log(line.toString());
 * ```
 */
export class TcpClient implements Sink<Uint8Array | string>, AsyncDisposable {
  /** The host connected to. */
  readonly host: string;
  /** The port connected to. */
  readonly port: number;
  readonly #o: TcpClientOptions;
  readonly #encoder: FrameEncoder;
  readonly #decoder: FrameDecoder | undefined;
  readonly #source: PushSource<Buffer, TcpError>;
  #socket: net.Socket | undefined;
  #writer: SocketWriter | undefined;
  #connecting: Promise<void> | undefined;
  #pendingRead: ReturnType<Stream<Buffer, TcpError>["next"]> | undefined;
  #closed = false;
  #closing = false;
  #closedPromise: Promise<void> | undefined;

  /**
   * @throws {TcpError} `INVALID_ARGUMENT` for a bad port or framing.
   */
  constructor(host: string, port: number, options: TcpClientOptions = {}) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TcpError("INVALID_ARGUMENT", `port must be an integer in 1..65535, got ${String(port)}`);
    }
    this.host = host;
    this.port = port;
    this.#o = options;
    const f = resolveFraming(options.framing, options.maxFrameSize);
    this.#encoder = createEncoder(f.framing, f.maxFrameSize);
    this.#decoder = f.framing === undefined ? undefined : createDecoder(f.framing, f.maxFrameSize);
    this.#source = new PushSource<Buffer, TcpError>({
      highWaterMark: options.highWaterMark ?? 1024,
      // The socket pauses at the high-water mark; one read's frames may go past it.
      limit: Number.POSITIVE_INFINITY,
      onPause: () => {
        if (!this.#closing) this.#socket?.pause();
      },
      onResume: () => this.#socket?.resume(),
      onClose: () => this.#destroy(),
    });
  }

  /** Local address of the connection, once connected. */
  get localHost(): string | undefined {
    return this.#socket?.localAddress;
  }

  /** Local port of the connection, once connected. */
  get localPort(): number | undefined {
    return this.#socket?.localPort;
  }

  /** The peer's address, once connected. */
  get remoteHost(): string | undefined {
    return this.#socket?.remoteAddress;
  }

  /** The peer's port, once connected. */
  get remotePort(): number | undefined {
    return this.#socket?.remotePort;
  }

  /** True once the client is closed (by `close()`, the peer, or an error). */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Connect now (otherwise the first write, read or `stream()` connects). Idempotent.
   *
   * @throws {TcpError} `CONNECTION` (refused, unreachable…), `TCP_TLS` (certificate not
   * trusted, wrong host name…), `TIMEOUT`, `CLOSED`.
   */
  connect(): Promise<void> {
    if (this.#connecting !== undefined) return this.#connecting;
    if (this.#closed) return Promise.reject(new TcpError("CLOSED", "the client is closed"));
    this.#connecting = new Promise<void>((resolve, reject) => {
      const o = this.#o;
      const secure = o.secureSocket;
      const common = {
        host: this.host,
        port: this.port,
        ...(o.localHost === undefined ? {} : { localAddress: o.localHost }),
        ...(o.localPort === undefined ? {} : { localPort: o.localPort }),
      };
      const socket =
        secure === undefined
          ? net.connect(common)
          : tls.connect({ ...secure, ...common, rejectUnauthorized: secure.rejectUnauthorized ?? true });
      this.#socket = socket;
      let tcpConnected = false;
      const timeoutMs = o.connectTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        fail(new TcpError("TIMEOUT", `connecting to ${this.#label()} did not finish within ${timeoutMs} ms`));
        socket.destroy();
      }, timeoutMs);
      const fail = (err: TcpError): void => {
        clearTimeout(timer);
        socket.off(secure === undefined ? "connect" : "secureConnect", onConnect);
        this.#closed = true;
        this.#source.fail(err);
        reject(err);
      };
      const onConnect = (): void => {
        clearTimeout(timer);
        socket.off("error", onConnectError);
        this.#setUp(socket);
        resolve();
      };
      const onConnectError = (e: Error): void => {
        const tlsFailure = secure !== undefined && tcpConnected;
        fail(
          new TcpError(
            tlsFailure ? "TCP_TLS" : "CONNECTION",
            `${tlsFailure ? "TLS handshake with" : "cannot connect to"} ${this.#label()}: ${e.message}`,
            { cause: e, coordinates: { host: this.host, port: this.port } },
          ),
        );
      };
      socket.once("connect", () => {
        tcpConnected = true;
      });
      socket.once(secure === undefined ? "connect" : "secureConnect", onConnect);
      socket.once("error", onConnectError);
    });
    return this.#connecting;
  }

  #label(): string {
    return `${this.host}:${this.port}`;
  }

  #setUp(socket: net.Socket): void {
    const o = this.#o;
    if (o.noDelay !== false) socket.setNoDelay(true);
    if (o.keepAliveMs !== undefined) socket.setKeepAlive(true, o.keepAliveMs);
    this.#writer = new SocketWriter(socket, this.#encoder, o.writeTimeoutMs ?? 300_000, () => this.#label());
    const src = this.#source;
    const decoder = this.#decoder;
    // Reused for every read: the frames are handed to the source before the next one.
    const frames: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => {
      if (this.#closing) return;
      if (decoder === undefined) {
        src.push(chunk);
        return;
      }
      const err = decoder.decode(chunk, frames);
      for (let i = 0; i < frames.length; i++) src.push(frames[i] as Buffer);
      frames.length = 0;
      if (err !== undefined) {
        src.fail(new TcpError(err.code, `${err.message} (from ${this.#label()})`, { coordinates: { host: this.host, port: this.port } }));
        socket.destroy();
      }
    });
    socket.on("end", () => src.end());
    socket.on("error", (e: Error) => {
      // With TLS 1.3 a refused client certificate shows up after the handshake, as an alert.
      const code = String((e as NodeJS.ErrnoException).code ?? "");
      const tlsAlert = code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_");
      src.fail(
        new TcpError(tlsAlert ? "TCP_TLS" : "CONNECTION", `connection to ${this.#label()}: ${e.message}`, {
          cause: e,
          coordinates: { host: this.host, port: this.port },
        }),
      );
    });
    socket.on("close", () => {
      this.#closed = true;
      src.end();
    });
  }

  async #connected(): Promise<SocketWriter> {
    if (this.#writer === undefined) await this.connect();
    return this.#writer as SocketWriter;
  }

  /**
   * Write bytes (a string is UTF-8) as one frame. Resolves at once while the socket buffer has
   * room, else when it drains (bounded by `writeTimeoutMs`). Small writes made in the same tick
   * are sent together, in one system call, at the end of the tick.
   *
   * @throws {TcpError} `CLOSED`, `TIMEOUT`, `TCP_FRAME_TOO_LARGE`, `INVALID_ARGUMENT`, or a connect error.
   */
  writeBytes(data: Uint8Array | string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = payloadBytes(data);
    } catch (e) {
      return Promise.reject(e);
    }
    const w = this.#writer;
    if (w !== undefined) return w.write(bytes);
    return this.#connected().then((writer) => writer.write(bytes));
  }

  /** `Sink.write`: same as {@link TcpClient.writeBytes}. */
  write(value: Uint8Array | string): Promise<void> {
    return this.writeBytes(value);
  }

  /**
   * `Sink.writeMany`: write several frames as one batch (small batches are encoded into one
   * buffer and sent with one system call). Nothing is written when one of them is invalid.
   */
  writeMany(values: readonly (Uint8Array | string)[]): Promise<void> {
    let bytes: readonly Uint8Array[];
    try {
      bytes = payloadsBytes(values);
    } catch (e) {
      return Promise.reject(e);
    }
    const w = this.#writer;
    if (w !== undefined) return w.writeMany(bytes);
    const copy = bytes.slice(); // the caller may reuse its array meanwhile
    return this.#connected().then((writer) => writer.writeMany(copy));
  }

  /**
   * Read the next frame (without framing: the next socket read).
   *
   * @param timeoutMs - how long to wait; default the client's `timeoutMs` (300 000 ms).
   * @throws {TcpError} `TIMEOUT` (nothing is lost: the next call gets the frame), `CLOSED`
   * (the peer closed the connection), `CONNECTION`, `TCP_FRAME_TOO_LARGE`.
   */
  async readBytes(timeoutMs: number = this.#o.timeoutMs ?? 300_000): Promise<Buffer> {
    if (this.#writer === undefined && !this.#closed) await this.connect();
    const p = (this.#pendingRead ??= this.#source.stream.next());
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      p,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (r === "timeout") throw new TcpError("TIMEOUT", `no data from ${this.#label()} within ${timeoutMs} ms`);
    this.#pendingRead = undefined;
    if (r === undefined) throw new TcpError("CLOSED", `the connection to ${this.#label()} is closed`);
    if (r instanceof Error) throw r;
    return r.value;
  }

  /**
   * The received frames (without framing: socket reads) as a `Stream`. There is one stream per
   * client: `readBytes` reads from it too. The socket is paused while `highWaterMark` frames are
   * buffered. The stream ends when the peer closes the connection and fails with a
   * {@link TcpError}; closing it (or leaving a `for await` early) closes the client.
   *
   * @example
   * ```ts
   * const lines = client.stream().map((b) => b.toString()).take(10);
   * ```
   */
  stream(): Stream<Buffer, TcpError> {
    if (this.#connecting === undefined && !this.#closed) this.connect().catch(() => undefined); // the failure fails the stream
    return this.#source.stream;
  }

  /**
   * Close: pending writes are flushed, a FIN is sent, and the socket is released when the peer
   * closes its side (or after 2 s). Idempotent.
   */
  close(): Promise<void> {
    const s = this.#socket;
    if (s === undefined) {
      this.#closed = true;
      this.#source.end();
      return RESOLVED;
    }
    if (this.#closedPromise !== undefined) return this.#closedPromise;
    this.#closedPromise = new Promise<void>((resolve) => {
      if (s.destroyed) {
        resolve();
        return;
      }
      s.once("close", () => resolve());
      // What arrives from now on is dropped; keep reading so that the peer's FIN is seen.
      this.#closing = true;
      this.#source.end();
      s.resume();
      s.end();
      const timer = setTimeout(() => s.destroy(), LINGER_MS);
      timer.unref();
      s.once("close", () => clearTimeout(timer));
    });
    this.#closed = true;
    return this.#closedPromise;
  }

  /** `Sink.abort`: destroy the connection at once. */
  abort(_reason?: unknown): void {
    this.#destroy();
  }

  #destroy(): void {
    this.#closed = true;
    this.#writer?.flushCork(); // what was written before is sent, as without coalescing
    this.#socket?.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
