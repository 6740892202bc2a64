/**
 * The gRPC listener: services bound to a `.proto`, the four call kinds, graceful stop.
 *
 * @module
 */
import { Server, ServerCredentials, type ChannelOptions, type UntypedServiceImplementation } from "@grpc/grpc-js";
import {
  AbstractListener,
  Stream,
  toError,
  type Attachment,
  type AttachOptions,
  type HandlerContext,
  type ServiceSpec,
  type StopMode,
} from "@pirouette/core";
import { GrpcCaller } from "./caller.ts";
import { GrpcError, type GrpcErrorCode } from "./errors.ts";
import { ServerCallState } from "./internal/server-call.ts";
import type { GrpcListenerOptions, GrpcServiceConfig } from "./options.ts";
import { toProto, type Proto, type RpcInfo } from "./proto.ts";

/** The default receive and send limit: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;

interface ResolvedConfig extends GrpcServiceConfig {
  readonly descriptor: Proto;
  /** Fully qualified service name. */
  readonly service: string;
}

type Handler = (...args: never[]) => unknown;

/**
 * Ballerina's `grpc:Listener`: serves the services attached to it, each bound to a service of a
 * `.proto` (the attach name must be a service of the proto, fully qualified or short). One
 * method per RPC, named as in the proto or in lowerCamelCase; see {@link GrpcService} for the
 * four shapes. Handlers get `(request | Stream of requests, caller, ctx)`; `ctx.signal` and
 * `caller.signal` abort on client cancellation, deadline, or `immediateStop`. A thrown
 * {@link GrpcError} with a status name answers that status; anything else answers INTERNAL
 * ("internal error") and goes to `onError`. `gracefulStop` stops accepting calls, lets running
 * ones finish for `gracefulStopTimeoutMs`, then cancels them (UNAVAILABLE) and forces the
 * shutdown.
 *
 * @example
 * ```ts
 * const listener = new grpc.Listener(9090, { host: "127.0.0.1" });
 * await listener.attach(
 *   {
 *     sayHello: (req: { name: string }) => ({ message: `Hello ${req.name}` }),
 *     lotsOfReplies: (req: { name: string }) => Stream.of("Hi", "Hey", "GM").map((g) => ({ message: `${g} ${req.name}` })),
 *   },
 *   { name: "HelloWorld", descriptor: "hello.proto" },
 * );
 * await listener.start();
 * ```
 */
export class GrpcListener extends AbstractListener<object, GrpcServiceConfig> {
  protected readonly spec: ServiceSpec = {
    protocol: "grpc",
    methods: { onError: {} },
    error: (code, message) => new GrpcError(code as GrpcErrorCode, message),
  };
  readonly #requestedPort: number;
  readonly #options: GrpcListenerOptions;
  #server: Server | undefined;
  #port: number | undefined;
  readonly #inflight = new Set<ServerCallState>();

