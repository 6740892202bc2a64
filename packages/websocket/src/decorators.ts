/**
 * `@websocket.ServiceConfig`.
 *
 * @module
 */
import { createServiceConfigDecorator, type DualClassDecorator } from "@pirouette/core";
import type { WebSocketServiceConfig } from "./options.ts";

/**
 * Per-service configuration (Ballerina's `@websocket:ServiceConfig`): path, subprotocols,
 * idle timeout, frame size, auth hook, dispatcher key. The same fields go in
 * `listener.attach(service, { ... })`.
 *
 * @example
 * ```ts
 * @service(ws, "/chat")
 * @websocket.ServiceConfig({ subProtocols: ["chat.v1"], dispatcherKey: "type", idleTimeoutMs: 60_000 })
 * class Chat {
 *   onJoin(msg: { type: "join"; name: string }, caller: websocket.Caller) { caller.setAttribute("name", msg.name); }
 * }
 * ```
 */
export const ServiceConfig: (config: WebSocketServiceConfig) => DualClassDecorator = createServiceConfigDecorator<WebSocketServiceConfig>();
