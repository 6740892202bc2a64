/**
 * Public option, configuration and message types of `@pirouette/rabbitmq`.
 *
 * @module
 */
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { Codec, DeadLetterTarget, FailureAction, ListenerOptions, Logger, RetryPolicy } from "@pirouette/core";

/**
 * Ballerina's `rabbitmq:DEFAULT_HOST`.
 *
 * @example
 * ```ts
 * new rabbitmq.Listener(rabbitmq.DEFAULT_HOST, rabbitmq.DEFAULT_PORT);
 * ```
 */
export const DEFAULT_HOST = "localhost";
/**
 * Ballerina's `rabbitmq:DEFAULT_PORT`.
 *
 * @example
 * ```ts
 * new rabbitmq.Client("broker.internal", rabbitmq.DEFAULT_PORT);
 * ```
 */
export const DEFAULT_PORT = 5672;

/**
 * The four AMQP 0-9-1 exchange types.
 *
 * @example
 * ```ts
 * const type: rabbitmq.ExchangeType = "topic";
 * await client.exchangeDeclare("shop", type);
 * ```
 */
export type ExchangeType = "direct" | "fanout" | "topic" | "headers";

/**
 * Ballerina's `QosSettings`: how many unacknowledged messages the broker sends a consumer.
 * Prefetch bounds the listener's concurrency too: a service never runs more handlers at once
 * than it has unacknowledged messages.
 *
 * @example
 * ```ts
 * new rabbitmq.Listener("localhost", 5672, { prefetchCount: 20 });
 * ```
 */
export interface QosSettings {
  /** Unacknowledged messages per consumer, 1 … 65535. Default 10 (Ballerina leaves it unbounded). */
  readonly prefetchCount: number;
  /** Not supported by RabbitMQ; accepted for Ballerina compatibility and must be 0 or absent. */
  readonly prefetchSize?: number;
  /** Apply the limit per channel rather than per consumer. Default false. */
  readonly global?: boolean;
}

/**
 * Reconnection after a lost connection or channel: capped exponential backoff with jitter.
 * The n-th delay is about `initialDelayMs × multiplier^(n−1)`, at most `maxDelayMs`, spread by
 * ± `jitter`.
 *
 * @example
 * ```ts
 * const reconnect: ReconnectOptions = { initialDelayMs: 100, maxDelayMs: 2000, maxRetries: 50 };
 * ```
 */
export interface ReconnectOptions {
  /** First delay. Default 200 ms. */
  readonly initialDelayMs?: number;
  /** Largest delay. Default 5000 ms. */
  readonly maxDelayMs?: number;
  /** Growth factor. Default 2. */
  readonly multiplier?: number;
  /** Random spread, 0 … 1 (0.2 = ± 20 %). Default 0.2. */
  readonly jitter?: number;
  /** Reconnection attempts after a connection was lost before giving up. Default Infinity. */
  readonly maxRetries?: number;
  /** Retries of the very first connection (`start()`). Default 0: fail fast. */
  readonly connectRetries?: number;
}

/**
 * Ballerina's `ConnectionConfiguration`, plus reconnection and timeouts. Durations named as in
 * Ballerina are in seconds; the `…Ms` ones are milliseconds.
 *
 * @example
 * ```ts
 * const cfg: ConnectionConfiguration = { username: "app", password: secret, virtualHost: "shop", heartbeat: 30 };
 * ```
 */
export interface ConnectionConfiguration {
  /** Default `"guest"` (with password `"guest"`) unless the host is a URL carrying credentials. */
  readonly username?: string;
  readonly password?: string;
  /** Default `"/"`. */
  readonly virtualHost?: string;
  /** TCP connect timeout in seconds. Default 10. */
  readonly connectionTimeout?: number;
  /** Heartbeat interval in seconds; 0 disables heartbeats. Default: the broker's (60 s). */
  readonly heartbeat?: number;
  /** Connect with TLS (`amqps`); Node `tls` options (ca, cert, key, servername …). */
  readonly secureSocket?: TlsConnectionOptions;
  /** Largest frame accepted from the broker, in bytes. Default 64 MiB (amqplib). */
  readonly maxFrameSize?: number;
  /** Reconnection policy. */
  readonly reconnect?: ReconnectOptions;
  /** Shown by `rabbitmqctl list_connections client_properties`. Default `"pirouette"`. */
  readonly connectionName?: string;
  /**
   * How long an operation (publish, declare, ack …) waits for a lost connection to come back,
   * and a publish for its confirm. Default 30 000 ms.
   */
  readonly operationTimeoutMs?: number;
  /** A pino-compatible logger. Silent by default. */
  readonly logger?: Logger;
}

