/**
 * `nats.Listener`: core NATS subscriptions (subjects with wildcards, queue groups) and
 * JetStream durable consumers (ack, nak with delay, term, max deliveries, dead-lettering)
 * under the listener/service model.
 *
 * @module
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages } from "@nats-io/jetstream";
import {
  AbstractListener,
  bind,
  createServiceConfigDecorator,
  deadLetterHeaders,
  defaultRetryPolicy,
  isStandardSchema,
  json,
  toError,
  type AckOutcome,
  type Attachment,
  type Codec,
  type DeadLetterTarget,
  type Delivery,
  type Dispatcher,
  type HandlerContext,
  type HeaderValue,
  type RetryPolicy,
  type ServiceSpec,
} from "@pirouette/core";
import { Caller, Settlement, type CallerContext } from "./caller.ts";
import { NatsError, type NatsErrorCode } from "./errors.ts";
import { backoffDelay, Connection, resolveConnectionParams, toNatsError } from "./internal/connection.ts";
import { encodeData, fromJsMsg, fromMsg, toNatsHeaders, traceHeaders } from "./internal/message.ts";
import { checkSubject } from "./internal/subject.ts";
import type { DeadLetterOptions, Headers, JetStreamServiceConfig, Message, NatsListenerOptions, NatsServiceConfig } from "./options.ts";

/**
 * The service shape. Exactly one of `onMessage` and `onRequest`:
 *
 * - `onMessage(payload | message, caller, context)`: handle a message; a thrown error means
 *   the handling failed (core NATS: retried in-process, then dead-lettered or skipped;
 *   JetStream: nak'ed with a delay and redelivered by the server, up to `maxDeliver`).
 * - `onRequest(payload | message, caller, context)`: its return value is the reply, published
 *   to the request's reply subject. A failure is answered with a `Nats-Service-Error` reply, so
 *   the requester does not wait for its timeout.
 *
 * `onError(message, error)` (Ballerina's order) hears about binding failures, handler failures
 * after retries, and errors not tied to a message (`message` undefined: connection lost, slow
 * consumer, a missing JetStream consumer).
 *
 * @example
 * ```ts
 * const prices: nats.Service = {
 *   onRequest: (q: { sku: string }) => ({ sku: q.sku, cents: lookup(q.sku) }),
 *   onError: (msg, err) => log.warn({ subject: msg?.subject, err }),
 * };
 * ```
 */
export interface Service {
  onMessage?(payload: never, caller: Caller, context: HandlerContext): unknown;
  onRequest?(payload: never, caller: Caller, context: HandlerContext): unknown;
  onError?(message: Message<unknown> | undefined, error: Error): unknown;
}

const spec: ServiceSpec = {
  protocol: "nats",
  methods: { onMessage: {}, onRequest: {}, onError: {} },
  exactlyOneOf: [["onMessage", "onRequest"]],
  error: (code, message) => new NatsError(code as NatsErrorCode, message),
};

/**
 * `@nats.ServiceConfig({ subject, queueName, pendingLimits, mode, jetstream })`: Ballerina's
 * `@nats:ServiceConfig`. Every field can also be passed to `listener.attach(service, { … })`.
 *
 * @example
 * ```ts
 * @nats.ServiceConfig({ subject: "orders.*", queueName: "billing" })
 * class Billing {
 *   @payload(Order)
 *   async onMessage(order: Order) { await bill(order); }
 * }
 * ```
 */
export const ServiceConfig = createServiceConfigDecorator<NatsServiceConfig>();

interface ResolvedConfig extends NatsServiceConfig {
  readonly subject: string;
  readonly maxPendingMessages: number;
  readonly maxPendingBytes: number;
}

/** What a delivery needs from its listener (one per service, not per message). */
interface RouteOps {
  ack(d: Inbound, result: unknown, outcome: AckOutcome): void;
  reject(d: Inbound, error: Error): void;
  respond(message: Message, data: unknown, headers: Headers | undefined): void;
}

/** Core messages have nothing to settle: one shared, inert settlement. */
const CORE_SETTLEMENT = new Settlement(undefined);

/**
 * A message delivered to one service: the dispatcher's {@link Delivery} and the context of its
 * {@link Caller}. A class (no closures per message): this is the hot path.
 */
