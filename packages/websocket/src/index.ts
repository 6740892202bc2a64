/**
 * `@pirouette/websocket`: Ballerina's WebSocket listener/service model on ws. A listener on
 * its own port or sharing an `http.Listener`; upgrade services with an auth hook returning a
 * per-connection service (`onOpen`, `onTextMessage`, `onBinaryMessage`, `onMessage`,
 * `onPing`, `onPong`, `onIdleTimeout`, `onClose`, `onError`, and `dispatcherKey` routing to
 * `on<Type>`); returned values are replies; a client with `messages()` as a `Stream` that is
 * also a `Sink`.
 *
 * @example
 * ```ts
 * import * as websocket from "@pirouette/websocket";
 *
 * const ws = new websocket.Listener(9090);
 * await ws.attach({ onTextMessage: (text: string) => `echo: ${text}` }, "/echo");
 * await ws.start();
 *
 * const client = new websocket.Client(`ws://127.0.0.1:${ws.port}/echo`);
 * await client.writeTextMessage("hi");
 * await client.readTextMessage(); // "echo: hi"
 * ```
 *
 * @module
 */
export { WebSocketListener as Listener, WebSocketListener } from "./listener.ts";
export { WebSocketClient as Client, WebSocketClient } from "./client.ts";
export type { Message } from "./client.ts";
export { Caller } from "./caller.ts";
export { CloseFrame } from "./close-frame.ts";
export { WebSocketError } from "./errors.ts";
export type { WebSocketErrorCode, WebSocketErrorOptions } from "./errors.ts";
export { ServiceConfig } from "./decorators.ts";
export type {
  WebSocketService as Service,
  WebSocketService,
  UpgradeService,
  UpgradeRequest,
  WebSocketListenerOptions,
  WebSocketServiceConfig,
  WebSocketClientOptions,
  ReconnectOptions,
} from "./options.ts";
