/**
 * `rabbitmq.Client`: publish with confirms, declare topology, fetch and stream messages.
 *
 * @module
 */
import type { Channel, Message as AmqpMessage } from "amqplib";
import { bind, toError, childLogger, Stream, type BindOptions, type Codec, type Logger, type Sink } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { RabbitMqError } from "./errors.ts";
import { toRabbitMqError } from "./internal/amqp-errors.ts";
import { Connection, ManagedChannel, type Generation } from "./internal/connection.ts";
import { encodeContent, publishOptions, toMessage } from "./internal/message.ts";
import { connectionParams } from "./internal/params.ts";
import { Publisher } from "./internal/publisher.ts";
import { origins, settle, type Origin } from "./internal/settle.ts";
import type {
  ConsumeOptions,
  ExchangeConfig,
  ExchangeType,
  Message,
  PublishMessage,
  QueueConfig,
  QueueInfo,
  RabbitMqClientOptions,
  StreamOptions,
} from "./options.ts";

type TopologyOp =
  | { readonly kind: "exchange"; readonly name: string; readonly type: ExchangeType; readonly config: ExchangeConfig }
  | { readonly kind: "queue"; readonly name: string; readonly config: QueueConfig }
  | { readonly kind: "bind"; readonly queue: string; readonly exchange: string; readonly routingKey: string; readonly args: Record<string, unknown> | undefined };

const EXCHANGE_TYPES: readonly string[] = ["direct", "fanout", "topic", "headers"];

function isPublishMessage(v: unknown): v is PublishMessage {
  return typeof v === "object" && v !== null && typeof (v as { routingKey?: unknown }).routingKey === "string" && "content" in v;
}

/**
 * Ballerina's `rabbitmq:Client`: `publishMessage` (awaiting publisher confirms), the topology
 * operations, `consumeMessage`/`consumePayload`, `basicAck`/`basicNack`, and `stream(queue)` →
 * a {@link Stream} with prefetch-driven backpressure. It implements {@link Sink}, so
 * `stream.pipeTo(client)` publishes every element.
 *
 * The connection opens on `start()` or the first operation and recovers by itself (capped
 * exponential backoff with jitter); operations wait for it up to `operationTimeoutMs`. A
 * channel error (a missing exchange, a conflicting declaration) fails that operation with a
 * typed error and never the client.
 *
 * @example
 * ```ts
 * await using client = new rabbitmq.Client("localhost", 5672);
 * await client.exchangeDeclare("orders", "topic");
 * const q = await client.queueAutoGenerate();
 * await client.queueBind(q, "orders", "order.*");
 * await client.publishMessage({ exchange: "orders", routingKey: "order.created", content: { id: "O-1" } });
 * for await (const msg of client.stream(q).take(1)) console.log(msg.routingKey);
 * ```
 */
export class RabbitMqClient implements Sink<unknown>, AsyncDisposable {
  readonly #o: RabbitMqClientOptions;
  readonly #logger: Logger;
  readonly #conn: Connection;
  readonly #publisher: Publisher;
  readonly #ops: ManagedChannel;
  readonly #topology: TopologyOp[] = [];
  /** Open streams: their release and fail functions. */
  readonly #streams = new Map<() => Promise<void>, (error: RabbitMqError) => void>();
  readonly #persistent: boolean;
  readonly #mandatory: boolean;
  #starting: Promise<void> | undefined;
  #started = false;
  #opsModel: unknown;
  #getGen: Generation | undefined;
  #closed = false;

