/**
 * `tcp.Listener`: accepts TCP (or TLS) connections and hands them to a service.
 *
 * @module
 */
import { AbstractListener, type Attachment, type Dispatcher, type ServiceSpec } from "@pirouette/core";
import { TcpError } from "./errors.ts";
import type { TcpListenerOptions, TcpService } from "./options.ts";
import { serviceSpec, TcpServer, type TcpMessage } from "./internal/server.ts";

/**
 * Ballerina's `tcp:Listener`: listens on `localPort`, calls the attached service's
 * `onConnect(caller)` for each connection, then the connection service's `onBytes(data, caller)`
 * for each frame (or socket read), writing back what it returns. While `onBytes` runs the socket
 * is read ahead by at most 256 KiB and then paused (backpressure); it is paused too while the
 * replies have not drained. Optional framing
 * (`"line"`, length-prefixed, delimiter, fixed), TLS, a connection cap and an idle timeout.
 * `gracefulStop()` stops accepting, lets running handlers finish and closes connections with a
 * FIN; `immediateStop()` aborts handlers (their `context.signal`) and destroys the sockets.
 *
 * One service per listener. `T` is the payload type of `onBytes` when a `codec` is set.
 *
 * @example
 * ```ts
 * import * as tcp from "@pirouette/tcp";
 *
 * const listener = new tcp.Listener(7000, { framing: "line", idleTimeoutMs: 30_000 });
 * await listener.attach({
 *   onConnect: (caller) => ({
 *     onBytes: (line) => `you said: ${line.toString()}`,
 *     onClose: () => console.log(`${caller.remoteHost} left`),
 *   }),
 * });
 * await listener.start();
 * console.log(`listening on ${listener.port}`);
 * ```
 */
export class TcpListener<T = Buffer> extends AbstractListener<TcpService<T>, object> {
  protected readonly spec: ServiceSpec = serviceSpec;
  readonly #server: TcpServer;

  /**
   * @param localPort - the port to listen on; 0 picks a free one (read it from {@link TcpListener.port} after `start()`).
   * @throws {TcpError} `INVALID_ARGUMENT` for a bad port or option.
   */
  constructor(localPort: number, options: TcpListenerOptions = {}) {
    super({ ...options, protocol: "tcp" });
    this.#server = new TcpServer(localPort, options, {
      logger: this.logger,
      gracefulStopTimeoutMs: this.gracefulStopTimeoutMs,
      createDispatcher: (o) => this.createDispatcher<TcpMessage>(o),
      releaseDispatcher: (d: Dispatcher<TcpMessage>) => this.releaseDispatcher(d),
    });
  }

  /** The port listened on (the one picked by the system when constructed with 0, once started). */
  get port(): number {
    return this.#server.port;
  }

  /** The address listened on, once started. */
  get host(): string | undefined {
    return this.#server.host;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#server.connectionCount;
  }

  /** Connections refused because `maxConnections` was reached. */
  get droppedConnections(): number {
    return this.#server.dropped;
  }

  protected override validateConfig(config: object): object {
    if (this.attachments().length > 0) {
      throw new TcpError("STATE", "a tcp listener serves one service; detach the attached one first");
    }
    return config;
  }

  protected async onStart(attachments: Attachment<TcpService<T>, object>[]): Promise<void> {
    await this.#server.start(attachments[0]);
  }

  protected override onAttach(att: Attachment<TcpService<T>, object>): Promise<void> {
    return this.#server.attach(att);
  }

  protected override onDetach(att: Attachment<TcpService<T>, object>): Promise<void> {
    return this.#server.detach(att);
  }

  protected stopIntake(): Promise<void> {
    this.#server.stopIntake();
    return Promise.resolve();
  }

  protected onClose(): Promise<void> {
    return this.#server.close();
  }

  /** Abort running handlers (their `context.signal`), destroy every connection and stop listening. */
  override async immediateStop(): Promise<void> {
    this.#server.markImmediate();
    await super.immediateStop();
  }
}