class Inbound implements Delivery<Message>, CallerContext {
  readonly message: Message;
  readonly key: string | undefined;
  readonly destination: string;
  readonly coordinates: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, HeaderValue>> | undefined;
  readonly settlement: Settlement;
  readonly size: number;
  readonly acceptedAt: number;
  readonly ops: RouteOps;
  readonly caller: Caller;
  done = false;

  constructor(message: Message, key: string | undefined, coordinates: Readonly<Record<string, unknown>>, settlement: Settlement, size: number, ops: RouteOps) {
    this.message = message;
    this.key = key;
    this.destination = message.subject;
    this.coordinates = coordinates;
    this.headers = message.headers === undefined ? undefined : traceHeaders(message);
    this.settlement = settlement;
    this.size = size;
    this.acceptedAt = settlement.js === undefined ? 0 : Date.now();
    this.ops = ops;
    this.caller = new Caller(this);
  }

  ack(result: unknown, outcome: AckOutcome): void {
    this.ops.ack(this, result, outcome);
  }

  reject(error: Error): void {
    this.ops.reject(this, error);
  }

  respond(data: unknown, headers: Headers | undefined): void {
    this.ops.respond(this.message, data, headers);
  }
}

interface Route {
  readonly att: Attachment<object, ResolvedConfig>;
  readonly cfg: ResolvedConfig;
  readonly dispatcher: Dispatcher<Message>;
  readonly isRequest: boolean;
  sub: Subscription | undefined;
  messages: ConsumerMessages | undefined;
  loop: Promise<void> | undefined;
  readonly inflight: Set<Inbound>;
  readonly ops: RouteOps;
  /** JetStream: the delivery whose failure is final. */
  maxDeliver: number;
  pendingBytes: number;
  dropped: number;
  stopped: boolean;
  heartbeat: NodeJS.Timeout | undefined;
}

const SERVICE_ERROR = "Nats-Service-Error";
const SERVICE_ERROR_CODE = "Nats-Service-Error-Code";
const DELIVER_POLICIES = { all: DeliverPolicy.All, new: DeliverPolicy.New, last: DeliverPolicy.Last, last_per_subject: DeliverPolicy.LastPerSubject };

function isDeadLetterTarget(x: unknown): x is DeadLetterTarget<Message> {
  return typeof x === "object" && x !== null && typeof (x as { send?: unknown }).send === "function";
}

function isBindingFailure(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "PAYLOAD_BINDING" || code === "PAYLOAD_VALIDATION";
}

/**
 * A NATS listener: `new nats.Listener(url?, options?)`. Each attached service subscribes to its
 * subject (the attach name or `ServiceConfig({ subject })`), optionally in a queue group, or
 * consumes a JetStream durable consumer.
 *
 * - **Core NATS** is at most once: a message is gone if no subscriber is there. A failing
 *   handler is retried in-process (`retry`), then dead-lettered or given to `onError`.
 * - **JetStream** is at least once: a message is acked after its handler succeeded; a failure
 *   naks it with a growing delay and the server redelivers it; on the `maxDeliver`-th delivery a
 *   failure dead-letters and terminates it. Long handlers keep their ack timer alive.
 * - **Recovery**: lost connections are re-established with capped exponential backoff and
 *   jitter; nats.js restores subscriptions, the JetStream consumer resumes pulling.
 *
 * @example
 * ```ts
 * const listener = new nats.Listener("nats://localhost:4222");
 * await listener.attach({ onRequest: (q: Quote) => price(q) }, { name: "prices.get", queueName: "pricing" });
 * await listener.start();
 * ```
 */
export class NatsListener extends AbstractListener<object, ResolvedConfig> {
  protected readonly spec = spec;
  readonly #o: NatsListenerOptions;
  readonly #conn: Connection;
  readonly #codec: Codec<unknown>;
  readonly #concurrency: number;
  readonly #maxInFlight: number;
  readonly #routes = new Map<object, Route>();
  #stopping = false;