  constructor(host?: string, port?: number, options: RabbitMqClientOptions = {}) {
    this.#o = options;
    this.#logger = childLogger(options.logger, { client: "rabbitmq" });
    this.#conn = new Connection(connectionParams(host, port, options, "client"), this.#logger);
    this.#persistent = options.persistent ?? true;
    this.#mandatory = options.mandatory ?? true;
    this.#publisher = new Publisher(this.#conn, "client-publisher");
    this.#ops = new ManagedChannel(this.#conn, {
      name: "client-operations",
      confirm: false,
      setup: (gen) => this.#recoverTopology(gen),
    });
    this.#conn.onFatal = (err) => {
      this.#publisher.channel.failWaiters(err);
      this.#ops.failWaiters(err);
      for (const fail of this.#streams.values()) fail(err);
    };
  }

  /** Connection recoveries so far. */
  get reconnects(): number {
    return this.#conn.reconnects;
  }

  /** Connect (also done by the first operation). Rejects with a {@link RabbitMqError}. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new RabbitMqError("RABBITMQ_CLOSED", "the rabbitmq client is closed"));
    this.#starting ??= (async () => {
      await this.#conn.open();
      await this.#publisher.start();
      await this.#ops.start();
      this.#started = true;
    })().catch(async (e: unknown) => {
      this.#closed = true;
      await this.#close();
      throw e;
    });
    return this.#starting;
  }

  async #ready(): Promise<void> {
    if (this.#closed) throw new RabbitMqError("RABBITMQ_CLOSED", "the rabbitmq client is closed");
    await (this.#starting ?? this.start());
  }

  // ---------------------------------------------------------------- publishing

  /**
   * Publish a message and wait for the broker's confirm. Bytes are sent as is, strings as
   * UTF-8 text, anything else as JSON (with a matching `contentType` unless you set one).
   *
   * @throws {RabbitMqError} `RABBITMQ_UNROUTABLE` (mandatory and no queue matched),
   *   `RABBITMQ_NOT_FOUND` (no such exchange), `RABBITMQ_NACKED`, `RABBITMQ_NOT_CONFIRMED`
   *   (the connection dropped first: it may or may not have been delivered), `RABBITMQ_TIMEOUT`.
   */
  publishMessage(message: PublishMessage): Promise<void> {
    // Until connected, every publish goes through the same wait, so that order is kept.
    if (!this.#started) return this.#ready().then(() => this.publishMessage(message));
    try {
      if (!isPublishMessage(message)) throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "publishMessage needs { routingKey, content }");
      const { content, contentType } = encodeContent(message.content);
      const options = publishOptions(message.properties, {
        persistent: this.#persistent,
        mandatory: message.mandatory ?? this.#mandatory,
        contentType,
      });
      return this.#publisher.publish(message.exchange ?? "", message.routingKey, content, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@link Sink}: publish `value` (a {@link PublishMessage}, or any content with `options.sink`). */
  write(value: unknown): Promise<void> {
    const sink = this.#o.sink;
    if (sink !== undefined) {
      return this.publishMessage({
        exchange: sink.exchange ?? "",
        routingKey: sink.routingKey,
        content: value,
        ...(sink.properties === undefined ? {} : { properties: sink.properties }),
      });
    }
    if (isPublishMessage(value)) return this.publishMessage(value);
    return Promise.reject(
      new RabbitMqError("RABBITMQ_INVALID_CONFIG", "write() needs a PublishMessage ({ routingKey, content }) or the client's `sink` option"),
    );
  }

  /** {@link Sink}: publish a chunk, confirms awaited together. */
  async writeMany(values: readonly unknown[]): Promise<void> {
    await Promise.all(values.map((v) => this.write(v)));
  }

  // ---------------------------------------------------------------- topology

  /** Declare a queue (Ballerina's defaults differ: see {@link QueueConfig}). */
  async queueDeclare(name: string, config: QueueConfig = {}): Promise<QueueInfo> {
    const r = await this.#op(`declaring queue "${name}"`, (ch) => ch.assertQueue(name, queueOptions(config)));
    if (name !== "") this.#remember({ kind: "queue", name, config });
    return { queue: r.queue, messageCount: r.messageCount, consumerCount: r.consumerCount };
  }

  /** Declare a server-named, exclusive, auto-delete queue and return its name. */
  async queueAutoGenerate(): Promise<string> {
    const r = await this.#op("declaring a server-named queue", (ch) => ch.assertQueue("", { exclusive: true, autoDelete: true, durable: false }));
    return r.queue;
  }

  /** Declare an exchange (`direct` by default). */
  async exchangeDeclare(name: string, type: ExchangeType = "direct", config: ExchangeConfig = {}): Promise<void> {
    if (!EXCHANGE_TYPES.includes(type)) throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", `unknown exchange type "${String(type)}"`);
    await this.#op(`declaring exchange "${name}"`, (ch) => ch.assertExchange(name, type, exchangeOptions(config)));
    this.#remember({ kind: "exchange", name, type, config });
  }

  /** Bind a queue to an exchange. For headers exchanges pass the match in `args`. */
  async queueBind(queue: string, exchange: string, routingKey = "", args?: Readonly<Record<string, unknown>>): Promise<void> {
    const a = args === undefined ? undefined : { ...args };
    await this.#op(`binding queue "${queue}" to "${exchange}"`, (ch) => ch.bindQueue(queue, exchange, routingKey, a));
    this.#remember({ kind: "bind", queue, exchange, routingKey, args: a });
  }

  /** Remove a binding. */
  async queueUnbind(queue: string, exchange: string, routingKey = "", args?: Readonly<Record<string, unknown>>): Promise<void> {
    const a = args === undefined ? undefined : { ...args };
    await this.#op(`unbinding queue "${queue}" from "${exchange}"`, (ch) => ch.unbindQueue(queue, exchange, routingKey, a));
    this.#forget((t) => t.kind === "bind" && t.queue === queue && t.exchange === exchange && t.routingKey === routingKey);
  }

  /** Delete a queue; resolves with the number of messages it held. */
  async queueDelete(name: string, options: { readonly ifUnused?: boolean; readonly ifEmpty?: boolean } = {}): Promise<number> {
    const r = await this.#op(`deleting queue "${name}"`, (ch) =>
      ch.deleteQueue(name, { ifUnused: options.ifUnused ?? false, ifEmpty: options.ifEmpty ?? false }),
    );
    this.#forget((t) => (t.kind === "queue" && t.name === name) || (t.kind === "bind" && t.queue === name));
    return r.messageCount;
  }

  /** Delete an exchange. */
  async exchangeDelete(name: string, options: { readonly ifUnused?: boolean } = {}): Promise<void> {
    await this.#op(`deleting exchange "${name}"`, (ch) => ch.deleteExchange(name, { ifUnused: options.ifUnused ?? false }));
    this.#forget((t) => (t.kind === "exchange" && t.name === name) || (t.kind === "bind" && t.exchange === name));
  }

  /** Remove every ready message from a queue; resolves with how many. */
  async queuePurge(name: string): Promise<number> {
    const r = await this.#op(`purging queue "${name}"`, (ch) => ch.purgeQueue(name));
    return r.messageCount;
  }

  #remember(op: TopologyOp): void {
    if (this.#o.recoverTopology === false) return;
    const same = JSON.stringify(op);
    if (!this.#topology.some((t) => JSON.stringify(t) === same)) this.#topology.push(op);
  }

  #forget(match: (t: TopologyOp) => boolean): void {
    for (let i = this.#topology.length - 1; i >= 0; i--) if (match(this.#topology[i] as TopologyOp)) this.#topology.splice(i, 1);
  }

  /** On a channel of a new connection, declare again what this client declared. */
  async #recoverTopology(gen: Generation): Promise<void> {
    const first = this.#opsModel === undefined;
    const sameConnection = this.#opsModel === gen.model;
    this.#opsModel = gen.model;
    if (first || sameConnection || this.#topology.length === 0) return;
    for (const op of [...this.#topology]) {
      try {
        if (op.kind === "exchange") await gen.channel.assertExchange(op.name, op.type, exchangeOptions(op.config));
        else if (op.kind === "queue") await gen.channel.assertQueue(op.name, queueOptions(op.config));
        else await gen.channel.bindQueue(op.queue, op.exchange, op.routingKey, op.args);
      } catch (e) {
        // Someone else changed it meanwhile: forget it (the channel is reopened without it).
        this.#forget((t) => t === op);
        this.#logger.warn({ err: toRabbitMqError(e, "re-declaring after a reconnect") }, "rabbitmq topology not recovered");
        throw e;
      }
    }
  }

  async #op<T>(what: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
    await this.#ready();
    const gen = await this.#ops.acquire();
    try {
      return await fn(gen.channel);
    } catch (e) {
      throw toRabbitMqError(e, what);
    }
  }

  // ---------------------------------------------------------------- consuming

  /**
   * Fetch one message (`basic.get`), or `undefined` when the queue is empty. With
   * `autoAck: false`, settle it with {@link RabbitMqClient.basicAck} / `basicNack`.
   */
  async consumeMessage(queue: string, options: ConsumeOptions = {}): Promise<Message | undefined> {
    const autoAck = options.autoAck ?? true;
    await this.#ready();
    const gen = await this.#ops.acquire();
    let raw: AmqpMessage | false;
    try {
      raw = await gen.channel.get(queue, { noAck: autoAck });
    } catch (e) {
      throw toRabbitMqError(e, `fetching from queue "${queue}"`, { queue });
    }
    if (raw === false) return undefined;
    const msg = toMessage(raw, queue);
    if (!autoAck) {
      gen.unsettled.add(raw.fields.deliveryTag);
      origins.set(msg, { gen, tag: raw.fields.deliveryTag });
      this.#getGen = gen;
    }
    return msg;
  }

  /**
   * Fetch one message (acknowledged at once, as Ballerina's default) and bind its payload with
   * the codec (default JSON) and an optional Standard Schema. `undefined` when the queue is
   * empty; a `PayloadBindingError`/`PayloadValidationError` (with the queue and delivery tag)
   * when the payload does not bind.
   */
  consumePayload<S extends StandardSchemaV1>(
    queue: string,
    options: { readonly codec?: Codec<unknown>; readonly schema: S },
  ): Promise<StandardSchemaV1.InferOutput<S> | undefined>;
  consumePayload<T = unknown>(queue: string, options?: { readonly codec?: Codec<unknown> }): Promise<T | undefined>;
  async consumePayload(
    queue: string,
    options: { readonly codec?: Codec<unknown>; readonly schema?: StandardSchemaV1 } = {},
  ): Promise<unknown> {
    const msg = await this.consumeMessage(queue, { autoAck: true });
    if (msg === undefined) return undefined;
    const bindOptions: BindOptions = {
      ...(options.codec === undefined ? {} : { codec: options.codec }),
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      coordinates: { queue, deliveryTag: msg.deliveryTag, exchange: msg.exchange, routingKey: msg.routingKey },
    };
    return bind(msg.content, bindOptions);
  }

  /**
   * Acknowledge a message fetched with `autoAck: false` or received from a `"manual"` stream
   * (or a delivery tag from `consumeMessage`). Returns false if the message's channel has closed
   * since (the broker requeued it; nothing is sent).
   *
   * @throws {RabbitMqError} `RABBITMQ_ALREADY_SETTLED`, `RABBITMQ_AUTO_ACK`
   */
  basicAck(message: Message | number, multiple = false): boolean {
    return settle(this.#origin(message), "ack", multiple, false, true);
  }

  /**
   * Reject a message: `requeue` (default true) puts it back, `false` drops it (or hands it to
   * the queue's dead-letter exchange).
   *
   * @throws {RabbitMqError} `RABBITMQ_ALREADY_SETTLED`, `RABBITMQ_AUTO_ACK`
   */
  basicNack(message: Message | number, multiple = false, requeue = true): boolean {
    return settle(this.#origin(message), "nack", multiple, requeue, true);
  }

  #origin(message: Message | number): Origin {
    if (typeof message === "number") return { gen: this.#getGen, tag: message };
    return origins.get(message) ?? { gen: undefined, tag: message.deliveryTag };
  }

  /**
   * Consume a queue as a {@link Stream}. The broker sends at most `prefetch` unacknowledged
   * messages, and the stream buffers no more: a slow consumer slows the queue down, not the
   * process. With `ack: "auto"` (default) a message is acknowledged when the stream hands it
   * over (one at a time, so `take(n)` acknowledges exactly n); with `"manual"` call
   * `basicAck`/`basicNack`. Closing the stream (or a `for await`
   * exit, or `take(n)` finishing) cancels the consumer; unacknowledged messages go back to
   * the queue. After a reconnect the consumer resubscribes; messages buffered from the old
   * channel are dropped (the broker redelivers them). The stream fails with a
   * {@link RabbitMqError} if the queue does not exist or is deleted.
   */
  stream(queue: string, options: StreamOptions = {}): Stream<Message, RabbitMqError> {
    const prefetch = options.prefetch ?? 100;
    if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65535) {
      throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "stream prefetch must be an integer in 1 … 65535");
    }
    const manual = options.ack === "manual";
    let buffer: { msg: Message; origin: Origin }[] = [];
    let waiter: (() => void) | undefined;
    let failure: RabbitMqError | undefined;
    let closed = false;
    let wakeScheduled = false;
    const wake = (): void => {
      if (waiter === undefined || wakeScheduled) return;
      wakeScheduled = true;
      queueMicrotask(() => {
        wakeScheduled = false;
        const w = waiter;
        waiter = undefined;
        w?.();
      });
    };
    const fail = (err: RabbitMqError): void => {
      failure ??= err;
      wake();
    };
    const channel = new ManagedChannel(this.#conn, {
      name: `stream:${queue}`,
      confirm: false,
      setup: async (gen) => {
        await gen.channel.prefetch(prefetch, false);
        await gen.channel.consume(
          queue,
          (raw) => {
            if (raw === null) {
              fail(new RabbitMqError("RABBITMQ_CONSUMER_CANCELLED", `the broker cancelled the consumer of queue "${queue}" (deleted?)`, { coordinates: { queue } }));
              return;
            }
            const tag = raw.fields.deliveryTag;
            gen.unsettled.add(tag);
            const msg = toMessage(raw, queue);
            const origin: Origin = { gen, tag };
            if (manual) origins.set(msg, origin);
            buffer.push({ msg, origin });
            wake();
          },
          { noAck: false },
        );
      },
      onClosed: (gen) => {
        // Their tags died with the channel; the broker redelivers them to the new consumer.
        buffer = buffer.filter((b) => b.origin.gen !== gen);
      },
      onError: (err) => {
        if (err.code === "RABBITMQ_NOT_FOUND" || err.code === "RABBITMQ_ACCESS_REFUSED" || err.code === "RABBITMQ_NOT_ALLOWED") fail(err);
      },
    });
    const release = async (): Promise<void> => {
      closed = true;
      this.#streams.delete(release);
      buffer = [];
      await channel.close();
    };
    let started: Promise<void> | undefined;
    let ready = false;
    // "auto": one message per pull, acknowledged as it is handed over, so that a consumer that
    // stops early (take(n), break) never acknowledges messages it did not get. "manual": all
    // buffered messages at once (unacknowledged ones go back to the queue on close).
    const take = (): readonly Message[] | null | undefined => {
      if (buffer.length > 0) {
        if (manual) {
          const chunk = buffer;
          buffer = [];
          return chunk.map((b) => b.msg);
        }
        const first = buffer.shift() as { msg: Message; origin: Origin };
        settle(first.origin, "ack", false, false, false);
        return [first.msg];
      }
      if (failure !== undefined) throw failure;
      if (closed) return null;
      return undefined;
    };
    const wait = async (): Promise<readonly Message[] | null> => {
      if (!ready) {
        started ??= (async () => {
          try {
            await this.#ready();
            await channel.start();
          } catch (e) {
            throw toRabbitMqError(e, `consuming queue "${queue}"`, { queue });
          }
        })();
        await started;
        ready = true;
      }
      for (;;) {
        const next = take();
        if (next !== undefined) return next;
        await new Promise<void>((resolve) => {
          waiter = resolve;
        });
      }
    };
    this.#streams.set(release, fail);
    return new Stream<Message, RabbitMqError>({
      pull: () => {
        if (ready) {
          const next = take();
          if (next !== undefined) return next;
        }
        return wait();
      },
      close: release,
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /** {@link Sink}: close the client when a piped stream failed. */
  abort(reason: unknown): Promise<void> {
    this.#logger.debug({ err: toError(reason) }, "sink aborted");
    return this.close();
  }

  /** Close streams, channels and the connection. Unconfirmed publishes reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed && this.#starting === undefined) return;
    this.#closed = true;
    await this.#close();
  }

  async #close(): Promise<void> {
    this.#starting = undefined;
    this.#started = false;
    await Promise.all([...this.#streams.keys()].map((release) => release()));
    await this.#publisher.close();
    await this.#ops.close();
    await this.#conn.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function queueOptions(config: QueueConfig): { durable: boolean; exclusive: boolean; autoDelete: boolean; arguments?: Record<string, unknown> } {
  return {
    durable: config.durable ?? true,
    exclusive: config.exclusive ?? false,
    autoDelete: config.autoDelete ?? false,
    ...(config.arguments === undefined ? {} : { arguments: { ...config.arguments } }),
  };
}

function exchangeOptions(config: ExchangeConfig): { durable: boolean; autoDelete: boolean; arguments?: Record<string, unknown> } {
  return {
    durable: config.durable ?? true,
    autoDelete: config.autoDelete ?? false,
    ...(config.arguments === undefined ? {} : { arguments: { ...config.arguments } }),
  };
}
