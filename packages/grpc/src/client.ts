/**
 * The gRPC client: the four call kinds with Streams.
 *
 * @module
 */
import { once } from "node:events";
import {
  Client as RawClient,
  credentials,
  type CallOptions as RawCallOptions,
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientReadableStream,
  type Metadata,
  type MethodDefinition,
} from "@grpc/grpc-js";
import { PushSource, Stream, type Sink, type StreamInput } from "@pirouette/core";
import { GrpcError, type GrpcMetadata } from "./errors.ts";
import { fromMetadata, fromServiceError, toMetadata } from "./internal/wire.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./listener.ts";
import type { CallOptions, GrpcClientOptions } from "./options.ts";
import { toProto, type CallKind, type RpcInfo } from "./proto.ts";

/**
 * The request and response types of one RPC, for typing a {@link GrpcClient}.
 *
 * @example
 * ```ts
 * interface HelloWorld {
 *   sayHello: grpc.Rpc<HelloRequest, HelloReply>;
 *   lotsOfReplies: grpc.Rpc<HelloRequest, HelloReply>;
 * }
 * const client = new grpc.Client<HelloWorld>("127.0.0.1:9090", { descriptor, service: "HelloWorld" });
 * ```
 */
export interface Rpc<TReq = object, TRes = unknown> {
  readonly request: TReq;
  readonly response: TRes;
}

/** A service's RPCs by method name (the name used with the client, proto or lowerCamelCase). */
export type RpcMap = { readonly [method: string]: Rpc<object, unknown> };

/** The constraint on a client's type parameter: every member is an {@link Rpc} (interfaces work too). */
export type RpcShape<T> = { readonly [K in keyof T]: Rpc<object, unknown> };

/** A unary response with its metadata (Ballerina's `ContextX`). */
export interface UnaryResult<TRes> {
  readonly message: TRes;
  /** Response headers. */
  readonly headers: GrpcMetadata;
  /** Trailing metadata. */
  readonly trailers: GrpcMetadata;
}

/**
 * A bidirectional call: `send` requests (awaits flow control), `complete()` when done, and read
 * `responses`. It is a `Sink`, so `requests.pipeTo(call)` sends a whole stream and completes.
 *
 * @example
 * ```ts
 * const chat = client.bidi("chat");
 * await chat.send({ text: "hi" });
 * chat.complete();
 * for await (const reply of chat.responses) console.log(reply.text);
 * ```
 */
export class GrpcBidiCall<TReq, TRes> implements Sink<TReq> {
  /** The responses; fails with a GrpcError carrying the call's status. */
  readonly responses: Stream<TRes, GrpcError>;
  readonly #call: ClientDuplexStream<TReq, TRes>;
  #completed = false;

  /** @internal */
  constructor(call: ClientDuplexStream<TReq, TRes>, responses: Stream<TRes, GrpcError>) {
    this.#call = call;
    this.responses = responses;
  }

