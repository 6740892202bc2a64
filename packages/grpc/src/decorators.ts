/**
 * `@grpc.ServiceConfig` and `@grpc.Descriptor`.
 *
 * @module
 */
import { createServiceConfigDecorator, type DualClassDecorator } from "@pirouette/core";
import type { GrpcServiceConfig } from "./options.ts";
import type { Proto } from "./proto.ts";

/**
 * Per-service configuration for a class attached to a gRPC listener.
 *
 * @example
 * ```ts
 * @service(listener, "helloworld.HelloWorld")
 * @grpc.ServiceConfig({ descriptor: "hello.proto" })
 * class HelloWorld { sayHello(req: HelloRequest) { return { message: `Hello ${req.name}` }; } }
 * ```
 */
export const ServiceConfig: (config: GrpcServiceConfig) => DualClassDecorator = createServiceConfigDecorator<GrpcServiceConfig>();

/**
 * Ballerina's `@grpc:Descriptor`: bind the class to a proto (a path or a loaded {@link Proto}).
 *
 * @example
 * ```ts
 * @service(listener, "HelloWorld")
 * @grpc.Descriptor("hello.proto")
 * class HelloWorld { sayHello(req: HelloRequest) { return { message: `Hello ${req.name}` }; } }
 * ```
 */
export function Descriptor(descriptor: string | Proto): DualClassDecorator {
  return ServiceConfig({ descriptor });
}
