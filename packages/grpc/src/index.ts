/**
 * `@pirouette/grpc`: Ballerina's `grpc` module for Node on @grpc/grpc-js — a listener whose
 * services implement the RPCs of a `.proto` in the four call kinds (streams in and out are
 * `Stream`s), and a client with the same four kinds.
 *
 * ```ts
 * import * as grpc from "@pirouette/grpc";
 * const listener = new grpc.Listener(9090);
 * await listener.attach({ sayHello: (req: { name: string }) => ({ message: `Hello ${req.name}` }) }, { name: "HelloWorld", descriptor: "hello.proto" });
 * await listener.start();
 * const client = new grpc.Client("127.0.0.1:9090", { descriptor: "hello.proto", service: "HelloWorld" });
 * await client.unary("sayHello", { name: "Ann" });
 * ```
 *
 * @module
 */
export { GrpcListener, GrpcListener as Listener, DEFAULT_MAX_MESSAGE_SIZE } from "./listener.ts";
export { GrpcClient, GrpcClient as Client, GrpcBidiCall, GrpcBidiCall as BidiCall } from "./client.ts";
export type { Rpc, RpcMap, RpcShape, UnaryResult } from "./client.ts";
export { GrpcCaller, GrpcCaller as Caller } from "./caller.ts";
export { GrpcError, Status, statusName } from "./errors.ts";
export type { GrpcErrorCode, GrpcErrorOptions, GrpcMetadata, StatusName, StatusCode } from "./errors.ts";
export { ServiceConfig, Descriptor } from "./decorators.ts";
export { Proto, loadProto } from "./proto.ts";
export type { CallKind, RpcInfo, LoadProtoOptions } from "./proto.ts";
export type {
  CallOptions,
  GrpcListenerOptions,
  GrpcListenerOptions as ListenerOptions,
  GrpcClientOptions,
  GrpcClientOptions as ClientOptions,
  GrpcServiceConfig,
  GrpcService,
  GrpcService as Service,
  GrpcServerTls,
  GrpcClientTls,
  GrpcKeepalive,
  GrpcRetryOptions,
  UnaryHandler,
  ServerStreamingHandler,
  ClientStreamingHandler,
  BidiStreamingHandler,
} from "./options.ts";