  /** Send one request; resolves at once unless the transport asks the writer to wait. */
  async send(request: TReq): Promise<void> {
    if (this.#completed) throw new GrpcError("STATE", "the call's requests are already complete");
    if (!this.#call.write(request)) await waitDrain(this.#call);
  }

  /** No more requests (half-close). */
  complete(): void {
    if (this.#completed) return;
    this.#completed = true;
    this.#call.end();
  }

  /** Cancel the call: the server sees CANCELLED, `responses` fails with CANCELLED. */
  cancel(): void {
    this.#call.cancel();
  }

  /** `Sink.write`: same as {@link GrpcBidiCall.send}. */
  write(request: TReq): Promise<void> {
    return this.send(request);
  }

  /** `Sink.close`: same as {@link GrpcBidiCall.complete}. */
  close(): void {
    this.complete();
  }

  /** `Sink.abort`: the request stream failed; cancel the call. */
  abort(): void {
    this.cancel();
  }
}

/**
 * Ballerina's gRPC client, from the same proto as the server: `unary` → Promise, `serverStream`
 * → `Stream`, `clientStream` takes a `Stream` (or any iterable), `bidi` → a {@link GrpcBidiCall}.
 * Every call has a deadline (`deadlineMs`, default 10 s); failures are {@link GrpcError}s whose
 * `code` is the status name (`"UNAVAILABLE"`, `"DEADLINE_EXCEEDED"`, …).
 *
 * @example
 * ```ts
 * const client = new grpc.Client<HelloWorld>("127.0.0.1:9090", { descriptor: "hello.proto", service: "HelloWorld" });
 * const reply = await client.unary("sayHello", { name: "Ann" });
 * for await (const r of client.serverStream("lotsOfReplies", { name: "Ann" })) console.log(r.message);
 * client.close();
 * ```
 */
export class GrpcClient<T extends RpcShape<T> = RpcMap> implements AsyncDisposable {
  readonly #raw: RawClient;
  readonly #methods = new Map<string, { info: RpcInfo; def: MethodDefinition<unknown, unknown> }>();
  readonly #deadlineMs: number;
  /** Fully qualified service name. */
  readonly service: string;

  /**
   * @param address `host:port`
   * @throws {GrpcError} `GRPC_PROTO`, `GRPC_UNKNOWN_SERVICE`
   */
  constructor(address: string, options: GrpcClientOptions) {
    const proto = toProto(options.descriptor, options.protoOptions);
    this.service = proto.resolveService(options.service);
    const def = proto.definition(this.service);
    for (const info of proto.rpcs(this.service)) {
      const entry = { info, def: def[info.name] as MethodDefinition<unknown, unknown> };
      this.#methods.set(info.name, entry);
      this.#methods.set(info.camelName, entry);
    }
    this.#deadlineMs = options.deadlineMs ?? 10_000;
    const ka = options.keepalive ?? {};
    const channelOptions: ChannelOptions = {
      "grpc.max_receive_message_length": options.maxReceiveMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      "grpc.max_send_message_length": options.maxSendMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      ...((ka.timeMs ?? 30_000) > 0 ? { "grpc.keepalive_time_ms": ka.timeMs ?? 30_000, "grpc.keepalive_timeout_ms": ka.timeoutMs ?? 10_000 } : {}),
      ...(options.retry === undefined ? {} : { "grpc.service_config": retryServiceConfig(this.service, options.retry) }),
      ...(options.tls?.servername === undefined ? {} : { "grpc.ssl_target_name_override": options.tls.servername }),
      ...options.channelOptions,
    };
    const tls = options.tls;
    const creds =
      tls === undefined
        ? credentials.createInsecure()
        : credentials.createSsl(
            tls.ca === undefined ? null : Buffer.from(tls.ca),
            tls.key === undefined ? null : Buffer.from(tls.key),
            tls.cert === undefined ? null : Buffer.from(tls.cert),
          );
    this.#raw = new RawClient(address, creds, channelOptions);
  }

  #method(name: string, kind: CallKind): { info: RpcInfo; def: MethodDefinition<unknown, unknown> } {
    const m = this.#methods.get(name);
    if (m === undefined) throw new GrpcError("GRPC_UNKNOWN_METHOD", `${this.service} has no RPC ${name}`);
    if (m.info.kind !== kind) throw new GrpcError("GRPC_UNKNOWN_METHOD", `${this.service}.${m.info.name} is ${m.info.kind}, not ${kind}`);
    return m;
  }

  #callOptions(options: CallOptions): RawCallOptions {
    const ms = options.deadlineMs ?? this.#deadlineMs;
    return ms > 0 ? { deadline: Date.now() + ms } : {};
  }

  /**
   * A unary call.
   *
   * @throws {GrpcError} with the call's status
   * @example
   * ```ts
   * const reply = await client.unary("sayHello", { name: "Ann" }, { deadlineMs: 2000 });
   * ```
   */
  unary<K extends keyof T & string>(method: K, request: T[K]["request"], options: CallOptions = {}): Promise<T[K]["response"]> {
    return this.#unary(method, request, options, false).then((r) => r.message);
  }

  /**
   * A unary call that also returns the response headers and trailers.
   *
   * @example
   * ```ts
   * const { message, headers } = await client.unaryContext("sayHello", { name: "Ann" }, { metadata: { "x-id": "1" } });
   * ```
   */
  unaryContext<K extends keyof T & string>(method: K, request: T[K]["request"], options: CallOptions = {}): Promise<UnaryResult<T[K]["response"]>> {
    return this.#unary(method, request, options, true);
  }

  #unary<K extends keyof T & string>(
    method: K,
    request: T[K]["request"],
    options: CallOptions,
    withMetadata: boolean,
  ): Promise<UnaryResult<T[K]["response"]>> {
    let m: { info: RpcInfo; def: MethodDefinition<unknown, unknown> };
    try {
      m = this.#method(method, "unary");
    } catch (e) {
      return Promise.reject(e);
    }
    const { info, def } = m;
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted === true) {
        reject(new GrpcError("CANCELLED", "the call was cancelled before it started", { cause: options.signal.reason }));
        return;
      }
      let headers: GrpcMetadata = {};
      let trailers: GrpcMetadata = {};
      const onAbort = (): void => call.cancel();
      const call = this.#raw.makeUnaryRequest(
        info.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        toMetadata(options.metadata),
        this.#callOptions(options),
        (err, value) => {
          options.signal?.removeEventListener("abort", onAbort);
          if (err !== null) reject(fromServiceError(err));
          // grpc-js emits "status" (with the trailers) right after this callback.
          else if (withMetadata) queueMicrotask(() => resolve({ message: value as T[K]["response"], headers, trailers }));
          else resolve({ message: value as T[K]["response"], headers, trailers });
        },
      );
      if (withMetadata) {
        call.on("metadata", (md: Metadata) => {
          headers = fromMetadata(md);
        });
        call.on("status", (s: { metadata: Metadata }) => {
          trailers = fromMetadata(s.metadata);
        });
      }
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * A server-streaming call: the responses as a Stream (flow-controlled; closing it early
   * cancels the call). It fails with a GrpcError carrying the status.
   *
   * @example
   * ```ts
   * const replies = await client.serverStream("lotsOfReplies", { name: "Ann" }).toArray();
   * ```
   */
  serverStream<K extends keyof T & string>(method: K, request: T[K]["request"], options: CallOptions = {}): Stream<T[K]["response"], GrpcError> {
    const { info, def } = this.#method(method, "serverStreaming");
    const call = this.#raw.makeServerStreamRequest(
      info.path,
      def.requestSerialize,
      def.responseDeserialize,
      request,
      toMetadata(options.metadata),
      this.#callOptions(options),
    );
    return this.#responses<T[K]["response"]>(call, options.signal);
  }

  /**
   * A client-streaming call: sends every element of `requests` (awaiting flow control), then
   * resolves with the response. If `requests` fails, the call is cancelled and the promise
   * rejects with that error.
   *
   * @example
   * ```ts
   * const summary = await client.clientStream("recordRoute", Stream.from(points));
   * ```
   */
  async clientStream<K extends keyof T & string>(
    method: K,
    requests: Stream<T[K]["request"], unknown> | StreamInput<T[K]["request"]>,
    options: CallOptions = {},
  ): Promise<T[K]["response"]> {
    const { info, def } = this.#method(method, "clientStreaming");
    if (options.signal?.aborted === true) throw new GrpcError("CANCELLED", "the call was cancelled before it started", { cause: options.signal.reason });
    let settled = false;
    let onAbort: () => void = () => undefined;
    const input = Stream.from(requests);
    const response = new Promise<T[K]["response"]>((resolve, reject) => {
      const call = this.#raw.makeClientStreamRequest(
        info.path,
        def.requestSerialize,
        def.responseDeserialize,
        toMetadata(options.metadata),
        this.#callOptions(options),
        (err, value) => {
          settled = true;
          options.signal?.removeEventListener("abort", onAbort);
          if (err !== null) {
            void input.close();
            reject(fromServiceError(err));
          } else resolve(value);
        },
      );
      onAbort = () => call.cancel();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      void (async () => {
        try {
          await input.forEach((v) => {
            if (settled) return;
            if (!call.write(v)) return waitDrain(call);
            return undefined;
          });
          call.end();
        } catch (e) {
          call.cancel();
          if (!settled) {
            settled = true;
            reject(e);
          }
        }
      })();
    });
    return response;
  }

  /**
   * A bidirectional call.
   *
   * @example
   * ```ts
   * const call = client.bidi("chat");
   * void Stream.of({ text: "a" }, { text: "b" }).pipeTo(call);
   * for await (const m of call.responses) console.log(m.text);
   * ```
   */
  bidi<K extends keyof T & string>(method: K, options: CallOptions = {}): GrpcBidiCall<T[K]["request"], T[K]["response"]> {
    const { info, def } = this.#method(method, "bidiStreaming");
    const call = this.#raw.makeBidiStreamRequest(
      info.path,
      def.requestSerialize,
      def.responseDeserialize,
      toMetadata(options.metadata),
      this.#callOptions(options),
    ) as ClientDuplexStream<T[K]["request"], T[K]["response"]>;
    return new GrpcBidiCall(call, this.#responses<T[K]["response"]>(call, options.signal));
  }

  #responses<TRes>(call: ClientReadableStream<unknown> | ClientDuplexStream<unknown, unknown>, signal: AbortSignal | undefined): Stream<TRes, GrpcError> {
    let finished = false;
    let error: GrpcError | undefined;
    const onAbort = (): void => call.cancel();
    const src = new PushSource<TRes, GrpcError>({
      highWaterMark: 64,
      onPause: () => call.pause(),
      onResume: () => call.resume(),
      onClose: () => {
        signal?.removeEventListener("abort", onAbort);
        if (!finished) call.cancel();
      },
    });
    const finish = (): void => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener("abort", onAbort);
      if (error !== undefined) src.fail(error);
      else src.end();
    };
    call.on("data", (v: TRes) => src.push(v));
    call.on("error", (e: unknown) => {
      error ??= fromServiceError(e);
      finish();
    });
    call.on("end", finish);
    call.on("close", finish);
    if (signal?.aborted === true) call.cancel();
    else signal?.addEventListener("abort", onAbort, { once: true });
    return src.stream;
  }

  /**
   * Wait until the channel is connected (or fail with UNAVAILABLE after `timeoutMs`).
   *
   * @example
   * ```ts
   * await client.waitForReady(5000);
   * ```
   */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#raw.waitForReady(Date.now() + timeoutMs, (err) => {
        if (err === undefined || err === null) resolve();
        else reject(new GrpcError("UNAVAILABLE", `not connected within ${timeoutMs} ms: ${err.message}`, { cause: err }));
      });
    });
  }

  /** Close the channel; running calls are cancelled. Idempotent. */
  close(): void {
    this.#raw.close();
  }

  /** Same as {@link GrpcClient.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

async function waitDrain(stream: NodeJS.EventEmitter): Promise<void> {
  // A cancelled or failed call never drains: stop waiting on error/close as well.
  const ac = new AbortController();
  await Promise.race([
    once(stream, "drain", { signal: ac.signal }),
    once(stream, "close", { signal: ac.signal }),
    once(stream, "status", { signal: ac.signal }),
  ]).catch(() => undefined);
  ac.abort();
}

function retryServiceConfig(service: string, r: NonNullable<GrpcClientOptions["retry"]>): string {
  return JSON.stringify({
    methodConfig: [
      {
        name: [{ service }],
        retryPolicy: {
          maxAttempts: r.maxAttempts,
          initialBackoff: `${(r.initialBackoffMs ?? 100) / 1000}s`,
          maxBackoff: `${(r.maxBackoffMs ?? 5000) / 1000}s`,
          backoffMultiplier: r.backoffMultiplier ?? 2,
          retryableStatusCodes: r.retryableStatuses ?? ["UNAVAILABLE"],
        },
      },
    ],
  });
}
