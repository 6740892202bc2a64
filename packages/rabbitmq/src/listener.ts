/**
 * `rabbitmq.Listener`: Ballerina's `rabbitmq:Listener` on amqplib, with at-least-once
 * delivery, retries, dead-lettering and connection recovery.
 *
 * @module
 */
import type { Message as AmqpMessage } from "amqplib";
import {
  AbstractListener,
  bind,
  createServiceConfigDecorator,
  deadLetterHeaders,
  defaultRetryPolicy,
  json,
  toError,
  type Attachment,
  type Codec,
  type DeadLetterTarget,
  type Delivery,
  type Dispatcher,
  type DispatcherOptions,
  type HandlerContext,
  type RetryPolicy,
  type ServiceSpec,
} from "@pirouette/core";
import { Caller } from "./caller.ts";
import { RabbitMqError, type RabbitMqErrorCode } from "./errors.ts";
import { toRabbitMqError } from "./internal/amqp-errors.ts";
import { Connection, ManagedChannel, type Generation } from "./internal/connection.ts";
import { encodeContent, publishOptions, toMessage, traceHeaders } from "./internal/message.ts";
import { connectionParams } from "./internal/params.ts";
import { Publisher } from "./internal/publisher.ts";
import { deferAck, isSettled, settle, type Origin } from "./internal/settle.ts";
import type {
  DeadLetterOptions,
  Message,
  QosSettings,
  QueueBinding,
  QueueConfig,
  RabbitMqListenerOptions,
  RabbitMqServiceConfig,
} from "./options.ts";

/**
 * The service shape. Exactly one of `onMessage` and `onRequest`:
 *
 * - `onMessage(payload | message, caller, context)`: handle a message; a thrown error means
 *   the handling failed (retried, then dead-lettered).
 * - `onRequest(payload | message, caller, context)`: its return value is published to the
 *   request's `replyTo` (through the default exchange) with the `correlationId` copied.
 *
 * `onError(message, error)` hears about binding failures, handler failures (after retries) and
 * errors not tied to a message (`message` is then `undefined`: a consumer the broker cancelled,
 * a channel that cannot be reopened, a connection lost for good).
 *
 * @example
 * ```ts
 * const svc: rabbitmq.Service = {
 *   onMessage: (order: Order) => save(order),
 *   onError: (msg, err) => log.warn({ tag: msg?.deliveryTag, err }),
 * };
 * ```
 */
export interface Service {
  onMessage?(payload: never, caller: Caller, context: HandlerContext): unknown;
  onRequest?(payload: never, caller: Caller, context: HandlerContext): unknown;
  onError?(message: Message | undefined, error: Error): unknown;
}

const spec: ServiceSpec = {
  protocol: "rabbitmq",
  methods: { onMessage: {}, onRequest: {}, onError: {} },
  exactlyOneOf: [["onMessage", "onRequest"]],
  error: (code, message) => new RabbitMqError(code as RabbitMqErrorCode, message),
};

/**
 * `@rabbitmq.ServiceConfig({ queueName, config, autoAck, declare, bindings, mode })`: the
 * per-service configuration (Ballerina's `@rabbitmq:ServiceConfig`). Every field can also be
 * passed to `listener.attach(service, { … })`.
 *
 * @example
 * ```ts
 * @rabbitmq.ServiceConfig({ queueName: "orders", declare: "passive" })
 * class OrderService {
 *   @payload(Order)
 *   async onMessage(order: Order) { await save(order); }
 * }
 * await listener.attach(new OrderService());
 * ```
 */
export const ServiceConfig = createServiceConfigDecorator<RabbitMqServiceConfig>();

/** The config after validation: queue name resolved, defaults applied. */
interface ResolvedConfig extends RabbitMqServiceConfig {
  readonly queueName: string;
  readonly autoAck: boolean;
  readonly declare: boolean | "passive";
  readonly config: QueueConfig;
  readonly bindings: readonly QueueBinding[];
}

/** How an inbound delivery is settled on the wire (the listener's side). */
interface Settler {
  ack(d: Inbound, result: unknown): unknown;
  reject(d: Inbound): void;
}

/** A delivery as the listener hands it to the dispatcher (a class: no closures per message). */
class Inbound implements Delivery<Message> {
  readonly message: Message;
  readonly key: string | undefined;
  readonly destination: string;
  readonly coordinates: Readonly<Record<string, unknown>>;
  readonly headers: ReturnType<typeof traceHeaders>;
  readonly origin: Origin;
  readonly caller: Caller;
  readonly #settler: Settler;

