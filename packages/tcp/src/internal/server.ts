/**
 * The engine behind `tcp.Listener`: accepting, per-connection state, framing, dispatch,
 * backpressure, idle timeouts and shutdown.
 *
 * Frames are handed to `onBytes` one after the other inside one dispatcher delivery per batch,
 * and a batch's replies are written in one corked write. A batch is what one socket read
 * brought, or several back-to-back full reads (gathered until the end of the poll phase, at most
 * 512 KiB, so that a fast sender costs one delivery per burst, not per 64 KiB). While a batch runs, reading
 * goes on into a queue of at most {@link READ_AHEAD_BYTES}; then the socket is paused until the
 * batch settled. It is also paused while the socket's write buffer is full.
 *
 * @internal
 * @module
 */
import { randomUUID } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import {
  bind,
  json,
  PayloadBindingError,
  PirouetteError,
  toError,
  validateService,
  type Attachment,
  type Codec,
  type Delivery,
  type Dispatcher,
  type DispatcherOptions,
  type HandlerContext,
  type Logger,
  type ServiceSpec,
} from "@pirouette/core";
import { TcpCaller, type CallerConnection } from "../caller.ts";
import { TcpError, type TcpErrorCode } from "../errors.ts";
import type { TcpConnectionService, TcpListenerOptions, TcpService } from "../options.ts";
import { createDecoder, createEncoder, resolveFraming, type FrameDecoder, type FrameEncoder, type ResolvedFraming } from "./framing.ts";
import { SocketWriter } from "./writer.ts";

/** How long a gracefully closed connection may wait for the peer's FIN before it is destroyed. */
export const LINGER_MS = 2000;

/** Bytes read ahead per connection while a batch runs (queued for the next one) before the socket is paused. */
export const READ_AHEAD_BYTES = 256 * 1024;

/** Bytes of back-to-back full reads gathered into one batch (within one poll phase) before it is handed over. */
const GATHER_BYTES = 512 * 1024;

/** A read of this size filled node's read buffer: libuv reads again at once, so the batch waits for the rest. */
const FULL_READ = 64 * 1024;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
type ConnState = typeof CONNECTING | typeof OPEN | typeof CLOSED;

const EMPTY: Buffer[] = [];
const RESOLVED: Promise<void> = Promise.resolve();

function tcpError(code: string, message: string): Error {
  return new TcpError(code as TcpErrorCode, message);
}

/** Methods of the attached service. */
export const serviceSpec: ServiceSpec = {
  protocol: "tcp",
  methods: { onConnect: {}, onBytes: {}, onError: {}, onClose: {} },
  atLeastOneOf: [["onConnect", "onBytes"]],
  error: tcpError,
};

/** Methods of a connection service returned by `onConnect`. */
const connectionSpec: ServiceSpec = {
  protocol: "tcp",
  methods: { onBytes: {}, onError: {}, onClose: {} },
  error: tcpError,
};

interface ConnectMessage {
  readonly kind: "connect";
  readonly conn: Connection;
}

interface BytesMessage {
  readonly kind: "bytes";
  readonly conn: Connection;
  frames: Buffer[];
  /** Index of the next frame to hand to `onBytes` (a retry resumes here). */
  next: number;
}

/** @internal */
export type TcpMessage = ConnectMessage | BytesMessage;

type AnyService = TcpService<unknown>;
type AnyConnectionService = TcpConnectionService<unknown>;
type Schema = NonNullable<ReturnType<Attachment<object, object>["payloadSchema"]>>;

/** What the engine needs from the listener. */
export interface ServerHooks {
  readonly logger: Logger;
  readonly gracefulStopTimeoutMs: number;
  createDispatcher(options: Omit<DispatcherOptions<TcpMessage>, "logger">): Dispatcher<TcpMessage>;
  releaseDispatcher(dispatcher: Dispatcher<TcpMessage>): void;
}

interface Active {
  readonly att: Attachment<AnyService, object>;
  readonly dispatcher: Dispatcher<TcpMessage>;
  readonly schema: Schema | undefined;
  readonly codec: Codec<unknown> | undefined;
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

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? `an object (${(v.constructor as { name?: string } | undefined)?.name ?? "Object"})` : `a ${typeof v}`;
}

