/**
 * `udp.Listener`: receives datagrams and hands them to a service.
 *
 * @module
 */
import type dgram from "node:dgram";
import { isIP } from "node:net";
import {
  AbstractListener,
  bind,
  json,
  PayloadBindingError,
  PirouetteError,
  toError,
  type Attachment,
  type Codec,
  type Delivery,
  type Dispatcher,
  type HandlerContext,
  type ServiceSpec,
} from "@pirouette/core";
import { UdpCaller, type CallerSocket } from "./caller.ts";
import { UdpError, type UdpErrorCode } from "./errors.ts";
import type { UdpListenerOptions, UdpService } from "./options.ts";
import { checkPort, checkSocketOptions, localAddress, MAX_UDP_PAYLOAD, openSocket, payloadBytes, sendChunked, sendRaw } from "./internal/socket.ts";

const spec: ServiceSpec = {
  protocol: "udp",
  methods: { onDatagram: {}, onBytes: {}, onError: {} },
  exactlyOneOf: [["onDatagram", "onBytes"]],
  error: (code, message) => new UdpError(code as UdpErrorCode, message),
};

/** The datagrams received in one turn of the event loop, handled in one dispatcher delivery. */
interface Batch {
  readonly datas: Buffer[];
  readonly infos: dgram.RemoteInfo[];
  /** Index of the next datagram to hand to the service (a retry resumes here). */
  next: number;
}

type AnyService = UdpService<unknown>;
type Schema = NonNullable<ReturnType<Attachment<object, object>["payloadSchema"]>>;

interface Active {
  readonly att: Attachment<AnyService, object>;
  readonly dispatcher: Dispatcher<Batch>;
  readonly codec: Codec<unknown> | undefined;
  readonly schema: Schema | undefined;
  readonly datagrams: boolean;
}

/** The error `bind()` would throw for a payload the codec rejected (built directly: no second decode). */
function bindingError(cause: unknown, codec: Codec<unknown>, coordinates: Readonly<Record<string, unknown>>): PayloadBindingError {
  if (PirouetteError.is(cause)) {
    return new PayloadBindingError(cause.message, { cause, code: cause.code, coordinates: { ...cause.coordinates, ...coordinates } });
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new PayloadBindingError(`${codec.name} codec could not decode the payload: ${message}`, { cause, coordinates });
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as PromiseLike<unknown>).then === "function";
}

function isDatagram(v: unknown): v is { remoteHost: string; remotePort: number; data: unknown } {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as { remoteHost?: unknown }).remoteHost === "string" &&
    typeof (v as { remotePort?: unknown }).remotePort === "number" &&
    "data" in v
  );
}

/**
 * Ballerina's `udp:Listener`: binds `localPort` and calls the service's `onDatagram(datagram,
 * caller)` or `onBytes(data, caller)` for each datagram, sending back what it returns.
 * Datagrams received in one event-loop turn are handled in order as one batch; UDP cannot make
 * a sender slow down, so past `maxPending` unhandled datagrams new ones are dropped and counted.
 * With a `codec` (and optionally a payload schema) datagrams are decoded first, and the ones
 * that do not decode or validate go to `onError`. `immediateStop()` aborts running handlers.
 *
 * One service per listener. `T` is the payload type when a `codec` is set.
 *
 * @example
 * ```ts
 * import * as udp from "@pirouette/udp";
 *
 * const listener = new udp.Listener(9000);
 * await listener.attach({
 *   onDatagram: (d) => `hello ${d.remoteHost}:${d.remotePort}, you sent ${d.data.length} bytes`,
 *   onError: (err) => console.warn(err),
 * });
 * await listener.start();
 * ```
 */
export class UdpListener<T = Buffer> extends AbstractListener<UdpService<T>, object> {
  protected readonly spec: ServiceSpec = spec;
  readonly #o: UdpListenerOptions;
  readonly #requestedPort: number;
  readonly #maxDatagramSize: number;
  readonly #maxPending: number;
  #socket: dgram.Socket | undefined;
  #callerSocket: CallerSocket | undefined;
  #coordinates: Readonly<Record<string, unknown>> = {};
  #destination = "udp";
  #active: Active | undefined;
  #batch: Batch | undefined;
  #pending = 0;
  #received = 0;
  #dropped = 0;
  #stopping = false;
  /** Replies being sent (a stop waits for them before closing the socket). */
  #sending = 0;
  #sendsDone: (() => void) | undefined;