  constructor(message: Message, key: string | undefined, origin: Origin, settler: Settler) {
    this.message = message;
    this.key = key;
    this.destination = message.queue;
    this.coordinates = {
      queue: message.queue,
      deliveryTag: message.deliveryTag,
      exchange: message.exchange,
      routingKey: message.routingKey,
      redelivered: message.redelivered,
    };
    this.headers = traceHeaders(message.properties.headers);
    this.origin = origin;
    this.caller = new Caller(origin);
    this.#settler = settler;
  }

  ack(result: unknown): unknown {
    return this.#settler.ack(this, result);
  }

  reject(): void {
    this.#settler.reject(this);
  }
}

interface Subscription {
  readonly att: Attachment<object, ResolvedConfig>;
  readonly cfg: ResolvedConfig;
  readonly queue: string;
  readonly dispatcher: Dispatcher<Message>;
  readonly channel: ManagedChannel;
  readonly deadLetterTopology: { readonly exchange: string; readonly queue: string } | undefined;
  readonly onDelivery: (gen: Generation, raw: AmqpMessage | null) => void;
  readonly settler: Settler;
  consumerTag: string | undefined;
  consumerGen: Generation | undefined;
  /** Intake stopped (stopIntake, detach or the "stop" failure action). */
  stopped: boolean;
  /** autoAck only: the consumer is cancelled until the dispatcher has room. */
  paused: boolean;
}

const DEFAULT_QUEUE_CONFIG: Required<Omit<QueueConfig, "arguments">> = { durable: true, exclusive: false, autoDelete: false };

function isDeadLetterTarget(x: unknown): x is DeadLetterTarget<Message> {
  return typeof x === "object" && x !== null && typeof (x as { send?: unknown }).send === "function";
}

function isDeliveryLimit(e: unknown): boolean {
  return RabbitMqError.isRabbitMqError(e) && e.code === "RABBITMQ_DELIVERY_LIMIT";
}

/**
 * Ballerina's `rabbitmq:Listener`: `new rabbitmq.Listener(host, port, qos?, options?)`. Each
 * attached service consumes one queue on its own channel (a channel error in one service never
 * touches the others); replies and dead letters go through one confirm channel.
 *
 * - **At least once**: a message is acknowledged after its handler succeeded (Ballerina
 *   defaults to `autoAck`; set `autoAck: true` in the service config for that).
 * - **Concurrency**: up to `prefetchCount` handlers per service (or `concurrency`).
 * - **Failures**: retried in-process per `retry`, then published to the dead-letter exchange
 *   with the error and attempt count in headers; binding failures are not retried.
 * - **Recovery**: a lost connection is re-established with capped exponential backoff and
 *   jitter; queues, bindings and consumers are declared again; acks for messages of the dead
 *   channel are dropped (the broker requeues them).
 *
 * `host` may also be a URL: `new rabbitmq.Listener("amqp://user:pass@host:5672/vhost")`.
 *
 * @example
 * ```ts
 * const listener = new rabbitmq.Listener("localhost", 5672, { prefetchCount: 10 });
 * await listener.attach({ onMessage: (order: Order) => save(order) }, { name: "orders", payload: Order });
 * await listener.start();
 * // …
 * await listener.gracefulStop();
 * ```
 */
export class RabbitMqListener extends AbstractListener<object, ResolvedConfig> {
  protected readonly spec = spec;
  readonly #o: RabbitMqListenerOptions;
  readonly #prefetch: number;
  readonly #global: boolean;
  readonly #connection: Connection;
  readonly #publisher: Publisher;
  readonly #codec: Codec<unknown>;
  readonly #maxDeliveries: number;
  readonly #subs = new Map<object, Subscription>();
  #connected = false;

  constructor(host?: string, port?: number, qos?: QosSettings, options: RabbitMqListenerOptions = {}) {
    super({ ...options, protocol: "rabbitmq" });
    this.#o = options;
    this.#prefetch = qos?.prefetchCount ?? 10;
    this.#global = qos?.global ?? false;
    if (!Number.isInteger(this.#prefetch) || this.#prefetch < 1 || this.#prefetch > 65535) {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "qos.prefetchCount must be an integer in 1 … 65535");
    }
    if (qos?.prefetchSize !== undefined && qos.prefetchSize !== 0) {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "qos.prefetchSize is not supported by RabbitMQ; leave it unset");
    }
    const concurrency = options.concurrency ?? this.#prefetch;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "concurrency must be an integer >= 1");
    }
    this.#maxDeliveries = options.maxDeliveries ?? 20;
    if (!(this.#maxDeliveries >= 1)) throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "maxDeliveries must be >= 1");
    const params = connectionParams(host, port, options, "listener");
    this.#connection = new Connection(params, this.logger);
    this.#connection.onFatal = (err) => {
      for (const sub of this.#subs.values()) {
        sub.channel.failWaiters(err);
        void this.#report(sub.att, undefined, err);
      }
    };
    this.#publisher = new Publisher(this.#connection, "listener-publisher");
    this.#codec = options.codec ?? json();
  }

