/**
 * `http.Caller`: the client side of one request, as a resource handler sees it.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { ResponseInit } from "./response.ts";

/** @internal What the listener gives a Caller. */
export interface CallerBackend {
  readonly raw: IncomingMessage;
  readonly headers: Record<string, string | readonly string[]>;
  responded: boolean;
  respond(body: unknown, init: ResponseInit | undefined): void;
}

/**
 * Ballerina's `http:Caller`: who sent the request, response headers to add, and `respond`
 * to answer before the handler returns (the handler's return value is then ignored).
 *
 * @example
 * ```ts
 * @http.get("/me")
 * me(_req: http.Request, caller: http.Caller) {
 *   caller.setHeader("cache-control", "no-store");
 *   return { address: caller.remoteAddress };
 * }
 * ```
 */
export class Caller {
  readonly #b: CallerBackend;

  /** @internal */
  constructor(backend: CallerBackend) {
    this.#b = backend;
  }

  get remoteAddress(): string | undefined {
    return this.#b.raw.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#b.raw.socket.remotePort;
  }
  get localAddress(): string | undefined {
    return this.#b.raw.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.#b.raw.socket.localPort;
  }
  /** True over HTTPS. */
  get isSecure(): boolean {
    return (this.#b.raw.socket as Partial<TLSSocket>).encrypted === true;
  }
  /** True once {@link Caller.respond} was called. */
  get responded(): boolean {
    return this.#b.responded;
  }

  /**
   * Add a header to the response (the returned value's, or the one `respond` sends).
   *
   * @example
   * ```ts
   * caller.setHeader("set-cookie", ["a=1", "b=2"]);
   * ```
   */
  setHeader(name: string, value: string | readonly string[]): this {
    this.#b.headers[name.toLowerCase()] = value;
    return this;
  }

  /**
   * Answer now with `body` (same rules as a returned value). A second call is ignored.
   *
   * @example
   * ```ts
   * caller.respond({ accepted: true }, { status: 202 });
   * await slowFollowUp(); // the client already has its answer
   * ```
   */
  respond(body?: unknown, init?: ResponseInit): void {
    if (this.#b.responded) return;
    this.#b.respond(body, init);
  }
}