  constructor(url?: string | readonly string[], options: NatsListenerOptions = {}) {
    super({ ...options, protocol: "nats" });
    this.#o = options;
    this.#codec = options.codec ?? json();
    this.#concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) throw new NatsError("NATS_INVALID_CONFIG", "concurrency must be an integer >= 1");
    this.#maxInFlight = options.maxInFlight ?? Math.max(16, 2 * this.#concurrency);
    if (!Number.isInteger(this.#maxInFlight) || this.#maxInFlight < this.#concurrency) {
      throw new NatsError("NATS_INVALID_CONFIG", "maxInFlight must be an integer >= concurrency");
    }
    const dl = options.deadLetter;
    if (dl !== undefined && dl !== false && !isDeadLetterTarget(dl)) {
      if (typeof dl.subject === "string") checkSubject(dl.subject, false, "dead-letter subject");
      else if (typeof dl.subject !== "function") throw new NatsError("NATS_INVALID_CONFIG", "deadLetter.subject must be a subject or a function");
    }
    this.#conn = new Connection(resolveConnectionParams(url, options), this.logger, {
      onDisconnect: (err) => this.#broadcast(err),
      onServerError: (err) => this.#broadcast(err),
      onFatal: (err) => {
        this.#stopping = true;
        this.#broadcast(err);
      },
    });
  }

  /** Whether the connection is up. */
  get isConnected(): boolean {
    return this.#conn.connected;
  }

  /** Reconnections so far. */
  get reconnects(): number {
    return this.#conn.reconnects;
  }

  protected override validateConfig(config: ResolvedConfig, name: string | readonly string[] | undefined): ResolvedConfig {
    const subject = config.subject ?? (typeof name === "string" ? name : undefined);
    if (subject === undefined) {
      throw new NatsError("NATS_MISSING_SUBJECT", "a nats service needs a subject: ServiceConfig({ subject }) or the attach name (a string)");
    }
    checkSubject(subject, true);
    if (config.queueName !== undefined && (typeof config.queueName !== "string" || !/^[^\s]+$/.test(config.queueName))) {
      throw new NatsError("NATS_INVALID_CONFIG", "queueName must be a non-empty string without whitespace");
    }
    if (config.mode !== undefined && config.mode !== "payload" && config.mode !== "message") {
      throw new NatsError("NATS_INVALID_CONFIG", 'mode must be "payload" or "message"');
    }
    const maxPendingMessages = config.pendingLimits?.maxMessages ?? 65_536;
    const maxPendingBytes = config.pendingLimits?.maxBytes ?? 64 * 1024 * 1024;
    if (!(maxPendingMessages >= 1) || !(maxPendingBytes >= 1)) throw new NatsError("NATS_INVALID_CONFIG", "pendingLimits must be >= 1");
    const js = config.jetstream;
    if (js !== undefined) {
      if (typeof js.stream !== "string" || js.stream.length === 0 || typeof js.durable !== "string" || js.durable.length === 0) {
        throw new NatsError("NATS_INVALID_CONFIG", "jetstream needs { stream, durable }");
      }
      if (/[\s.*>]/.test(js.stream) || /[\s.*>]/.test(js.durable)) {
        throw new NatsError("NATS_INVALID_CONFIG", "jetstream stream and durable names cannot contain whitespace, '.', '*' or '>'");
      }
      if (js.maxDeliver !== undefined && !(Number.isInteger(js.maxDeliver) && js.maxDeliver >= 1)) {
        throw new NatsError("NATS_INVALID_CONFIG", "jetstream.maxDeliver must be an integer >= 1");
      }
      if (js.ackWait !== undefined && !(js.ackWait > 0)) throw new NatsError("NATS_INVALID_CONFIG", "jetstream.ackWait must be > 0 seconds");
      if (js.deliverPolicy !== undefined && !(js.deliverPolicy in DELIVER_POLICIES)) {
        throw new NatsError("NATS_INVALID_CONFIG", 'jetstream.deliverPolicy must be "all", "new", "last" or "last_per_subject"');
      }
      if (config.queueName !== undefined) {
        throw new NatsError("NATS_INVALID_CONFIG", "a JetStream service shares its durable consumer instead of a queue group: drop queueName");
      }
    }
    return { ...config, subject, maxPendingMessages, maxPendingBytes };
  }

  protected async onStart(attachments: Attachment<object, ResolvedConfig>[]): Promise<void> {
    await this.#conn.open();
    for (const att of attachments) await this.onAttach(att);
  }

  protected override async onAttach(att: Attachment<object, ResolvedConfig>): Promise<void> {
    const nc = await this.#conn.open();
    if (att.config.jetstream !== undefined && att.has("onRequest")) {
      throw new NatsError("NATS_INVALID_CONFIG", "JetStream messages have no reply subject: use onMessage for a JetStream service");
    }
    const route = this.#route(att);
    this.#routes.set(att.service, route);
    try {
      if (att.config.jetstream === undefined) {
        this.#subscribe(nc, route);
        // Once attach (or start) resolves, the server has the subscription.
        await nc.flush();
      } else {
        await this.#consume(nc, route, att.config.jetstream);
      }
    } catch (e) {
      this.#routes.delete(att.service);
      this.releaseDispatcher(route.dispatcher);
      throw toNatsError(e, `cannot ${att.config.jetstream === undefined ? "subscribe to" : "consume"} "${att.config.subject}"`, "NATS_JETSTREAM");
    }
  }

  protected override async onDetach(att: Attachment<object, ResolvedConfig>): Promise<void> {
    const route = this.#routes.get(att.service);
    if (route === undefined) return;
    this.#routes.delete(att.service);
    await this.#stopRoute(route);
    const drained = await route.dispatcher.drain(this.gracefulStopTimeoutMs);
    if (!drained) route.dispatcher.abortAll();
    clearInterval(route.heartbeat);
    this.releaseDispatcher(route.dispatcher);
  }

  protected async stopIntake(): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#routes.values()].map((r) => this.#stopRoute(r)));
  }

  protected async onClose(): Promise<void> {
    this.#stopping = true;
    for (const r of this.#routes.values()) {
      clearInterval(r.heartbeat);
      r.stopped = true;
    }
    await this.#conn.close();
    for (const r of this.#routes.values()) this.releaseDispatcher(r.dispatcher);
    this.#routes.clear();
  }

  async #stopRoute(r: Route): Promise<void> {
    if (r.stopped) return;
    r.stopped = true;
    try {
      r.sub?.unsubscribe();
      await r.messages?.close();
    } catch (e) {
      this.logger.debug({ err: toError(e) }, "stopping a nats subscription failed");
    }
  }

  // ---------------------------------------------------------------- dispatch

  #route(att: Attachment<object, ResolvedConfig>): Route {
    const o = this.#o;
    const cfg = att.config;
    const isRequest = att.has("onRequest");
    const method = isRequest ? "onRequest" : "onMessage";
    const fn = (att.service as Record<string, (...a: unknown[]) => unknown>)[method] as (...a: unknown[]) => unknown;
    const schema = att.payloadSchema(method);
    if (schema !== undefined && !isStandardSchema(schema)) throw new NatsError("NATS_INVALID_CONFIG", "the payload schema is not a Standard Schema");
    const payloadMode = cfg.mode === undefined ? schema !== undefined : cfg.mode === "payload";
    const codec = this.#codec;
    const js = cfg.jetstream !== undefined;
    const retry: RetryPolicy | false = o.retry ?? {};
    const call = (d: Inbound, ctx: HandlerContext): unknown => {
      if (!payloadMode && schema === undefined) return fn.call(att.service, d.message, d.caller, ctx);
      return bind(d.message.content, { codec, ...(schema === undefined ? {} : { schema }), coordinates: d.coordinates }).then((value) =>
        fn.call(att.service, payloadMode ? value : { ...d.message, content: value }, d.caller, ctx),
      );
    };
    const route: Route = {
      att,
      cfg,
      isRequest,
      dispatcher: undefined as unknown as Dispatcher<Message>,
      sub: undefined,
      messages: undefined,
      loop: undefined,
      inflight: new Set(),
      ops: {
        ack: (d, result, outcome) => this.#ack(route, d, result, outcome),
        reject: (d, error) => this.#reject(route, d, error),
        respond: (message, data, headers) => this.#respond(message, data, headers),
      },
      maxDeliver: cfg.jetstream?.maxDeliver ?? 5,
      pendingBytes: 0,
      dropped: 0,
      stopped: false,
      heartbeat: undefined,
    };
    const invoke = js ? (d: Delivery<Message>, ctx: HandlerContext) => this.#invokeJetStream(route, d as Inbound, ctx, call) : (d: Delivery<Message>, ctx: HandlerContext) => call(d as Inbound, ctx);
    (route as { dispatcher: Dispatcher<Message> }).dispatcher = this.createDispatcher<Message>({
      concurrency: this.#concurrency,
      maxInFlight: this.#maxInFlight,
      // JetStream: the server redelivers (nak with delay); no in-process retries.
      retry: js ? false : retry,
      deadLetter: this.#deadLetterTarget(js),
      ...(o.onHandlerFailure === undefined ? {} : { onHandlerFailure: o.onHandlerFailure }),
      ...(o.onBindingFailure === undefined ? {} : { onBindingFailure: o.onBindingFailure }),
      telemetry: { system: "nats", ...(cfg.queueName === undefined ? {} : { consumerGroup: cfg.queueName }) },
      invoke,
      reportError: (error, d) => this.#report(att, d.message, error),
      onStop: (error) => {
        this.logger.error({ err: error, subject: cfg.subject }, "nats service stopped after a failure (onHandlerFailure: stop)");
        route.dispatcher.close();
        void this.#stopRoute(route);
      },
    });
    return route;
  }

  /** JetStream: a failure before the last delivery naks with a delay; the server redelivers. */
  #invokeJetStream(route: Route, d: Inbound, ctx: HandlerContext, call: (d: Inbound, ctx: HandlerContext) => unknown): unknown {
    const info = d.message.jetstream;
    const maxDeliver = route.maxDeliver;
    if (info === undefined || info.deliveryCount >= maxDeliver) return call(d, ctx);
    const policy = { ...defaultRetryPolicy, ...(this.#o.retry === false ? {} : this.#o.retry) };
    const onFailure = (e: unknown): unknown => {
      if (isBindingFailure(e) || !policy.retryOn(e) || ctx.signal.aborted) throw e;
      const delay = backoffDelay(
        { initialDelayMs: policy.initialDelayMs, maxDelayMs: policy.maxDelayMs, multiplier: policy.multiplier, jitter: policy.jitter ? 0.5 : 0 },
        info.deliveryCount,
      );
      if (d.settlement.nak(delay)) {
        ctx.logger.warn({ err: toError(e), deliveryCount: info.deliveryCount, maxDeliver, delayMs: delay }, "handler failed; nak'ed for redelivery");
      }
      return undefined;
    };
    try {
      const r = call(d, ctx);
      return r instanceof Promise ? r.catch(onFailure) : r;
    } catch (e) {
      return onFailure(e);
    }
  }

  #subscribe(nc: NatsConnection, route: Route): void {
    const cfg = route.cfg;
    route.sub = nc.subscribe(cfg.subject, {
      ...(cfg.queueName === undefined ? {} : { queue: cfg.queueName }),
      callback: (err, msg) => {
        if (err !== null) {
          void this.#report(route.att, undefined, toNatsError(err, `the subscription to "${cfg.subject}" failed`));
          return;
        }
        this.#intakeCore(route, msg);
      },
    });
  }

  #intakeCore(route: Route, msg: Msg): void {
    if (route.stopped || this.#stopping) return;
    const size = msg.data.length;
    const d = route.dispatcher;
    if (d.inFlight >= this.#maxInFlight + route.cfg.maxPendingMessages || route.pendingBytes + size > route.cfg.maxPendingBytes) {
      if (route.dropped++ === 0) {
        const err = new NatsError(
          "NATS_SLOW_CONSUMER",
          `the service on "${route.cfg.subject}" is behind its pending limits (${route.cfg.maxPendingMessages} messages / ${route.cfg.maxPendingBytes} bytes): messages are dropped`,
          { coordinates: { subject: msg.subject } },
        );
        this.logger.error({ err }, "nats slow consumer");
        void this.#report(route.att, undefined, err);
      }
      return;
    }
    if (route.dropped > 0 && d.inFlight === 0) route.dropped = 0;
    const message = fromMsg(msg);
    void d.submit(this.#delivery(route, message, CORE_SETTLEMENT, size));
  }

  async #consume(nc: NatsConnection, route: Route, cfg: JetStreamServiceConfig): Promise<void> {
    const jsm = await jetstreamManager(nc);
    let info = await jsm.consumers.info(cfg.stream, cfg.durable).catch((e: unknown) => {
      if ((e as { code?: unknown }).code === 10014 && cfg.declare !== false) return undefined;
      throw e;
    });
    if (info === undefined) {
      info = await jsm.consumers.add(cfg.stream, {
        durable_name: cfg.durable,
        ack_policy: AckPolicy.Explicit,
        filter_subject: route.cfg.subject,
        ack_wait: (cfg.ackWait ?? 30) * 1e9,
        max_deliver: cfg.maxDeliver ?? 5,
        max_ack_pending: cfg.maxAckPending ?? this.#maxInFlight,
        deliver_policy: DELIVER_POLICIES[cfg.deliverPolicy ?? "all"],
      });
      this.logger.info({ stream: cfg.stream, durable: cfg.durable }, "jetstream consumer created");
    }
    const serverMax = info.config.max_deliver;
    route.maxDeliver = serverMax !== undefined && serverMax > 0 ? serverMax : (cfg.maxDeliver ?? 5);
    const ackWaitMs = (info.config.ack_wait ?? 30e9) / 1e6;
    const consumer = await jetstream(nc).consumers.get(cfg.stream, cfg.durable);
    const messages = await consumer.consume({ max_messages: this.#maxInFlight });
    route.messages = messages;
    // Keep the ack timer of slow handlers (and of pulled messages waiting for one) alive.
    route.heartbeat = setInterval(() => {
      const now = Date.now();
      for (const d of route.inflight) if (now - d.acceptedAt > ackWaitMs / 3 && d.settlement.open) d.settlement.js?.working();
    }, Math.max(250, ackWaitMs / 3));
    route.heartbeat.unref();
    void (async () => {
      for await (const s of messages.status()) {
        if (s.type === "consumer_deleted" || s.type === "consumer_not_found" || s.type === "stream_not_found") {
          const err = new NatsError("NATS_JETSTREAM", `the JetStream consumer ${cfg.stream}/${cfg.durable}: ${s.type.replace(/_/g, " ")}`, {
            coordinates: { stream: cfg.stream, durable: cfg.durable },
          });
          this.logger.error({ err }, "jetstream consumer problem");
          void this.#report(route.att, undefined, err);
        } else if (s.type === "heartbeats_missed") {
          this.logger.warn({ stream: cfg.stream, durable: cfg.durable, count: s.count }, "jetstream heartbeats missed");
        }
      }
    })().catch((e: unknown) => this.logger.debug({ err: toError(e) }, "jetstream status ended"));
    route.loop = (async () => {
      for await (const m of messages) {
        if (route.stopped) break; // unacked: the server redelivers it after ack_wait
        await route.dispatcher.submit(this.#delivery(route, fromJsMsg(m), new Settlement(m), m.data.length));
      }
    })().catch((e: unknown) => {
      const err = toNatsError(e, `consuming ${cfg.stream}/${cfg.durable} failed`, "NATS_JETSTREAM");
      this.logger.error({ err }, "jetstream consume loop failed");
      void this.#report(route.att, undefined, err);
    });
  }

  #delivery(route: Route, message: Message, settlement: Settlement, size: number): Inbound {
    const orderBy = this.#o.orderBy;
    const key = orderBy === undefined ? undefined : orderBy === "subject" ? message.subject : orderBy(message);
    const js = message.jetstream;
    const queue = route.cfg.queueName;
    const coordinates =
      js !== undefined
        ? { subject: message.subject, stream: js.stream, consumer: js.consumer, streamSequence: js.streamSequence, deliveryCount: js.deliveryCount }
        : queue === undefined
          ? { subject: message.subject }
          : { subject: message.subject, queue };
    const d = new Inbound(message, key, coordinates, settlement, size, route.ops);
    route.pendingBytes += size;
    if (js !== undefined) route.inflight.add(d);
    return d;
  }

  #finish(route: Route, d: Inbound): boolean {
    if (d.done) return false;
    d.done = true;
    route.pendingBytes -= d.size;
    route.inflight.delete(d);
    return true;
  }

  #ack(route: Route, d: Inbound, result: unknown, outcome: AckOutcome): void {
    if (!this.#finish(route, d)) return;
    const failed = outcome.kind === "succeeded" ? undefined : outcome.error;
    const s = d.settlement;
    if (s.js !== undefined) {
      if (!s.open) return; // the handler (or a nak for redelivery) settled it
      // Skipped or dead-lettered: terminate, so that the server does not redeliver it.
      if (failed === undefined) s.ack();
      else s.term(`pirouette: ${failed.message}`.slice(0, 256));
      return;
    }
    if (!route.isRequest || !d.caller.canAutoRespond) {
      if (route.isRequest && result !== undefined && d.message.replyTo === undefined) {
        this.logger.debug({ subject: d.message.subject }, "onRequest returned a reply but the message has no reply subject; dropped");
      }
      return;
    }
    if (failed !== undefined) {
      this.#respondError(d.message, failed, isBindingFailure(failed) ? 400 : 500);
      return;
    }
    this.#respond(d.message, result, undefined);
  }

  #reject(route: Route, d: Inbound, error: Error): void {
    if (!this.#finish(route, d)) return;
    const s = d.settlement;
    if (s.js !== undefined) {
      s.nak(); // left for redelivery (stopping, or dead-lettering failed)
      return;
    }
    if (route.isRequest && d.caller.canAutoRespond) this.#respondError(d.message, error, 503);
  }

  #respond(request: Message, data: unknown, headers: Headers | undefined): void {
    const nc = this.#conn.nc;
    const replyTo = request.replyTo;
    if (nc === undefined || replyTo === undefined) return;
    const { data: bytes } = encodeData(data, this.#codec);
    const h = toNatsHeaders(headers);
    try {
      nc.publish(replyTo, bytes, h === undefined ? undefined : { headers: h });
    } catch (e) {
      throw toNatsError(e, `replying to "${request.subject}" failed`, "NATS_CONNECTION", { subject: request.subject });
    }
  }

  /** A reply that tells the requester the handling failed (NATS micro convention). */
  #respondError(request: Message, error: Error, code: number): void {
    try {
      this.#respond(request, undefined, { [SERVICE_ERROR]: error.message.slice(0, 1024).replace(/[\r\n]+/g, " "), [SERVICE_ERROR_CODE]: String(code) });
    } catch (e) {
      this.logger.warn({ err: toError(e) }, "sending the error reply failed");
    }
  }

  #deadLetterTarget(jetstreamService: boolean): DeadLetterTarget<Message> | undefined {
    const dl = this.#o.deadLetter;
    if (dl === undefined || dl === false) return undefined;
    if (isDeadLetterTarget(dl)) return dl;
    const o: DeadLetterOptions = dl;
    const useJs = o.jetstream ?? jetstreamService;
    return {
      send: async (rec) => {
        const nc = await this.#conn.open();
        const m = rec.message;
        const subject = typeof o.subject === "string" ? o.subject : checkSubject(o.subject(m), false, "dead-letter subject");
        // JetStream: the attempts are the server's deliveries.
        const attempts = m.jetstream?.deliveryCount ?? rec.attempts;
        const h = toNatsHeaders({ ...m.headers, ...deadLetterHeaders({ ...rec, attempts }) });
        if (useJs) {
          await jetstream(nc).publish(subject, m.content, h === undefined ? {} : { headers: h });
        } else {
          nc.publish(subject, m.content, h === undefined ? undefined : { headers: h });
          await nc.flush();
        }
      },
    };
  }

  async #report(att: Attachment<object, ResolvedConfig>, message: Message | undefined, error: Error): Promise<void> {
    const fn = (att.service as Record<string, unknown>)["onError"];
    if (typeof fn !== "function") {
      this.logger.error({ err: error, coordinates: (error as { coordinates?: unknown }).coordinates }, "unhandled nats service error");
      return;
    }
    try {
      await (fn as (m: Message | undefined, e: Error) => unknown).call(att.service, message, error);
    } catch (e) {
      this.logger.error({ err: toError(e), original: error }, "onError threw");
    }
  }

  #broadcast(err: NatsError): void {
    for (const r of this.#routes.values()) void this.#report(r.att, undefined, err);
  }
}