/**
 * Ballerina's `QueueConfig`. The defaults differ on purpose: Ballerina declares
 * `durable: false, autoDelete: true`, which loses the queue and its messages when the last
 * consumer goes (for instance during a reconnect). Pirouette declares durable queues that stay.
 *
 * @example
 * ```ts
 * const cfg: QueueConfig = { durable: true, arguments: { "x-queue-type": "quorum" } };
 * ```
 */
export interface QueueConfig {
  /** Survive a broker restart. Default true. */
  readonly durable?: boolean;
  /** Used by this connection only and deleted with it. Default false. */
  readonly exclusive?: boolean;
  /** Deleted when its last consumer goes. Default false. */
  readonly autoDelete?: boolean;
  /** `x-queue-type`, `x-dead-letter-exchange`, `x-delivery-limit`, `x-message-ttl` … */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/**
 * Ballerina's `ExchangeConfig`.
 *
 * @example
 * ```ts
 * await client.exchangeDeclare("orders", "topic", { durable: true });
 * ```
 */
export interface ExchangeConfig {
  /** Survive a broker restart. Default true (Ballerina: false). */
  readonly durable?: boolean;
  /** Deleted when its last binding goes. Default false. */
  readonly autoDelete?: boolean;
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/**
 * A binding the listener declares for a service's queue (with `declare: true`), and declares
 * again after every reconnect.
 *
 * @example
 * ```ts
 * { exchange: "orders", exchangeType: "topic", routingKey: "order.*" }
 * ```
 */
export interface QueueBinding {
  readonly exchange: string;
  /** Default `""`. For `topic` exchanges, a pattern such as `"order.*"`. */
  readonly routingKey?: string;
  /** Binding arguments; for `headers` exchanges, e.g. `{ "x-match": "all", region: "eu" }`. */
  readonly arguments?: Readonly<Record<string, unknown>>;
  /** Declare the exchange too, with this type. Default: the exchange must exist. */
  readonly exchangeType?: ExchangeType;
  readonly exchangeConfig?: ExchangeConfig;
}

/**
 * Per-service configuration: `@rabbitmq.ServiceConfig({...})` or the attach options.
 *
 * @example
 * ```ts
 * @rabbitmq.ServiceConfig({ queueName: "orders", bindings: [{ exchange: "shop", routingKey: "order.*" }] })
 * class Orders { onMessage(order: Order) {} }
 * ```
 */
export interface RabbitMqServiceConfig {
  /** The queue to consume. Default: the attach name. */
  readonly queueName?: string;
  /** How to declare the queue (with `declare: true`). */
  readonly config?: QueueConfig;
  /**
   * Let the broker consider a message acknowledged as soon as it is sent (AMQP `noAck`): at
   * most once. Default **false**: Pirouette acknowledges after the handler succeeded (at
   * least once), a deliberate deviation from Ballerina's `autoAck = true`.
   */
  readonly autoAck?: boolean;
  /**
   * `true` (default): declare the queue (and its bindings and dead-letter queue) on start and
   * after each reconnect. `"passive"`: only check that it exists. `false`: do nothing, for
   * queues managed elsewhere with their own arguments.
   */
  readonly declare?: boolean | "passive";
  /** Bindings to declare with the queue (only with `declare: true`). */
  readonly bindings?: readonly QueueBinding[];
  /**
   * `"payload"`: the method receives the decoded payload; `"message"`: the {@link Message}
   * (its `content` decoded and validated when a payload schema is set, else the raw bytes).
   * Default: `"payload"` when a payload schema is set, else `"message"`.
   */
  readonly mode?: "payload" | "message";
}

/**
 * Where failed messages go. By default a service's failures are published, with the error and
 * attempt count in `x-pirouette-*` headers, to the direct exchange `<queue>.dlx`, bound to the
 * durable queue `<queue>.dlq` with the routing key `<queue>` (both declared with the queue when
 * `declare: true`).
 *
 * @example
 * ```ts
 * new rabbitmq.Listener(host, port, qos, { deadLetter: { exchange: "dead-letters" } });
 * ```
 */
export interface DeadLetterOptions {
  /** Exchange to publish to. Default `<queue>.dlx`; the routing key is the queue name. */
  readonly exchange?: string;
  /**
   * Declare the exchange (direct, durable) and a `<queue>.dlq` queue bound to it. Default:
   * true for the default exchange name, false for one you name.
   */
  readonly declare?: boolean;
}

/**
 * Options of {@link Listener}: Ballerina's `ConnectionConfiguration` plus dispatch policy.
 *
 * @example
 * ```ts
 * new rabbitmq.Listener("localhost", 5672, { prefetchCount: 10 }, {
 *   retry: { maxAttempts: 5, initialDelayMs: 200 },
 *   gracefulStopTimeoutMs: 10_000,
 * });
 * ```
 */
export interface RabbitMqListenerOptions extends ConnectionConfiguration, ListenerOptions {
  /** Handlers running at once per service, ≤ prefetchCount. Default: prefetchCount. */
  readonly concurrency?: number;
  /**
   * Ordering key: messages with the same key are handled one at a time, in order. Default none
   * (use `prefetchCount: 1` or `concurrency: 1` for strict queue order).
   */
  readonly orderBy?: "routingKey" | ((message: Message) => string | undefined);
  /** In-process retries of a failing handler. Default: core's (3 attempts, 100 ms × 2, jitter). */
  readonly retry?: RetryPolicy | false;
  /**
   * After the retries: a dead-letter exchange (default), your own target, `"reject"` (nack
   * without requeue: the queue's own `x-dead-letter-exchange` takes it, or the broker drops it),
   * or `false` (no dead-lettering: the message is acknowledged after `onError`).
   */
  readonly deadLetter?: DeadLetterOptions | DeadLetterTarget<Message> | "reject" | false;
  /** After retries. Default `"dead-letter"` (or `"skip"` with `deadLetter: false`). */
  readonly onHandlerFailure?: FailureAction;
  /** For payload binding/validation failures (never retried). Default as `onHandlerFailure`. */
  readonly onBindingFailure?: FailureAction;
  /**
   * A message the broker reports as delivered this many times (`x-delivery-count`, quorum
   * queues) goes to the dead-letter target without running the handler. Default 20.
   */
  readonly maxDeliveries?: number;
  /** Payload codec. Default core's `json()` (1 MiB, depth 64, no prototype pollution). */
  readonly codec?: Codec<unknown>;
}

/**
 * Options of {@link Client}.
 *
 * @example
 * ```ts
 * const client = new rabbitmq.Client("localhost", 5672, { sink: { exchange: "orders", routingKey: "order.created" } });
 * await stream.pipeTo(client);
 * ```
 */
export interface RabbitMqClientOptions extends ConnectionConfiguration {
  /** Where `write` (the `Sink` side) publishes values that are not {@link PublishMessage}s. */
  readonly sink?: { readonly exchange?: string; readonly routingKey: string; readonly properties?: PublishProperties };
  /** Publish with `mandatory` (unroutable messages reject with `RABBITMQ_UNROUTABLE`). Default true. */
  readonly mandatory?: boolean;
  /** Publish persistent messages (delivery mode 2). Default true. */
  readonly persistent?: boolean;
  /** Declare again, after a reconnect, what this client declared (not server-named queues). Default true. */
  readonly recoverTopology?: boolean;
}

/**
 * AMQP basic properties as Pirouette exposes them (Ballerina's `BasicProperties` and the rest).
 *
 * @example
 * ```ts
 * const props: MessageProperties = { contentType: "application/json", correlationId: "42", replyTo: "replies" };
 * ```
 */
export interface MessageProperties {
  readonly replyTo?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly correlationId?: string;
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly messageId?: string;
  /** Seconds since the epoch. */
  readonly timestamp?: number;
  readonly type?: string;
  readonly appId?: string;
  readonly userId?: string;
  readonly expiration?: string;
  readonly priority?: number;
  /** 1: transient, 2: persistent. */
  readonly deliveryMode?: number;
}

/**
 * Properties accepted when publishing.
 *
 * @example
 * ```ts
 * const props: PublishProperties = { expiration: 60_000, persistent: false, headers: { tenant: "acme" } };
 * ```
 */
export interface PublishProperties extends Omit<MessageProperties, "expiration"> {
  /** Per-message TTL in milliseconds. */
  readonly expiration?: string | number;
  /** Override the client's `persistent` default. */
  readonly persistent?: boolean;
}

/**
 * A received message (Ballerina's `AnydataMessage`). `content` is the raw body, or the decoded
 * and validated payload when the service has a payload schema in `"message"` mode.
 *
 * @example
 * ```ts
 * onMessage(msg: rabbitmq.Message, caller: rabbitmq.Caller) {
 *   console.log(msg.routingKey, Buffer.from(msg.content).toString());
 * }
 * ```
 */
export interface Message<T = Uint8Array> {
  readonly content: T;
  readonly routingKey: string;
  readonly exchange: string;
  /** Channel-scoped; meaningless after a reconnect (acks for it are dropped). */
  readonly deliveryTag: number;
  readonly redelivered: boolean;
  /** The queue it was consumed from. */
  readonly queue: string;
  readonly properties: MessageProperties;
}

/**
 * A message to publish (Ballerina's `AnydataMessage` on the producer side). `content`:
 * bytes are sent as is, a string as UTF-8 text, anything else as JSON.
 *
 * @example
 * ```ts
 * await client.publishMessage({ exchange: "orders", routingKey: "order.created", content: { id: "O-1" } });
 * ```
 */
export interface PublishMessage<T = unknown> {
  /** Default `""`: the default exchange, which routes to the queue named by `routingKey`. */
  readonly exchange?: string;
  readonly routingKey: string;
  readonly content: T;
  readonly properties?: PublishProperties;
  /** Override the client's `mandatory` default. */
  readonly mandatory?: boolean;
}

/**
 * What `queueDeclare` reports.
 *
 * @example
 * ```ts
 * const { messageCount } = await client.queueDeclare("orders");
 * ```
 */
export interface QueueInfo {
  readonly queue: string;
  readonly messageCount: number;
  readonly consumerCount: number;
}

/**
 * Options of {@link Client.stream}.
 *
 * @example
 * ```ts
 * for await (const msg of client.stream("jobs", { prefetch: 50, ack: "manual" })) {
 *   await work(msg);
 *   client.basicAck(msg);
 * }
 * ```
 */
export interface StreamOptions {
  /** Unacknowledged messages the broker sends ahead; the stream never buffers more. Default 100. */
  readonly prefetch?: number;
  /**
   * `"auto"` (default): a message is acknowledged when the stream hands it to its consumer,
   * one at a time (a consumer that stops early never acknowledges messages it did not get).
   * `"manual"`: call `client.basicAck(msg)` / `basicNack(msg)`; the broker stops sending at
   * `prefetch` unacknowledged messages, and closing the stream requeues the unacknowledged.
   */
  readonly ack?: "auto" | "manual";
}

/**
 * Options of {@link Client.consumeMessage}.
 *
 * @example
 * ```ts
 * const msg = await client.consumeMessage("jobs", { autoAck: false });
 * ```
 */
export interface ConsumeOptions {
  /** Default true, as Ballerina: the broker forgets the message when it is fetched. */
  readonly autoAck?: boolean;
}
