/**
 * The in-memory transport: `memory.Broker`, `memory.Listener`, `memory.Client`.
 *
 * @example
 * ```ts
 * import { memory } from "@pirouette/core";
 * const listener = new memory.Listener({ groupId: "g" });
 * ```
 *
 * @module
 */
import { createServiceConfigDecorator } from "../service/decorators.ts";
import type { MemoryServiceConfig } from "./listener.ts";

export { Broker } from "./broker.ts";
export type { Message, FaultOptions, BrokerOptions } from "./broker.ts";
export { Listener, Caller } from "./listener.ts";
export type { MemoryListenerOptions, MemoryServiceConfig, MemoryService as Service } from "./listener.ts";
export { Client } from "./client.ts";
export type { MemoryClientOptions, PublishOptions, SubscribeOptions } from "./client.ts";

/**
 * `@memory.ServiceConfig({ topic })`: the topic(s) a service consumes and its binding mode.
 *
 * @example
 * ```ts
 * @service(listener)
 * @memory.ServiceConfig({ topic: "orders" })
 * class Orders { onMessage(o: unknown) {} }
 * ```
 */
export const ServiceConfig: (config: MemoryServiceConfig) => ReturnType<ReturnType<typeof createServiceConfigDecorator>> =
  createServiceConfigDecorator<MemoryServiceConfig>();