  /** Connection recoveries so far. */
  get reconnects(): number {
    return this.#connection.reconnects;
  }

  protected override validateConfig(config: ResolvedConfig, name: string | readonly string[] | undefined): ResolvedConfig {
    const queueName = config.queueName ?? (typeof name === "string" ? name : undefined);
    if (typeof queueName !== "string" || queueName.length === 0) {
      throw new RabbitMqError(
        "RABBITMQ_MISSING_QUEUE",
        "a rabbitmq service needs a queue: ServiceConfig({ queueName }) or the attach name (a string)",
      );
    }
    const declare = config.declare ?? true;
    if (declare !== true && declare !== false && declare !== "passive") {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", 'declare must be true, false or "passive"');
    }
    if (config.autoAck !== undefined && typeof config.autoAck !== "boolean") {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "autoAck must be a boolean");
    }
    if (config.mode !== undefined && config.mode !== "payload" && config.mode !== "message") {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", 'mode must be "payload" or "message"');
    }
    const bindings: readonly QueueBinding[] = config.bindings ?? [];
    if (!Array.isArray(bindings) || bindings.some((b: unknown) => typeof (b as QueueBinding | null)?.exchange !== "string")) {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "bindings must be an array of { exchange, routingKey? }");
    }
    return {
      ...config,
      queueName,
      declare,
      autoAck: config.autoAck ?? false,
      config: { ...DEFAULT_QUEUE_CONFIG, ...config.config },
      bindings,
    };
  }

  protected async onStart(attachments: Attachment<object, ResolvedConfig>[]): Promise<void> {
    await this.#connection.open();
    this.#connected = true;
    await this.#publisher.start();
    for (const att of attachments) await this.#subscribe(att);
  }

  protected override onAttach(att: Attachment<object, ResolvedConfig>): Promise<void> {
    return this.#subscribe(att);
  }

  protected override async onDetach(att: Attachment<object, ResolvedConfig>): Promise<void> {
    const sub = this.#subs.get(att.service);
    if (sub === undefined) return;
    this.#subs.delete(att.service);
    await this.#cancel(sub);
    const drained = await sub.dispatcher.drain(this.gracefulStopTimeoutMs);
    if (!drained) sub.dispatcher.abortAll();
    await sub.channel.close();
    this.releaseDispatcher(sub.dispatcher);
  }

  protected async stopIntake(): Promise<void> {
    await Promise.all([...this.#subs.values()].map((s) => this.#cancel(s)));
  }

  protected async onClose(): Promise<void> {
    for (const sub of this.#subs.values()) sub.stopped = true;
    await Promise.all([...this.#subs.values()].map((s) => s.channel.close()));
    this.#subs.clear();
    await this.#publisher.close();
    await this.#connection.close();
  }

  // ---------------------------------------------------------------- subscriptions

  async #subscribe(att: Attachment<object, ResolvedConfig>): Promise<void> {
    if (!this.#connected) throw new RabbitMqError("RABBITMQ_CLOSED", "the listener is not connected");
    const cfg = att.config;
    const queue = cfg.queueName;
    const dl = this.#deadLetter(queue);
    const hasRequest = att.has("onRequest");
    const method = hasRequest ? "onRequest" : "onMessage";
    const schema = att.payloadSchema(method);
    const payloadMode = cfg.mode === undefined ? schema !== undefined : cfg.mode === "payload";
    const fn = (att.service as Record<string, (...a: unknown[]) => unknown>)[method] as (...a: unknown[]) => unknown;
    const service = att.service;
    const codec = this.#codec;
    const maxDeliveries = this.#maxDeliveries;
    const orderBy = this.#o.orderBy;

    const afterFailure = async (d: Inbound, e: unknown): Promise<unknown> => {
      // The handler settled the message itself and then failed: nothing left to retry.
      if (isSettled(d.origin)) {
        await this.#report(att, d.message, toError(e));
        return undefined;
      }
      throw e;
    };
    const run = (d: Inbound, arg: unknown, ctx: HandlerContext): unknown => {
      let r: unknown;
      try {
        r = fn.call(service, arg, d.caller, ctx);
      } catch (e) {
        return afterFailure(d, e);
      }
      return r instanceof Promise ? r.catch((e: unknown) => afterFailure(d, e)) : r;
    };
    const invoke = (delivery: Delivery<Message>, ctx: HandlerContext): unknown => {
      const d = delivery as Inbound;
      if (ctx.attempt > 1 && isSettled(d.origin)) return undefined;
      const count = d.message.properties.headers?.["x-delivery-count"];
      if (typeof count === "number" && count >= maxDeliveries) {
        throw new RabbitMqError(
          "RABBITMQ_DELIVERY_LIMIT",
          `message delivered ${count} times (maxDeliveries ${maxDeliveries}); not handled again`,
          { coordinates: d.coordinates },
        );
      }
      if (!payloadMode && schema === undefined) return run(d, d.message, ctx);
      return bind(d.message.content, {
        codec,
        ...(schema === undefined ? {} : { schema }),
        coordinates: d.coordinates,
      }).then((value) => run(d, payloadMode ? value : { ...d.message, content: value }, ctx));
    };

    const retry = this.#retryPolicy();
    const options: Omit<DispatcherOptions<Message>, "logger"> = {
      concurrency: Math.min(this.#o.concurrency ?? this.#prefetch, this.#prefetch),
      maxInFlight: this.#prefetch,
      retry,
      deadLetter: dl.target,
      ...(this.#o.onHandlerFailure === undefined ? {} : { onHandlerFailure: this.#o.onHandlerFailure }),
      ...(this.#o.onBindingFailure === undefined ? {} : { onBindingFailure: this.#o.onBindingFailure }),
      telemetry: { system: "rabbitmq" },
      invoke,
      reportError: (error, d) => this.#report(att, d.message, error),
      onStop: (error) => {
        this.logger.error({ err: error, queue }, "rabbitmq service stopped after a failure (onHandlerFailure: stop)");
        sub.dispatcher.close();
        void this.#cancel(sub);
      },
    };
    if (dl.target === undefined && options.onHandlerFailure === undefined) {
      (options as { onHandlerFailure?: string }).onHandlerFailure = "skip";
    }
    const dispatcher = this.createDispatcher<Message>(options);
    const channel = new ManagedChannel(this.#connection, {
      name: `consumer:${queue}`,
      confirm: false,
      setup: (gen) => this.#setup(sub, gen),
      onError: (err) => {
        if (err.code === "RABBITMQ_PRECONDITION_FAILED" && /acknowledgement .* timed out/.test(err.message)) {
          this.logger.warn(
            { queue, err },
            "a handler ran longer than the broker's consumer_timeout: the broker closed the channel and requeued its messages; late acks are dropped",
          );
        }
        void this.#report(att, undefined, err);
      },
      onClosed: (gen) => {
        if (sub.consumerGen === gen) {
          sub.consumerTag = undefined;
          sub.consumerGen = undefined;
        }
      },
    });
    const sub: Subscription = {
      att,
      cfg,
      queue,
      dispatcher,
      channel,
      deadLetterTopology: dl.topology,
      onDelivery: (gen, raw) => this.#onDelivery(sub, gen, raw, orderBy),
      settler: {
        ack: hasRequest ? (d, result) => this.#reply(d, result) : (d) => this.#ack(d),
        reject: (d) => this.#settle(d, "nack", true),
      },
      consumerTag: undefined,
      consumerGen: undefined,
      stopped: false,
      paused: false,
    };
    this.#subs.set(att.service, sub);
    try {
      await channel.start();
    } catch (e) {
      this.#subs.delete(att.service);
      await channel.close();
      this.releaseDispatcher(dispatcher);
      throw toRabbitMqError(e, `cannot consume from queue "${queue}"`, { queue });
    }
  }

  #retryPolicy(): RetryPolicy | false {
    const user = this.#o.retry;
    if (user === false) return false;
    const retryOn = user?.retryOn ?? defaultRetryPolicy.retryOn;
    return { ...user, retryOn: (e: unknown) => !isDeliveryLimit(e) && retryOn(e) };
  }

  /** Declare the topology, set the prefetch and start consuming on a (new) channel. */
  async #setup(sub: Subscription, gen: Generation): Promise<void> {
    const ch = gen.channel;
    const { cfg, queue } = sub;
    if (cfg.declare === true) {
      const q = cfg.config;
      await ch.assertQueue(queue, {
        durable: q.durable ?? true,
        exclusive: q.exclusive ?? false,
        autoDelete: q.autoDelete ?? false,
        ...(q.arguments === undefined ? {} : { arguments: { ...q.arguments } }),
      });
      for (const b of cfg.bindings) {
        if (b.exchangeType !== undefined) {
          await ch.assertExchange(b.exchange, b.exchangeType, {
            durable: b.exchangeConfig?.durable ?? true,
            autoDelete: b.exchangeConfig?.autoDelete ?? false,
            ...(b.exchangeConfig?.arguments === undefined ? {} : { arguments: { ...b.exchangeConfig.arguments } }),
          });
        }
        await ch.bindQueue(queue, b.exchange, b.routingKey ?? "", b.arguments === undefined ? undefined : { ...b.arguments });
      }
      const dl = sub.deadLetterTopology;
      if (dl !== undefined) {
        await ch.assertExchange(dl.exchange, "direct", { durable: true, autoDelete: false });
        await ch.assertQueue(dl.queue, { durable: true, exclusive: false, autoDelete: false });
        await ch.bindQueue(dl.queue, dl.exchange, queue);
      }
    } else if (cfg.declare === "passive") {
      await ch.checkQueue(queue);
    }
    if (sub.stopped) return;
    if (!cfg.autoAck) await ch.prefetch(this.#prefetch, this.#global);
    await this.#consume(sub, gen);
  }

  async #consume(sub: Subscription, gen: Generation): Promise<void> {
    const { consumerTag } = await gen.channel.consume(sub.queue, (raw) => sub.onDelivery(gen, raw), { noAck: sub.cfg.autoAck });
    sub.consumerTag = consumerTag;
    sub.consumerGen = gen;
  }

  async #cancel(sub: Subscription): Promise<void> {
    sub.stopped = true;
    const tag = sub.consumerTag;
    const gen = sub.consumerGen;
    sub.consumerTag = undefined;
    if (tag === undefined || gen === undefined || !gen.open) return;
    try {
      await gen.channel.cancel(tag);
    } catch (e) {
      this.logger.debug({ err: toError(e), queue: sub.queue }, "cancelling the consumer failed");
    }
  }

  #onDelivery(sub: Subscription, gen: Generation, raw: AmqpMessage | null, orderBy: RabbitMqListenerOptions["orderBy"]): void {
    try {
      if (raw === null) {
        this.#consumerCancelled(sub, gen);
        return;
      }
      const tag = raw.fields.deliveryTag;
      const autoAck = sub.cfg.autoAck;
      if (!autoAck) gen.unsettled.add(tag);
      const message = toMessage(raw, sub.queue);
      const origin: Origin = { gen: autoAck ? undefined : gen, tag };
      const key = orderBy === undefined ? undefined : orderBy === "routingKey" ? message.routingKey : orderBy(message);
      const delivery = new Inbound(message, key, origin, sub.settler);
      if (this.#rejectDeadLetters) this.#origins.set(message, origin);
      const ready = sub.dispatcher.submit(delivery);
      if (autoAck && sub.dispatcher.saturated) this.#pause(sub, gen, ready);
    } catch (e) {
      this.logger.error({ err: toError(e), queue: sub.queue }, "rabbitmq delivery could not be dispatched");
    }
  }

  #consumerCancelled(sub: Subscription, gen: Generation): void {
    sub.consumerTag = undefined;
    sub.consumerGen = undefined;
    if (sub.stopped) return;
    const err = new RabbitMqError(
      "RABBITMQ_CONSUMER_CANCELLED",
      `the broker cancelled the consumer of queue "${sub.queue}" (deleted?); subscribing again`,
      { coordinates: { queue: sub.queue } },
    );
    this.logger.warn({ err }, "rabbitmq consumer cancelled by the broker");
    void this.#report(sub.att, undefined, err);
    // Reopen the channel: its setup declares (or checks) the queue and consumes again.
    if (sub.channel.current === gen) sub.channel.recycle();
  }

  /** autoAck: the broker ignores prefetch, so hold the consumer while the dispatcher is full. */
  #pause(sub: Subscription, gen: Generation, ready: Promise<void>): void {
    if (sub.paused) return;
    sub.paused = true;
    const tag = sub.consumerTag;
    sub.consumerTag = undefined;
    if (tag !== undefined && gen.open) gen.channel.cancel(tag).catch(() => undefined);
    void ready.then(async () => {
      sub.paused = false;
      if (sub.stopped || !gen.open || sub.channel.current !== gen || sub.consumerTag !== undefined) return;
      try {
        await this.#consume(sub, gen);
      } catch (e) {
        this.logger.warn({ err: toError(e), queue: sub.queue }, "resuming the consumer failed");
      }
    });
  }

  /** Acknowledge after success: coalesced with the other acks of this tick. */
  #ack(d: Inbound): void {
    if (deferAck(d.origin) === "stale") this.#stale(d, "ack");
  }

  #stale(d: Inbound, kind: string): void {
    this.logger.debug({ coordinates: d.coordinates, kind }, "stale acknowledgement dropped (channel closed; the broker requeued the message)");
  }

  #settle(d: Inbound, kind: "ack" | "nack", requeue: boolean): void {
    if (d.origin.gen === undefined) return; // autoAck
    const wasUnsettled = d.origin.gen.unsettled.has(d.origin.tag);
    if (!settle(d.origin, kind, false, requeue, false) && wasUnsettled) this.#stale(d, kind);
  }

  /** onRequest: publish the reply (confirmed), then acknowledge the request. */
  #reply(d: Inbound, result: unknown): unknown {
    const replyTo = d.message.properties.replyTo;
    if (replyTo === undefined || replyTo === "") {
      if (result !== undefined) this.logger.warn({ coordinates: d.coordinates }, "onRequest returned a reply but the request has no replyTo; dropped");
      this.#ack(d);
      return undefined;
    }
    if (d.origin.gen !== undefined && !d.origin.gen.open) {
      // The request's channel is gone: the broker redelivers it, and that delivery is answered.
      this.#stale(d, "reply");
      return undefined;
    }
    const { content, contentType } = encodeContent(result);
    const correlationId = d.message.properties.correlationId;
    const options = publishOptions(correlationId === undefined ? undefined : { correlationId }, {
      persistent: false,
      mandatory: false,
      contentType,
    });
    return this.#publisher.publish("", replyTo, content, options).then(
      () => this.#ack(d),
      (e: unknown) => {
        this.#settle(d, "nack", true);
        throw toRabbitMqError(e, `publishing the reply to "${replyTo}" failed; the request was requeued`, d.coordinates);
      },
    );
  }

  // ---------------------------------------------------------------- dead letters and errors

  #deadLetter(queue: string): {
    target: DeadLetterTarget<Message> | undefined;
    topology: { exchange: string; queue: string } | undefined;
  } {
    const opt = this.#o.deadLetter;
    if (opt === false) return { target: undefined, topology: undefined };
    if (opt === "reject") {
      return {
        target: {
          send: async (rec) => {
            const origin = this.#origins.get(rec.message);
            if (origin !== undefined) settle(origin, "nack", false, false, false);
          },
        },
        topology: undefined,
      };
    }
    if (isDeadLetterTarget(opt)) return { target: opt, topology: undefined };
    const o: DeadLetterOptions = opt ?? {};
    const exchange = o.exchange ?? `${queue}.dlx`;
    const declare = o.declare ?? o.exchange === undefined;
    const publisher = this.#publisher;
    return {
      target: {
        send: async (rec) => {
          const m = rec.message;
          const headers = { ...m.properties.headers, ...deadLetterHeaders(rec) };
          const { expiration: _expiration, ...props } = m.properties;
          const content = Buffer.isBuffer(m.content) ? m.content : Buffer.from(m.content);
          await publisher.publish(exchange, queue, content, publishOptions({ ...props, headers }, {
            persistent: true,
            mandatory: true,
            contentType: undefined,
          }));
        },
      },
      topology: declare ? { exchange, queue: `${queue}.dlq` } : undefined,
    };
  }

  readonly #origins = new WeakMap<Message, Origin>();
  get #rejectDeadLetters(): boolean {
    return this.#o.deadLetter === "reject";
  }

  async #report(att: Attachment<object, ResolvedConfig>, message: Message | undefined, error: Error): Promise<void> {
    const fn = (att.service as Record<string, unknown>)["onError"];
    if (typeof fn !== "function") {
      this.logger.error({ err: error, coordinates: (error as { coordinates?: unknown }).coordinates }, "unhandled rabbitmq service error");
      return;
    }
    try {
      await (fn as (m: Message | undefined, e: Error) => unknown).call(att.service, message, error);
    } catch (e) {
      this.logger.error({ err: toError(e), original: error }, "onError threw");
    }
  }
}