  /**
   * @param port the port to listen on (0 for any free port; read it back from `port` after `start`)
   */
  constructor(port: number, options: GrpcListenerOptions = {}) {
    super({ ...options, protocol: "grpc" });
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new GrpcError("INVALID_ARGUMENT", `invalid port ${port}`);
    }
    this.#requestedPort = port;
    this.#options = options;
  }

  /** The port the listener is bound to (after `start`), else the requested one. */
  get port(): number {
    return this.#port ?? this.#requestedPort;
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.#inflight.size;
  }

  /**
   * Attach a service. Options: the proto service name (`name`), `descriptor` (a path or a
   * loaded {@link Proto}; or from `@grpc.Descriptor`), `protoOptions`.
   *
   * @throws {GrpcError} `GRPC_UNKNOWN_SERVICE`, `GRPC_MISSING_METHOD`, `GRPC_INVALID_SERVICE`, `GRPC_PROTO`
   */
  override async attach(service: object, options?: string | readonly string[] | AttachOptions): Promise<void> {
    await super.attach(service, options);
    const att = this.attachments().find((a) => a.service === service);
    if (att === undefined) return;
    try {
      this.#handlers(att);
    } catch (e) {
      await this.detach(service);
      throw e;
    }
  }

  protected override validateConfig(config: GrpcServiceConfig, name: string | readonly string[] | undefined): GrpcServiceConfig {
    if (config.descriptor === undefined) {
      throw new GrpcError("GRPC_INVALID_SERVICE", "a gRPC service needs a descriptor: @grpc.Descriptor(proto) or attach(service, { descriptor })");
    }
    if (Array.isArray(name)) throw new GrpcError("GRPC_INVALID_SERVICE", "a gRPC service has one name");
    const proto = toProto(config.descriptor, config.protoOptions);
    let service: string;
    if (typeof name === "string") service = proto.resolveService(name);
    else {
      const all = proto.serviceNames();
      if (all.length !== 1) {
        throw new GrpcError("GRPC_UNKNOWN_SERVICE", `${proto.source} defines ${all.length} services; attach with the name of one: ${all.join(", ")}`);
      }
      service = all[0] as string;
    }
    const resolved: ResolvedConfig = { ...config, descriptor: proto, service };
    return resolved;
  }

  /** The grpc-js implementation of an attachment (validates that it implements an RPC). */
  #handlers(att: Attachment<object, GrpcServiceConfig>): UntypedServiceImplementation {
    const config = att.config as ResolvedConfig;
    const rpcs = config.descriptor.rpcs(config.service);
    const svc = att.service as Record<string, unknown>;
    const impl: UntypedServiceImplementation = {};
    for (const rpc of rpcs) {
      const fn = svc[rpc.name] ?? svc[rpc.camelName];
      if (fn === undefined) continue;
      if (typeof fn !== "function") {
        throw new GrpcError("GRPC_INVALID_SERVICE", `${config.service}: ${rpc.name} must be a method`);
      }
      impl[rpc.name] = this.#handler(att, config.service, rpc, fn as Handler);
    }
    if (Object.keys(impl).length === 0) {
      throw new GrpcError(
        "GRPC_MISSING_METHOD",
        `the service for ${config.service} implements none of its RPCs (${rpcs.map((r) => r.camelName).join(", ")})`,
      );
    }
    return impl;
  }

  #handler(att: Attachment<object, GrpcServiceConfig>, service: string, rpc: RpcInfo, fn: Handler): UntypedServiceImplementation[string] {
    const target = att.service;
    const track = (call: ConstructorParameters<typeof ServerCallState>[2], callback?: ConstructorParameters<typeof ServerCallState>[3]): ServerCallState => {
      const st = new ServerCallState(rpc.kind, rpc.path, call, callback, (s) => this.#inflight.delete(s));
      this.#inflight.add(st);
      return st;
    };
    const call = fn as (this: object, input: unknown, caller: GrpcCaller, ctx: HandlerContext) => unknown;
    switch (rpc.kind) {
      case "unary":
        return ((c: ServerCallState["call"] & { request: unknown }, cb: ConstructorParameters<typeof ServerCallState>[3]) => {
          const st = track(c, cb);
          void this.#run(att, st, service, rpc, (caller, ctx) => call.call(target, c.request, caller, ctx));
        }) as UntypedServiceImplementation[string];
      case "serverStreaming":
        return ((c: ServerCallState["call"] & { request: unknown }) => {
          const st = track(c);
          void this.#run(att, st, service, rpc, (caller, ctx) => call.call(target, c.request, caller, ctx));
        }) as UntypedServiceImplementation[string];
      case "clientStreaming":
        return ((c: ServerCallState["call"], cb: ConstructorParameters<typeof ServerCallState>[3]) => {
          const st = track(c, cb);
          void this.#run(att, st, service, rpc, (caller, ctx) => call.call(target, st.incoming(), caller, ctx));
        }) as UntypedServiceImplementation[string];
      case "bidiStreaming":
        return ((c: ServerCallState["call"]) => {
          const st = track(c);
          void this.#run(att, st, service, rpc, (caller, ctx) => call.call(target, st.incoming(), caller, ctx));
        }) as UntypedServiceImplementation[string];
    }
  }

  async #run(
    att: Attachment<object, GrpcServiceConfig>,
    st: ServerCallState,
    service: string,
    rpc: RpcInfo,
    invoke: (caller: GrpcCaller, ctx: HandlerContext) => unknown,
  ): Promise<void> {
    const caller = new GrpcCaller(st, service, rpc.name);
    const logger = this.logger;
    const ctx: HandlerContext = {
      get signal() {
        return st.signal;
      },
      attempt: 1,
      logger,
      coordinates: { service, method: rpc.name },
    };
    try {
      let result = invoke(caller, ctx);
      if (result instanceof Promise) result = await result;
      if (st.done) return;
      if (st.isWritable) {
        if (result !== undefined && result !== null) await st.pump(toStream(result, rpc));
        st.complete();
      } else {
        st.complete(result);
      }
    } catch (e) {
      if (st.cancelled) return; // the client went away, the deadline passed or the listener stopped the call
      st.fail(e);
      if (!(GrpcError.is(e) && e.isStatus)) await this.notifyError(att, toError(e), caller);
    }
  }

  protected async onStart(attachments: Attachment<object, GrpcServiceConfig>[]): Promise<void> {
    const o = this.#options;
    const channelOptions: ChannelOptions = {
      "grpc.max_receive_message_length": o.maxInboundMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      "grpc.max_send_message_length": o.maxOutboundMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      ...(o.keepalive?.timeMs === undefined ? {} : { "grpc.keepalive_time_ms": o.keepalive.timeMs }),
      ...(o.keepalive?.timeoutMs === undefined ? {} : { "grpc.keepalive_timeout_ms": o.keepalive.timeoutMs }),
      ...o.channelOptions,
    };
    const server = new Server(channelOptions);
    this.#server = server;
    for (const att of attachments) this.#add(server, att);
    const creds =
      o.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(
            o.tls.ca === undefined ? null : Buffer.from(o.tls.ca),
            [{ private_key: Buffer.from(o.tls.key), cert_chain: Buffer.from(o.tls.cert) }],
            o.tls.requireClientCert ?? o.tls.ca !== undefined,
          );
    const host = o.host ?? "0.0.0.0";
    const address = host.includes(":") && !host.startsWith("[") ? `[${host}]:${this.#requestedPort}` : `${host}:${this.#requestedPort}`;
    this.#port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, creds, (err, port) => {
        if (err !== null) reject(new GrpcError("UNAVAILABLE", `cannot listen on ${address}: ${err.message}`, { cause: err }));
        else resolve(port);
      });
    });
  }

  #add(server: Server, att: Attachment<object, GrpcServiceConfig>): void {
    const config = att.config as ResolvedConfig;
    try {
      server.addService(config.descriptor.definition(config.service), this.#handlers(att));
    } catch (e) {
      if (GrpcError.is(e)) throw e;
      throw new GrpcError("GRPC_INVALID_SERVICE", `cannot add ${config.service}: ${(e as Error).message}`, { cause: e });
    }
  }

  protected override onAttach(attachment: Attachment<object, GrpcServiceConfig>): Promise<void> {
    if (this.#server !== undefined) this.#add(this.#server, attachment);
    return Promise.resolve();
  }

  protected override onDetach(attachment: Attachment<object, GrpcServiceConfig>): Promise<void> {
    const config = attachment.config as ResolvedConfig;
    this.#server?.removeService(config.descriptor.definition(config.service));
    return Promise.resolve();
  }

  /**
   * Graceful: stop accepting calls and let the running ones finish (bounded by
   * `gracefulStopTimeoutMs`, then cancelled). Immediate: abort every running handler and
   * cancel its call (UNAVAILABLE) at once.
   */
  protected async stopIntake(mode: StopMode): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    if (mode === "immediate") {
      this.#abortAll("the listener stopped");
      server.forceShutdown();
      return;
    }
    // tryShutdown can hang on a call that never ends (grpc-node #1458, #2091): bound it.
    const shutdown = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    const drained = Promise.all([shutdown, ...[...this.#inflight].map((s) => s.finished)]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.gracefulStopTimeoutMs);
    });
    const late = await Promise.race([drained.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.logger.warn({ timeoutMs: this.gracefulStopTimeoutMs, inFlight: this.#inflight.size }, "graceful stop timed out; cancelling calls");
      this.#abortAll("the listener stopped before the call finished");
      server.forceShutdown();
    }
  }

  #abortAll(message: string): void {
    for (const st of [...this.#inflight]) st.abort(new GrpcError("UNAVAILABLE", message));
  }

  protected onClose(): Promise<void> {
    this.#server?.forceShutdown();
    this.#server = undefined;
    return Promise.resolve();
  }
}

function toStream(result: unknown, rpc: RpcInfo): Stream<unknown, unknown> {
  if (result instanceof Stream) return result as Stream<unknown, unknown>;
  if (typeof result === "object" && result !== null && (Symbol.asyncIterator in result || Symbol.iterator in result)) {
    return Stream.from(result as Iterable<unknown>);
  }
  throw new GrpcError("INTERNAL", `the ${rpc.kind} handler ${rpc.name} must return a Stream, an iterable or nothing`);
}
