/**
 * `websocket.Caller`: one connection, as the service sees it.
 *
 * @module
 */
import type { Connection } from "./internal/connection.ts";

/**
 * Ballerina's `websocket:Caller`: write to the connection, ping/pong, close, and keep
 * per-connection attributes. Writes resolve once the message is queued below the
 * high-water mark (else once it is written), and reject with a `CLOSED` error only when the
 * connection is already closed, so `if (caller.isOpen) void caller.writeTextMessage(…)` is safe.
 *
 * @example
 * ```ts
 * async onTextMessage(text: string, caller: websocket.Caller) {
 *   caller.setAttribute("lastSeen", Date.now());
 *   await caller.writeTextMessage(`echo: ${text}`);
 * }
 * ```
 */
export class Caller {
  readonly #c: Connection;
  readonly #protocol: string;

  /** @internal */
  constructor(connection: Connection) {
    this.#c = connection;
    this.#protocol = connection.ws.protocol;
  }

  /** A unique id for this connection. */
  get connectionId(): string {
    return this.#c.id;
  }
  /** The subprotocol agreed in the handshake, if any. */
  get negotiatedSubProtocol(): string | undefined {
    return this.#protocol === "" ? undefined : this.#protocol;
  }
  /** True over `wss:`. */
  get isSecure(): boolean {
    return this.#c.settings.secure;
  }
  /** True until the closing handshake starts. */
  get isOpen(): boolean {
    return this.#c.isOpen;
  }
  get remoteAddress(): string | undefined {
    return this.#c.settings.remoteAddress;
  }
  /** Per-connection attributes (also through get/set/removeAttribute). */
  get attributes(): Map<string, unknown> {
    return this.#c.attributes;
  }

  setAttribute(key: string, value: unknown): void {
    this.#c.attributes.set(key, value);
  }
  getAttribute(key: string): unknown {
    return this.#c.attributes.get(key);
  }
  removeAttribute(key: string): void {
    this.#c.attributes.delete(key);
  }

  /**
   * Send a text message.
   *
   * @example
   * ```ts
   * await caller.writeTextMessage("hello");
   * ```
   */
  writeTextMessage(text: string): Promise<void> {
    return this.#c.sendRaw(text, false);
  }

  /**
   * Send a binary message.
   *
   * @example
   * ```ts
   * await caller.writeBinaryMessage(new Uint8Array([1, 2, 3]));
   * ```
   */
  writeBinaryMessage(data: Uint8Array): Promise<void> {
    return this.#c.sendRaw(Buffer.from(data.buffer, data.byteOffset, data.byteLength), true);
  }

  /**
   * Send a value: a string as text, bytes as binary, anything else as JSON text.
   *
   * @example
   * ```ts
   * await caller.writeMessage({ type: "joined", user: "ada" });
   * ```
   */
  writeMessage(value: unknown): Promise<void> {
    return this.#c.send(value);
  }

  /** Send a ping (at most 125 bytes of data). */
  ping(data?: Uint8Array | string): Promise<void> {
    return this.#c.ping(data);
  }

  /** Send a pong (services with `onPing` answer pings themselves). */
  pong(data?: Uint8Array | string): Promise<void> {
    return this.#c.pong(data);
  }

  /**
   * Close the connection: resolves once the peer answered the close frame, or after
   * `timeoutMs` (default the listener's `closeTimeoutMs`) when the socket is destroyed.
   *
   * @example
   * ```ts
   * await caller.close(4001, "kicked");
   * ```
   */
  close(status = 1000, reason = "", timeoutMs?: number): Promise<void> {
    return this.#c.close(status, reason, timeoutMs);
  }
}