class Connection implements CallerConnection {
  readonly id: string = randomUUID();
  readonly socket: net.Socket;
  readonly active: Active;
  readonly writer: SocketWriter;
  readonly caller: TcpCaller;
  readonly decoder: FrameDecoder | undefined;
  readonly coordinates: Readonly<Record<string, unknown>>;
  readonly label: string;
  readonly batch: BytesMessage;
  /** The frames of the batch in the dispatcher; swapped with `queue` (no array per read). */
  frames: Buffer[] = [];
  /** Frames read and not handed over yet (read ahead while a batch runs, or a burst being gathered). */
  queue: Buffer[] = [];
  /** Bytes read into `queue`. */
  queuedBytes = 0;
  /** A setImmediate hands `queue` over at the end of the poll phase. */
  flushScheduled = false;
  readonly bytesDelivery: Delivery<TcpMessage>;
  readonly connectDelivery: Delivery<TcpMessage>;
  readonly closed: Promise<void>;
  service: AnyConnectionService | undefined;
  state: ConnState = CONNECTING;
  /** A delivery of this connection is in the dispatcher. */
  busy = false;
  paused = false;
  waitingDrain = false;
  ending = false;
  /** `close()` was called while a handler ran: end once its batch is settled. */
  endRequested = false;
  closeFired = false;
  connectFailed = false;
  pendingError: Error | undefined;
  lastActivity = performance.now();
  idleTimer: NodeJS.Timeout | undefined;
  #resolveClosed!: () => void;
  readonly #server: TcpServer;

  constructor(server: TcpServer, active: Active, socket: net.Socket, encoder: FrameEncoder, destination: string) {
    this.#server = server;
    this.socket = socket;
    this.active = active;
    this.label = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    this.writer = new SocketWriter(socket, encoder, 0, () => this.label);
    this.caller = new TcpCaller(this);
    this.decoder = server.framing === undefined ? undefined : createDecoder(server.framing, server.maxFrameSize);
    this.coordinates = Object.freeze({
      connectionId: this.id,
      remoteHost: this.caller.remoteHost,
      remotePort: this.caller.remotePort,
      localPort: this.caller.localPort,
    });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.batch = { kind: "bytes", conn: this, frames: EMPTY, next: 0 };
    this.bytesDelivery = {
      message: this.batch,
      destination,
      coordinates: this.coordinates,
      ack: () => server.settled(this),
      reject: () => server.rejected(this),
    };
    this.connectDelivery = {
      message: { kind: "connect", conn: this },
      destination,
      coordinates: this.coordinates,
      ack: (result) => server.connected(this, result),
      reject: () => server.connectRejected(this),
    };
  }

  touch(): void {
    this.lastActivity = performance.now();
  }

  markClosed(): void {
    this.#resolveClosed();
  }

  end(): Promise<void> {
    const s = this.socket;
    if (s.destroyed) return RESOLVED;
    if (this.busy && !this.ending) {
      // From inside a handler: the replies of this batch are written first. Resolving at once
      // lets the handler await close() without waiting for itself.
      this.endRequested = true;
      return RESOLVED;
    }
    if (!this.ending) {
      this.ending = true;
      s.end();
      const timer = setTimeout(() => s.destroy(), LINGER_MS);
      timer.unref();
      void this.closed.then(() => clearTimeout(timer));
      // Read on (discarding) so that the peer's FIN is seen and the socket closes.
      this.#server.flow(this);
    }
    return this.#finished();
  }

  #finished(): Promise<void> {
    const s = this.socket;
    if (s.writableFinished || s.destroyed) return RESOLVED;
    return new Promise((resolve) => {
      s.once("finish", resolve);
      void this.closed.then(resolve);
    });
  }
}

