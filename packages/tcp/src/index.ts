/**
 * `@pirouette/tcp`: Ballerina's `tcp` module for Node — a listener that hands each connection
 * to a service (`onConnect` → `onBytes`/`onError`/`onClose`), a client with `readBytes`,
 * `writeBytes` and `stream()`, optional framing (line, delimiter, length-prefixed, fixed) and TLS.
 *
 * ```ts
 * import * as tcp from "@pirouette/tcp";
 * const listener = new tcp.Listener(7000, { framing: "line" });
 * await listener.attach({ onBytes: (line) => line }); // echo
 * await listener.start();
 * ```
 *
 * @module
 */
export { TcpListener, TcpListener as Listener } from "./listener.ts";
export { TcpClient, TcpClient as Client } from "./client.ts";
export { TcpCaller, TcpCaller as Caller } from "./caller.ts";
export { TcpError } from "./errors.ts";
export type { TcpErrorCode } from "./errors.ts";
export type {
  Framing,
  TcpListenerOptions,
  TcpListenerOptions as ListenerOptions,
  TcpClientOptions,
  TcpClientOptions as ClientOptions,
  TcpService,
  TcpService as Service,
  TcpConnectionService,
  TcpConnectionService as ConnectionService,
} from "./options.ts";