  /**
   * @param localPort - the port to bind; 0 picks a free one (read it from {@link UdpListener.port} after `start()`).
   * @throws {UdpError} `INVALID_ARGUMENT` for a bad port or option.
   */
  constructor(localPort: number, options: UdpListenerOptions = {}) {
    super({ ...options, protocol: "udp" });
    checkPort(localPort, "localPort", true);
    checkPort(options.remotePort, "remotePort", false);
    checkSocketOptions(options);
    if ((options.remoteHost === undefined) !== (options.remotePort === undefined)) {
      throw new UdpError("INVALID_ARGUMENT", "remoteHost and remotePort go together");
    }
    const max = options.maxDatagramSize ?? 65_535;
    if (!Number.isInteger(max) || max < 1) throw new UdpError("INVALID_ARGUMENT", "maxDatagramSize must be an integer >= 1");
    const pending = options.maxPending ?? 4096;
    if (!Number.isInteger(pending) || pending < 1) throw new UdpError("INVALID_ARGUMENT", "maxPending must be an integer >= 1");
    this.#o = options;
    this.#requestedPort = localPort;
    this.#maxDatagramSize = max;
    this.#maxPending = pending;
  }

  /** The bound port (the one the system picked when constructed with 0, once started). */
  get port(): number {
    return this.#callerSocket?.localPort ?? this.#requestedPort;
  }

  /** The bound address, once started. */
  get host(): string | undefined {
    return this.#callerSocket?.localHost ?? this.#o.localHost;
  }

  /** Datagrams received since start (including dropped and oversize ones). */
  get receivedDatagrams(): number {
    return this.#received;
  }

  /** Datagrams dropped because `maxPending` were waiting (or no service was attached). */
  get droppedDatagrams(): number {
    return this.#dropped;
  }

  protected override validateConfig(config: object): object {
    if (this.attachments().length > 0) {
      throw new UdpError("STATE", "a udp listener serves one service; detach the attached one first");
    }
    return config;
  }