/** @internal */
export class TcpServer {
  readonly framing: ResolvedFraming | undefined;
  readonly maxFrameSize: number;
  readonly #requestedPort: number;
  readonly #o: TcpListenerOptions;
  readonly #hooks: ServerHooks;
  readonly #encoder: FrameEncoder;
  readonly #idleMs: number;
  #server: net.Server | undefined;
  #serverClosed: Promise<void> | undefined;
  #active: Active | undefined;
  #destination = "tcp";
  readonly #conns = new Set<Connection>();
  readonly #pending = new Set<Promise<unknown>>();
  #stopping = false;
  #immediate = false;
  #dropped = 0;

  constructor(port: number, options: TcpListenerOptions, hooks: ServerHooks) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TcpError("INVALID_ARGUMENT", `localPort must be an integer in 0..65535, got ${String(port)}`);
    }
    const idle = options.idleTimeoutMs ?? 0;
    if (!(idle >= 0) || !Number.isFinite(idle)) throw new TcpError("INVALID_ARGUMENT", "idleTimeoutMs must be a finite number >= 0");
    const max = options.maxConnections;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new TcpError("INVALID_ARGUMENT", "maxConnections must be an integer >= 1");
    }
    const f = resolveFraming(options.framing, options.maxFrameSize);
    this.framing = f.framing;
    this.maxFrameSize = f.maxFrameSize;
    this.#encoder = createEncoder(f.framing, f.maxFrameSize);
    this.#requestedPort = port;
    this.#o = options;
    this.#hooks = hooks;
    this.#idleMs = idle;
  }

  get port(): number {
    const a = this.#server?.address();
    return typeof a === "object" && a !== null ? a.port : this.#requestedPort;
  }

  get host(): string | undefined {
    const a = this.#server?.address();
    return typeof a === "object" && a !== null ? a.address : this.#o.localHost;
  }

  get connectionCount(): number {
    return this.#conns.size;
  }

  get dropped(): number {
    return this.#dropped;
  }

  markImmediate(): void {
    this.#immediate = true;
  }

  // -------------------------------------------------------------- lifecycle

  async start(att: Attachment<AnyService, object> | undefined): Promise<void> {
    if (att !== undefined) this.#activate(att);
    const secure = this.#o.secureSocket;
    const server: net.Server =
      secure === undefined
        ? net.createServer({ allowHalfOpen: false })
        : tls.createServer({ ...secure, rejectUnauthorized: secure.rejectUnauthorized ?? true });
    this.#server = server;
    server.on(secure === undefined ? "connection" : "secureConnection", (socket: net.Socket) => this.#accept(socket));
    if (secure !== undefined) {
      server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
        socket.destroy();
        this.#reportListener(
          new TcpError("TCP_TLS", `TLS handshake with ${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"} failed: ${err.message}`, {
            cause: err,
            coordinates: { remoteHost: socket.remoteAddress, remotePort: socket.remotePort },
          }),
        );
      });
    }
    if (this.#o.maxConnections !== undefined) server.maxConnections = this.#o.maxConnections;
    server.on("drop", (data?: net.DropArgument) => {
      this.#dropped++;
      this.#reportListener(
        new TcpError(
          "TCP_CONNECTION_LIMIT",
          `refused a connection from ${data?.remoteAddress ?? "?"}:${data?.remotePort ?? "?"}: maxConnections (${this.#o.maxConnections}) reached`,
          { coordinates: { remoteHost: data?.remoteAddress, remotePort: data?.remotePort } },
        ),
      );
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        reject(
          new TcpError("CONNECTION", `cannot listen on ${this.#o.localHost ?? "*"}:${this.#requestedPort}: ${e.message}`, { cause: e }),
        );
      };
      server.once("error", onError);
      server.listen({ port: this.#requestedPort, host: this.#o.localHost, backlog: this.#o.backlog }, () => {
        server.off("error", onError);
        resolve();
      });
    });
    server.on("error", (e: Error) => this.#reportListener(new TcpError("CONNECTION", `listener error: ${e.message}`, { cause: e })));
    this.#destination = `${this.host ?? "*"}:${this.port}`;
  }

  attach(att: Attachment<AnyService, object>): Promise<void> {
    this.#activate(att);
    return RESOLVED;
  }

  async detach(att: Attachment<AnyService, object>): Promise<void> {
    const active = this.#active;
    if (active === undefined || active.att !== att) return;
    this.#active = undefined;
    const mine = [...this.#conns].filter((c) => c.active === active);
    await active.dispatcher.drain(this.#hooks.gracefulStopTimeoutMs);
    await Promise.all(mine.map((c) => c.end().then(() => c.closed)));
    this.#hooks.releaseDispatcher(active.dispatcher);
  }

  stopIntake(): void {
    this.#stopping = true;
    this.#closeServer();
    for (const c of this.#conns) this.#pause(c);
  }

  async close(): Promise<void> {
    this.#stopping = true;
    this.#closeServer();
    const conns = [...this.#conns];
    if (this.#immediate) {
      for (const c of conns) c.socket.destroy();
      await Promise.all(conns.map((c) => c.closed));
    } else {
      await Promise.all(conns.map((c) => c.end().then(() => c.closed)));
    }
    await this.#serverClosed;
    if (!this.#immediate && this.#pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#pending]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#hooks.gracefulStopTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const active = this.#active;
    if (active !== undefined) this.#hooks.releaseDispatcher(active.dispatcher);
  }

  #closeServer(): void {
    const server = this.#server;
    if (server === undefined || this.#serverClosed !== undefined) return;
    this.#serverClosed = new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
    });
  }

  #activate(att: Attachment<AnyService, object>): void {
    const schema = att.payloadSchema("onBytes");
    const codec = this.#o.codec;
    const dispatcher = this.#hooks.createDispatcher({
      concurrency: this.#o.concurrency ?? 1024,
      maxInFlight: Number.MAX_SAFE_INTEGER,
      retry: this.#o.retry ?? false,
      onHandlerFailure: "skip",
      onBindingFailure: "skip",
      telemetry: { system: "tcp" },
      invoke: (d, ctx) => (d.message.kind === "connect" ? this.#invokeConnect(d.message.conn, ctx) : this.#runFrames(d.message, ctx)),
      reportError: (error, d) => {
        const conn = d.message.conn;
        if (d.message.kind === "connect") {
          conn.connectFailed = true;
          this.#callOnError(att.service, error, conn.caller);
        } else {
          this.report(conn, error);
        }
      },
    });
    // A payload schema without a codec reads (and writes) JSON.
    this.#active = { att, dispatcher, schema, codec: codec ?? (schema === undefined ? undefined : json()) };
  }

  // -------------------------------------------------------------- connections

  #accept(socket: net.Socket): void {
    const active = this.#active;
    if (active === undefined || this.#stopping) {
      socket.on("error", () => undefined);
      socket.destroy();
      if (active === undefined && !this.#stopping) this.#hooks.logger.warn({ remote: socket.remoteAddress }, "no service attached; connection closed");
      return;
    }
    if (this.#o.noDelay !== false) socket.setNoDelay(true);
    if (this.#o.keepAliveMs !== undefined) socket.setKeepAlive(true, this.#o.keepAliveMs);
    const conn = new Connection(this, active, socket, this.#encoder, this.#destination);
    this.#conns.add(conn);
    socket.on("error", (e: Error) => this.#onSocketError(conn, e));
    socket.on("close", () => this.#onSocketClose(conn));
    const svc = active.att.service;
    if (typeof svc.onConnect === "function") {
      void active.dispatcher.submit(conn.connectDelivery);
    } else {
      this.#open(conn, svc);
    }
  }

  #invokeConnect(conn: Connection, ctx: HandlerContext): unknown {
    return conn.active.att.service.onConnect?.(conn.caller, ctx);
  }

  /** Ack of the connect delivery: `result` is what onConnect returned. */
  connected(conn: Connection, result: unknown): void {
    if (conn.connectFailed) {
      // onConnect failed (already reported): the connection is refused.
      conn.socket.destroy();
      return;
    }
    const top = conn.active.att.service;
    let svc: AnyConnectionService = top;
    if (result !== undefined && result !== null) {
      try {
        validateService(result, connectionSpec);
      } catch (e) {
        this.#callOnError(top, toError(e), conn.caller);
        conn.socket.destroy();
        return;
      }
      svc = result;
    }
    this.#open(conn, svc);
  }

  connectRejected(conn: Connection): void {
    conn.socket.destroy();
  }

  #open(conn: Connection, svc: AnyConnectionService): void {
    conn.service = svc;
    if (conn.state === CLOSED) {
      this.#fireClose(conn);
      return;
    }
    conn.state = OPEN;
    conn.touch();
    if (this.#idleMs > 0) conn.idleTimer = setTimeout(this.#checkIdle, this.#idleMs, conn);
    if (this.#stopping) {
      void conn.end();
      return;
    }
    conn.socket.on("data", (chunk: Buffer) => this.#onData(conn, chunk));
  }

  #onData(conn: Connection, chunk: Buffer): void {
    if (conn.state !== OPEN || conn.ending || conn.pendingError !== undefined) return;
    const queue = conn.queue;
    const before = queue.length;
    const decoder = conn.decoder;
    if (decoder === undefined) {
      queue.push(chunk);
    } else {
      const err = decoder.decode(chunk, queue);
      if (err !== undefined) {
        const e = new TcpError(err.code, err.message, { coordinates: { ...conn.coordinates, ...err.coordinates } });
        if (queue.length === 0 || typeof conn.service?.onBytes !== "function") {
          this.#dropQueue(conn);
          this.#fail(conn, e);
          return;
        }
        // The frames before it are handled first; nothing more is read.
        conn.pendingError = e;
        this.#pause(conn);
      }
      if (queue.length === before && conn.pendingError === undefined) return;
    }
    if (this.#idleMs > 0 && queue.length > before) conn.lastActivity = performance.now();
    if (typeof conn.service?.onBytes !== "function") {
      this.#dropQueue(conn);
      return;
    }
    conn.queuedBytes += chunk.length;
    if (conn.busy) {
      // Read ahead; enough: stop reading until the running batch settled.
      if (conn.queuedBytes >= READ_AHEAD_BYTES) this.#pause(conn);
      return;
    }
    if (conn.flushScheduled) {
      // Gathering a burst; enough: hand it over now.
      if (conn.queuedBytes >= GATHER_BYTES) this.#submitQueue(conn);
      return;
    }
    if (chunk.length >= FULL_READ && conn.pendingError === undefined) {
      conn.flushScheduled = true;
      setImmediate(this.#flushQueue, conn);
      return;
    }
    this.#submitQueue(conn);
  }

  readonly #flushQueue = (conn: Connection): void => {
    conn.flushScheduled = false;
    this.#next(conn);
  };

  /** Hand the queued frames to the dispatcher as one batch (the connection is not busy). */
  #submitQueue(conn: Connection): void {
    const frames = conn.queue;
    conn.queue = conn.frames; // the previous batch's array, emptied when it settled
    conn.frames = frames;
    conn.queuedBytes = 0;
    const b = conn.batch;
    b.frames = frames;
    b.next = 0;
    conn.busy = true;
    void conn.active.dispatcher.submit(conn.bytesDelivery);
  }

  #dropQueue(conn: Connection): void {
    conn.queue.length = 0;
    conn.queuedBytes = 0;
  }

  #runFrames(m: BytesMessage, ctx: HandlerContext): Promise<void> | undefined {
    const conn = m.conn;
    const svc = conn.service as AnyConnectionService;
    const frames = m.frames;
    // The replies of the batch go out in one system call: cork at the first one.
    let corked = false;
    try {
      while (m.next < frames.length) {
        const r = this.#callOnBytes(conn, svc, frames[m.next] as Buffer, ctx);
        if (isPromiseLike(r)) return this.#continueFrames(m, ctx, r);
        if (r !== undefined && r !== null) {
          if (!corked) {
            corked = true;
            conn.socket.cork();
          }
          this.#reply(conn, r);
        }
        m.next++;
        if (conn.endRequested) m.next = frames.length; // close() was called: the rest is dropped
      }
      return undefined;
    } finally {
      if (corked) conn.socket.uncork();
    }
  }

  async #continueFrames(m: BytesMessage, ctx: HandlerContext, pending: PromiseLike<unknown>): Promise<void> {
    const r = await pending;
    if (r !== undefined && r !== null) this.#reply(m.conn, r);
    m.next++;
    if (m.conn.endRequested) m.next = m.frames.length;
    const rest = this.#runFrames(m, ctx);
    if (rest !== undefined) await rest;
  }

  #callOnBytes(conn: Connection, svc: AnyConnectionService, frame: Buffer, ctx: HandlerContext): unknown {
    const { codec, schema } = conn.active;
    if (codec === undefined) return svc.onBytes?.(frame, conn.caller, ctx);
    const call = (payload: unknown): unknown => svc.onBytes?.(payload, conn.caller, ctx);
    if (schema === undefined) {
      let value: unknown;
      try {
        value = codec.decode(frame);
      } catch (e) {
        throw bindingError(e, codec, conn.coordinates);
      }
      return call(value);
    }
    return bind(frame, { codec, schema, coordinates: conn.coordinates }).then(call);
  }

  #reply(conn: Connection, r: unknown): void {
    let bytes: Uint8Array;
    const codec = conn.active.codec;
    if (r instanceof Uint8Array) bytes = r;
    else if (codec !== undefined) bytes = codec.encode(r);
    else if (typeof r === "string") bytes = Buffer.from(r, "utf8");
    else {
      throw new TcpError(
        "INVALID_ARGUMENT",
        `onBytes returned ${describe(r)}: return a Uint8Array, a string or nothing (or set a codec to encode values)`,
        { coordinates: conn.coordinates },
      );
    }
    conn.writer.writeDirect(bytes);
  }

  /** Ack of a bytes delivery: every frame was handled, or the failing one was skipped. */
  settled(conn: Connection): void {
    const b = conn.batch;
    if (b.next < b.frames.length) {
      // A frame failed (reported to onError) and is skipped; hand the rest over as a new delivery.
      b.next++;
      if (b.next < b.frames.length && conn.state === OPEN && !conn.ending && !conn.endRequested && !this.#stopping) {
        queueMicrotask(() => void conn.active.dispatcher.submit(conn.bytesDelivery));
        return;
      }
    }
    b.frames.length = 0;
    b.frames = EMPTY;
    b.next = 0;
    conn.busy = false;
    if (this.#idleMs > 0) conn.touch();
    if (conn.endRequested) {
      // close() from a handler: what was read after its batch is dropped.
      conn.endRequested = false;
      this.#dropQueue(conn);
      void conn.end();
    }
    this.#next(conn);
  }

  /** Reject of a bytes delivery: the listener is stopping (or the handler was aborted). */
  rejected(conn: Connection): void {
    const b = conn.batch;
    b.frames.length = 0;
    b.frames = EMPTY;
    b.next = 0;
    conn.busy = false;
    // Stopping: what was read ahead is not handled either.
    this.#dropQueue(conn);
    if (conn.endRequested) {
      conn.endRequested = false;
      void conn.end();
    }
    if (conn.state === CLOSED) this.#fireClose(conn);
    else this.flow(conn);
  }

  #pause(conn: Connection): void {
    if (conn.paused) return;
    conn.paused = true;
    conn.socket.pause();
  }

  /** Go on after a batch (or when the connection ends): the queued frames, then a pending error or close, then reading. */
  flow(conn: Connection): void {
    this.#next(conn);
  }

  #next(conn: Connection): void {
    if (conn.busy || conn.flushScheduled) return;
    if (conn.queue.length > 0) {
      if (conn.ending || this.#stopping) {
        this.#dropQueue(conn);
      } else if (conn.state === OPEN && conn.socket.writableNeedDrain) {
        this.#waitDrain(conn); // the replies so far drain before more frames are handled
        return;
      } else {
        this.#submitQueue(conn); // also after the peer closed: these frames were received
        return;
      }
    }
    if (conn.pendingError !== undefined) {
      this.#fail(conn, conn.pendingError);
      if (conn.state === CLOSED) this.#fireClose(conn);
      return;
    }
    if (conn.state === CLOSED) {
      this.#fireClose(conn);
      return;
    }
    const s = conn.socket;
    if (!conn.ending) {
      if (this.#stopping || conn.state !== OPEN) return;
      if (s.writableNeedDrain) {
        this.#waitDrain(conn);
        return;
      }
    }
    if (conn.paused) {
      conn.paused = false;
      s.resume();
    }
  }

  #waitDrain(conn: Connection): void {
    this.#pause(conn);
    if (conn.waitingDrain) return;
    conn.waitingDrain = true;
    conn.socket.once("drain", () => {
      conn.waitingDrain = false;
      this.#next(conn);
    });
  }

  readonly #checkIdle = (conn: Connection): void => {
    conn.idleTimer = undefined;
    if (conn.state !== OPEN || conn.ending) return;
    const idleMs = this.#idleMs;
    const elapsed = performance.now() - conn.lastActivity;
    if (conn.busy || elapsed < idleMs) {
      conn.idleTimer = setTimeout(this.#checkIdle, conn.busy ? idleMs : Math.max(1, Math.ceil(idleMs - elapsed)), conn);
      return;
    }
    this.#fail(
      conn,
      new TcpError("TCP_IDLE_TIMEOUT", `connection ${conn.label} closed: no complete frame and no write for ${idleMs} ms`, {
        coordinates: conn.coordinates,
      }),
    );
  };

  /** Report `error` and close the connection at once. */
  #fail(conn: Connection, error: Error): void {
    conn.pendingError = undefined;
    this.report(conn, error);
    conn.writer.flushCork(); // what was written before the failure is sent
    conn.socket.destroy();
  }

  #onSocketError(conn: Connection, e: Error): void {
    const code = (e as NodeJS.ErrnoException).code;
    this.report(
      conn,
      new TcpError("CONNECTION", `connection ${conn.label}: ${e.message}`, {
        cause: e,
        coordinates: code === undefined ? conn.coordinates : { ...conn.coordinates, errno: code },
      }),
    );
  }

  #onSocketClose(conn: Connection): void {
    if (conn.state === CLOSED) return;
    conn.state = CLOSED;
    clearTimeout(conn.idleTimer);
    this.#conns.delete(conn);
    conn.markClosed();
    if (conn.service === undefined) return; // onConnect pending (connected() fires onClose) or refused
    if (this.#immediate) {
      this.#dropQueue(conn);
      this.#fireClose(conn);
      return;
    }
    // The frames received before the close are handled first (settled() goes on), then onClose.
    this.#next(conn);
  }

  #fireClose(conn: Connection): void {
    if (conn.closeFired) return;
    conn.closeFired = true;
    const svc = conn.service;
    if (svc === undefined || typeof svc.onClose !== "function") return;
    this.#callUser(() => svc.onClose?.(conn.caller), "onClose threw");
  }

  /** Route a connection's error to its service's onError (else the attached service's, else the log). */
  report(conn: Connection, error: Error): void {
    const svc = conn.service;
    if (svc !== undefined && typeof svc.onError === "function") {
      this.#callOnError(svc, error, conn.caller);
      return;
    }
    this.#callOnError(conn.active.att.service, error, conn.caller);
  }

  #reportListener(error: Error): void {
    const active = this.#active;
    if (active === undefined) {
      this.#hooks.logger.warn({ err: error }, "tcp listener error");
      return;
    }
    this.#callOnError(active.att.service, error, undefined);
  }

  #callOnError(svc: AnyConnectionService, error: Error, caller: TcpCaller | undefined): void {
    if (typeof svc.onError !== "function") {
      this.#hooks.logger.error({ err: error, coordinates: (error as { coordinates?: unknown }).coordinates }, "unhandled tcp error");
      return;
    }
    this.#callUser(() => svc.onError?.(error, caller as TcpCaller), "onError threw", error);
  }

  /** Run a user callback: never throws, and a returned promise is tracked until it settles. */
  #callUser(fn: () => unknown, what: string, original?: Error): void {
    let r: unknown;
    try {
      r = fn();
    } catch (e) {
      this.#hooks.logger.error({ err: toError(e), original }, what);
      return;
    }
    if (!isPromiseLike(r)) return;
    const p = Promise.resolve(r).then(
      () => undefined,
      (e: unknown) => this.#hooks.logger.error({ err: toError(e), original }, what),
    );
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }
}
