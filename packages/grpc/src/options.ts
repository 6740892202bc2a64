/**
 * Public option and configuration types of `@pirouette/grpc`.
 *
 * @module
 */
import type { HandlerContext, ListenerOptions, Stream } from "@pirouette/core";
import type { GrpcCaller } from "./caller.ts";
import type { GrpcError, GrpcMetadata } from "./errors.ts";
import type { LoadProtoOptions, Proto } from "./proto.ts";

/** TLS for a listener: PEM strings or Buffers. Mutual TLS when `ca` is set and `requireClientCert` is true. */
export interface GrpcServerTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CA certificates to verify client certificates against. */
  readonly ca?: string | Buffer;
  /** Reject clients without a certificate signed by `ca` (mutual TLS). Default: true when `ca` is set. */
  readonly requireClientCert?: boolean;
}

/** TLS for a client. `ca` defaults to the system roots; `cert`/`key` for mutual TLS. */
export interface GrpcClientTls {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Override the name the server certificate is checked against. */
  readonly servername?: string;
}

/** Keepalive pings (reliability.md: detect dead links in seconds, not TCP's 2 h). */
export interface GrpcKeepalive {
  /** Ping after this long without activity. Default 30 000 ms on clients (0 = off). */
  readonly timeMs?: number;
  /** Close the connection when a ping is not answered in time. Default 10 000 ms. */
  readonly timeoutMs?: number;
}

/** Options of {@link GrpcListener}. */
export interface GrpcListenerOptions extends ListenerOptions {
  /** Interface to bind. Default `"0.0.0.0"`. */
  readonly host?: string;
  /** Largest message accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED. Default 4 MiB. */
  readonly maxInboundMessageSize?: number;
  /** Largest message sent, in bytes. Default 4 MiB (grpc-js: unlimited). */
  readonly maxOutboundMessageSize?: number;
  /** Serve TLS (mutual TLS with `ca`). Default: plaintext. */
  readonly tls?: GrpcServerTls;
  /** Server keepalive pings. Default: grpc-js's (2 h). */
  readonly keepalive?: GrpcKeepalive;
  /** Extra grpc-js channel options (`grpc.max_concurrent_streams`, …). */
  readonly channelOptions?: Readonly<Record<string, string | number>>;
}

/**
 * Per-service configuration (`@grpc.ServiceConfig({...})`, `@grpc.Descriptor(proto)` or
 * `listener.attach(service, { name, descriptor })`). The attach name is the proto service
 * name, fully qualified or short.
 */
export interface GrpcServiceConfig {
  /** The proto: a path to the `.proto` file, or a {@link Proto} from `loadProto`. */
  readonly descriptor?: string | Proto;
  /** Options for loading `descriptor` when it is a path. */
  readonly protoOptions?: LoadProtoOptions;
}

/** Options of one client call. */
export interface CallOptions {
  /** Request metadata. */
  readonly metadata?: GrpcMetadata;
  /** This call's deadline in ms from now (overrides the client's `deadlineMs`; 0 = none). */
  readonly deadlineMs?: number;
  /** Cancel the call (the server's handler sees its signal abort). */
  readonly signal?: AbortSignal;
}

/** Retries done by grpc-js's retry support (a service config `retryPolicy` for every method). */
export interface GrpcRetryOptions {
  /** Total attempts including the first, 2–5. */
  readonly maxAttempts: number;
  /** Default 100 ms. */
  readonly initialBackoffMs?: number;
  /** Default 5 000 ms. */
  readonly maxBackoffMs?: number;
  /** Default 2. */
  readonly backoffMultiplier?: number;
  /** Statuses retried. Default `["UNAVAILABLE"]`. */
  readonly retryableStatuses?: readonly string[];
}

/** Options of {@link GrpcClient}. */
export interface GrpcClientOptions {
  /** The proto: a path or a {@link Proto}. */
  readonly descriptor: string | Proto;
  /** The service (fully qualified or short name). */
  readonly service: string;
  /** Options for loading `descriptor` when it is a path. */
  readonly protoOptions?: LoadProtoOptions;
  /** Deadline of every call in ms, unless the call sets its own. Default 10 000 (0 = none). */
  readonly deadlineMs?: number;
  /** Use TLS. Default: plaintext. */
  readonly tls?: GrpcClientTls;
  /** Largest message accepted, in bytes. Default 4 MiB. */
  readonly maxReceiveMessageSize?: number;
  /** Largest message sent, in bytes. Default 4 MiB. */
  readonly maxSendMessageSize?: number;
  /** Keepalive pings. Default `{ timeMs: 30_000, timeoutMs: 10_000 }`. */
  readonly keepalive?: GrpcKeepalive;
  /** Retry failed calls (grpc-js transparent retries stay on either way). */
  readonly retry?: GrpcRetryOptions;
  /** Extra grpc-js channel options. */
  readonly channelOptions?: Readonly<Record<string, string | number>>;
}

/**
 * The methods of a gRPC service: one per RPC, named as in the proto (`SayHello`) or in
 * lowerCamelCase (`sayHello`), plus an optional `onError`. Shapes:
 *
 * - unary: `(request, caller, ctx) => response`
 * - server streaming: `(request, caller, ctx) => Stream | Iterable | AsyncIterable` (or use `caller.send`)
 * - client streaming: `(requests: Stream, caller, ctx) => response`
 * - bidirectional: `(requests: Stream, caller, ctx) => Stream | … | void` (or use `caller.send`)
 */
export interface GrpcService {
  /** Errors of handlers (the peer only saw INTERNAL) and of the transport. */
  onError?(error: Error, caller: GrpcCaller | undefined): unknown;
}

/** A unary handler. */
export type UnaryHandler<TReq, TRes> = (request: TReq, caller: GrpcCaller<TRes>, ctx: HandlerContext) => TRes | Promise<TRes>;
/** A server-streaming handler. */
export type ServerStreamingHandler<TReq, TRes> = (
  request: TReq,
  caller: GrpcCaller<TRes>,
  ctx: HandlerContext,
) => Stream<TRes, unknown> | Iterable<TRes> | AsyncIterable<TRes> | void | Promise<Stream<TRes, unknown> | Iterable<TRes> | AsyncIterable<TRes> | void>;
/** A client-streaming handler. */
export type ClientStreamingHandler<TReq, TRes> = (
  requests: Stream<TReq, GrpcError>,
  caller: GrpcCaller<TRes>,
  ctx: HandlerContext,
) => TRes | Promise<TRes>;
/** A bidirectional-streaming handler. */
export type BidiStreamingHandler<TReq, TRes> = (
  requests: Stream<TReq, GrpcError>,
  caller: GrpcCaller<TRes>,
  ctx: HandlerContext,
) => Stream<TRes, unknown> | Iterable<TRes> | AsyncIterable<TRes> | void | Promise<Stream<TRes, unknown> | Iterable<TRes> | AsyncIterable<TRes> | void>;