  protected async onStart(attachments: Attachment<UdpService<T>, object>[]): Promise<void> {
    const first = attachments[0];
    if (first !== undefined) this.#activate(first);
    const o = this.#o;
    const socket = await openSocket(
      {
        ...o,
        localHost: o.localHost,
        localPort: this.#requestedPort,
        connectTo: o.remoteHost === undefined || o.remotePort === undefined ? undefined : { host: o.remoteHost, port: o.remotePort },
      },
      (error) => this.#reportListener(error, undefined),
    );
    this.#socket = socket;
    const { host, port } = localAddress(socket);
    this.#callerSocket = {
      socket,
      localHost: host,
      localPort: port,
      chunkSize: o.sendChunkSize ?? MAX_UDP_PAYLOAD,
      connected: o.remoteHost !== undefined,
    };
    this.#coordinates = Object.freeze({ localHost: host, localPort: port });
    this.#destination = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.#onMessage(msg, rinfo));
  }

  protected override onAttach(att: Attachment<UdpService<T>, object>): Promise<void> {
    this.#activate(att);
    return Promise.resolve();
  }

  protected override async onDetach(att: Attachment<UdpService<T>, object>): Promise<void> {
    const active = this.#active;
    if (active === undefined || active.att !== att) return;
    this.#flush();
    this.#active = undefined;
    await active.dispatcher.drain(this.gracefulStopTimeoutMs);
    this.releaseDispatcher(active.dispatcher);
  }

  protected stopIntake(): Promise<void> {
    this.#stopping = true;
    this.#flush(); // what was received is handed over (and drained, or rejected on immediateStop)
    return Promise.resolve();
  }

  protected async onClose(): Promise<void> {
    this.#stopping = true;
    this.#batch = undefined;
    const socket = this.#socket;
    if (socket !== undefined) {
      if (this.#sending > 0) await new Promise<void>((resolve) => (this.#sendsDone = resolve));
      await new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      });
    }
    if (this.#active !== undefined) this.releaseDispatcher(this.#active.dispatcher);
  }

  #activate(att: Attachment<UdpService<T>, object>): void {
    const a = att as Attachment<AnyService, object>;
    const datagrams = typeof a.service.onDatagram === "function";
    const schema = a.payloadSchema(datagrams ? "onDatagram" : "onBytes");
    const codec = this.#o.codec ?? (schema === undefined ? undefined : json());
    const dispatcher = this.createDispatcher<Batch>({
      concurrency: this.#o.concurrency ?? 1,
      maxInFlight: Number.MAX_SAFE_INTEGER,
      retry: this.#o.retry ?? false,
      onHandlerFailure: "skip",
      onBindingFailure: "skip",
      telemetry: { system: "udp" },
      invoke: (d, ctx) => this.#run(d.message, ctx),
      reportError: (error, d) => {
        const b = d.message;
        const info = b.infos[b.next];
        const caller = info === undefined || this.#callerSocket === undefined ? undefined : new UdpCaller(this.#callerSocket, info.address, info.port);
        this.#notify(a.service, error, caller);
      },
    });
    this.#active = { att: a, dispatcher, codec, schema, datagrams };
  }

  // ---------------------------------------------------------------- receiving

  #onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.#received++;
    const active = this.#active;
    if (active === undefined || this.#stopping) {
      this.#dropped++;
      return;
    }
    if (msg.length > this.#maxDatagramSize) {
      const caller = new UdpCaller(this.#callerSocket as CallerSocket, rinfo.address, rinfo.port);
      this.#notify(
        active.att.service,
        new UdpError("UDP_DATAGRAM_TOO_LARGE", `datagram of ${msg.length} bytes from ${rinfo.address}:${rinfo.port} is over maxDatagramSize ${this.#maxDatagramSize}`, {
          coordinates: { ...this.#coordinates, remoteHost: rinfo.address, remotePort: rinfo.port, size: msg.length },
        }),
        caller,
      );
      return;
    }
    if (this.#pending >= this.#maxPending) {
      if (this.#dropped++ % 1000 === 0) this.logger.warn({ dropped: this.#dropped, maxPending: this.#maxPending }, "udp service saturated; dropping datagrams");
      return;
    }
    this.#pending++;
    let b = this.#batch;
    if (b === undefined) {
      b = this.#batch = { datas: [], infos: [], next: 0 };
      setImmediate(this.#flushCb);
    }
    b.datas.push(msg);
    b.infos.push(rinfo);
  }

  readonly #flushCb = (): void => this.#flush();

  #flush(): void {
    const b = this.#batch;
    if (b === undefined) return;
    this.#batch = undefined;
    this.#submit(b);
  }

  #submit(b: Batch, active: Active | undefined = this.#active): void {
    if (active === undefined) {
      this.#pending -= b.datas.length - b.next;
      this.#dropped += b.datas.length - b.next;
      return;
    }
    const delivery: Delivery<Batch> = {
      message: b,
      destination: this.#destination,
      coordinates: this.#coordinates,
      ack: () => this.#settled(b, active),
      reject: () => {
        // Stopping: the datagrams not handled yet are given up.
        this.#pending -= b.datas.length - b.next;
        b.next = b.datas.length;
      },
    };
    void active.dispatcher.submit(delivery);
  }

  #run(b: Batch, ctx: HandlerContext): Promise<void> | undefined {
    const active = this.#active;
    if (active === undefined) return undefined;
    const cs = this.#callerSocket as CallerSocket;
    while (b.next < b.datas.length) {
      const info = b.infos[b.next] as dgram.RemoteInfo;
      const caller = new UdpCaller(cs, info.address, info.port);
      const r = this.#call(active, b.datas[b.next] as Buffer, info, caller, ctx);
      if (isPromiseLike(r)) return this.#continue(b, ctx, r, caller);
      if (r !== undefined && r !== null) this.#reply(active, caller, r);
      b.next++;
      this.#pending--;
    }
    return undefined;
  }

  async #continue(b: Batch, ctx: HandlerContext, pending: PromiseLike<unknown>, caller: UdpCaller): Promise<void> {
    const r = await pending;
    const active = this.#active;
    if (active !== undefined && r !== undefined && r !== null) this.#reply(active, caller, r);
    b.next++;
    this.#pending--;
    const rest = this.#run(b, ctx);
    if (rest !== undefined) await rest;
  }

  #call(a: Active, data: Buffer, info: dgram.RemoteInfo, caller: UdpCaller, ctx: HandlerContext): unknown {
    const svc = a.att.service;
    const codec = a.codec;
    if (codec === undefined) {
      return a.datagrams
        ? svc.onDatagram?.({ remoteHost: info.address, remotePort: info.port, data }, caller, ctx)
        : svc.onBytes?.(data, caller, ctx);
    }
    const call = a.datagrams
      ? (payload: unknown): unknown => svc.onDatagram?.({ remoteHost: info.address, remotePort: info.port, data: payload }, caller, ctx)
      : (payload: unknown): unknown => svc.onBytes?.(payload, caller, ctx);
    const coordinates = { ...this.#coordinates, remoteHost: info.address, remotePort: info.port, size: data.length };
    if (a.schema === undefined) {
      let value: unknown;
      try {
        value = codec.decode(data);
      } catch (e) {
        throw bindingError(e, codec, coordinates);
      }
      return call(value);
    }
    return bind(data, { codec, schema: a.schema, coordinates }).then(call);
  }

  /** Send what a handler returned. Encoding problems throw (a handler failure); send failures go to onError. */
  #reply(a: Active, caller: UdpCaller, r: unknown): void {
    let bytes: Uint8Array;
    let host: string | undefined = caller.remoteHost;
    let port: number | undefined = caller.remotePort;
    let value = r;
    if (isDatagram(r)) {
      host = r.remoteHost;
      port = r.remotePort;
      value = r.data;
    }
    if (value instanceof Uint8Array) bytes = value;
    else if (a.codec !== undefined) bytes = a.codec.encode(value);
    else if (typeof value === "string") bytes = payloadBytes(value);
    else {
      throw new UdpError("INVALID_ARGUMENT", "a udp handler must return bytes, a string, a Datagram or nothing (or set a codec to encode values)");
    }
    const cs = this.#callerSocket as CallerSocket;
    if (cs.connected && !isDatagram(r)) {
      host = undefined;
      port = undefined;
    }
    if (bytes.length <= cs.chunkSize) {
      // The common case without a promise: one datagram, errors to onError.
      this.#sending++;
      sendRaw(cs.socket, bytes, port, host, (e) => {
        this.#sent();
        if (e !== undefined) this.#notify(a.att.service, e, caller);
      });
      return;
    }
    this.#sending++;
    sendChunked(cs.socket, bytes, cs.chunkSize, port, host).then(
      () => this.#sent(),
      (e: unknown) => {
        this.#sent();
        this.#notify(a.att.service, toError(e), caller);
      },
    );
  }

  #sent(): void {
    if (--this.#sending === 0 && this.#sendsDone !== undefined) {
      const done = this.#sendsDone;
      this.#sendsDone = undefined;
      done();
    }
  }

  #settled(b: Batch, active: Active): void {
    if (b.next < b.datas.length) {
      // The datagram at `next` failed (reported to onError) and is skipped; the rest goes on.
      b.next++;
      this.#pending--;
      if (b.next < b.datas.length) queueMicrotask(() => this.#submit(b, active));
    }
  }

  #reportListener(error: Error, caller: UdpCaller | undefined): void {
    const active = this.#active;
    if (active === undefined) {
      this.logger.warn({ err: error }, "udp listener error");
      return;
    }
    this.#notify(active.att.service, error, caller);
  }

  #notify(svc: AnyService, error: Error, caller: UdpCaller | undefined): void {
    if (typeof svc.onError !== "function") {
      this.logger.error({ err: error, coordinates: (error as { coordinates?: unknown }).coordinates }, "unhandled udp error");
      return;
    }
    try {
      const r = svc.onError(error, caller);
      if (isPromiseLike(r)) {
        Promise.resolve(r).catch((e: unknown) => this.logger.error({ err: toError(e), original: error }, "onError threw"));
      }
    } catch (e) {
      this.logger.error({ err: toError(e), original: error }, "onError threw");
    }
  }
}
