/**
 * Public option, configuration and message types of `@pirouette/nats`.
 *
 * @module
 */
import type { Codec, DeadLetterTarget, FailureAction, ListenerOptions, Logger, RetryPolicy } from "@pirouette/core";

/**
 * Ballerina's `nats:DEFAULT_URL`.
 *
 * @example
 * ```ts
 * new nats.Listener(nats.DEFAULT_URL);
 * ```
 */
export const DEFAULT_URL = "nats://localhost:4222";

/**
 * Message headers: one value, or several for a repeated header.
 *
 * @example
 * ```ts
 * client.publish("orders.created", order, { headers: { tenant: "acme", tags: ["eu", "vip"] } });
 * ```
 */
export type Headers = Readonly<Record<string, string | readonly string[]>>;

/**
 * Where a JetStream message stands: its stream and consumer, sequences and delivery count.
 *
 * @example
 * ```ts
 * if (msg.jetstream && msg.jetstream.deliveryCount > 1) log.info("redelivered");
 * ```
 */
export interface JetStreamInfo {
  readonly stream: string;
  readonly consumer: string;
  readonly streamSequence: number;
  readonly consumerSequence: number;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  /** Messages still pending for the consumer. */
  readonly pending: number;
  /** When the stream stored the message, in ms since the epoch. */
  readonly timestampMs: number;
}

/**
 * A received message (Ballerina's `nats:AnydataMessage`). `content` is the raw bytes, or the
 * decoded and validated payload when the service has a payload schema in `"message"` mode.
 *
 * @example
 * ```ts
 * onMessage(msg: nats.Message, caller: nats.Caller) {
 *   console.log(msg.subject, Buffer.from(msg.content).toString());
 * }
 * ```
 */
export interface Message<T = Uint8Array> {
  readonly content: T;
  readonly subject: string;
  /** The reply subject of a request. */
  readonly replyTo: string | undefined;
  readonly headers: Headers | undefined;
  /** Set for messages from a JetStream consumer. */
  readonly jetstream: JetStreamInfo | undefined;
}

/**
 * Reconnection after a lost connection: capped exponential backoff with jitter (the first
 * attempt is immediate, as in nats.js). The n-th delay is about `initialDelayMs × multiplier^(n−2)`,
 * at most `maxDelayMs`, spread by ± `jitter`.
 *
 * @example
 * ```ts
 * const reconnect: ReconnectOptions = { initialDelayMs: 100, maxDelayMs: 5000 };
 * ```
 */
export interface ReconnectOptions {
  /** Default 250 ms. */
  readonly initialDelayMs?: number;
  /** Default 5000 ms. */
  readonly maxDelayMs?: number;
  /** Default 2. */
  readonly multiplier?: number;
  /** 0 … 1 (0.2 = ± 20 %). Default 0.2. */
  readonly jitter?: number;
  /** Reconnection attempts after a loss before giving up. Default Infinity (nats.js: 10). */
  readonly maxRetries?: number;
  /** Retries of the very first connection (`start()`). Default 0: fail fast. */
  readonly connectRetries?: number;
}

/**
 * Ballerina's `nats:ConnectionConfiguration`. Durations named as in Ballerina are in seconds.
 *
 * @example
 * ```ts
 * const cfg: ConnectionConfiguration = { connectionName: "billing", auth: { token: secret } };
 * ```
 */
export interface ConnectionConfiguration {
  /** Shown in the server's connection list. Default `"pirouette"`. */
  readonly connectionName?: string;
  readonly auth?: { readonly username: string; readonly password: string } | { readonly token: string };
  /** TLS: PEM strings or file paths (nats.js `TlsOptions`). */
  readonly secureSocket?: {
    readonly ca?: string;
    readonly caFile?: string;
    readonly cert?: string;
    readonly certFile?: string;
    readonly key?: string;
    readonly keyFile?: string;
    readonly handshakeFirst?: boolean;
  };
  /** Seconds to wait for the connection. Default 20 (nats.js). */
  readonly connectionTimeout?: number;
  /** Ping interval in seconds and unanswered pings before the connection is considered stale. Defaults 120 and 2. */
  readonly ping?: { readonly pingInterval?: number; readonly maxPingsOut?: number };
  /** Default `"_INBOX"`. */
  readonly inboxPrefix?: string;
  /** Do not receive what this connection publishes. Default false. */
  readonly noEcho?: boolean;
  readonly reconnect?: ReconnectOptions;
  /** A pino-compatible logger. Silent by default. */
  readonly logger?: Logger;
}

/**
 * A JetStream durable pull consumer for a service (`ServiceConfig({ jetstream: {...} })`). The
 * consumer is created when missing (`declare: true`); an existing one is used as it is.
 *
 * @example
 * ```ts
 * @nats.ServiceConfig({ subject: "orders.created", jetstream: { stream: "ORDERS", durable: "billing", maxDeliver: 5 } })
 * class Billing { async onMessage(o: Order) { await bill(o); } }
 * ```
 */
export interface JetStreamServiceConfig {
  readonly stream: string;
  /** The durable consumer's name. */
  readonly durable: string;
  /** Create the consumer when it does not exist (default true). `false`: it must exist. */
  readonly declare?: boolean;
  /** Seconds the server waits for an ack before redelivering. Default 30. Long handlers send "in progress" automatically. */
  readonly ackWait?: number;
  /**
   * Deliveries of one message, at most: after a failure on the last one the message is
   * dead-lettered (or given to `onError`) and terminated. Default 5. An existing consumer's
   * own `max_deliver` wins.
   */
  readonly maxDeliver?: number;
  /** Where a new consumer starts. Default `"all"`. */
  readonly deliverPolicy?: "all" | "new" | "last" | "last_per_subject";
  /** Unacknowledged messages the server lets the consumer have. Default: the listener's `maxInFlight`. */
  readonly maxAckPending?: number;
}

/**
 * Per-service configuration: `@nats.ServiceConfig({...})` or the attach options (Ballerina's
 * `nats:ServiceConfig` plus JetStream and binding).
 *
 * @example
 * ```ts
 * await listener.attach(svc, { subject: "orders.*", queueName: "billing" });
 * ```
 */
export interface NatsServiceConfig {
  /** Subject (`*` and `>` wildcards allowed). Default: the attach name. */
  readonly subject?: string;
  /** Queue group: each message goes to one member of the group. */
  readonly queueName?: string;
  /**
   * Core NATS: messages accepted while the handlers are busy, at most (beyond, they are dropped
   * and `onError` hears `NATS_SLOW_CONSUMER`, as NATS's own slow-consumer handling).
   * Defaults 65 536 messages and 64 MiB.
   */
  readonly pendingLimits?: { readonly maxMessages?: number; readonly maxBytes?: number };
  /**
   * `"payload"`: the method receives the decoded payload; `"message"`: the {@link Message}
   * (its `content` decoded and validated when a payload schema is set, else the raw bytes).
   * Default: `"payload"` when a payload schema is set, else `"message"` (Ballerina).
   */
  readonly mode?: "payload" | "message";
  /** Consume from a JetStream durable consumer instead of a core subscription. */
  readonly jetstream?: JetStreamServiceConfig;
}

/**
 * Where failed messages go: published with the original content and headers plus
 * `x-pirouette-*` headers (error, attempts, original subject and sequence).
 *
 * @example
 * ```ts
 * new nats.Listener(url, { deadLetter: { subject: (m) => `dead.${m.subject}` } });
 * ```
 */
export interface DeadLetterOptions {
  readonly subject: string | ((message: Message) => string);
  /**
   * Publish through JetStream and wait for the stream's acknowledgement (a stream must capture
   * the subject). Default: true for JetStream services, false for core ones.
   */
  readonly jetstream?: boolean;
}

/**
 * Options of {@link Listener}: Ballerina's `ConnectionConfiguration` plus dispatch policy.
 *
 * @example
 * ```ts
 * new nats.Listener("nats://localhost:4222", { concurrency: 8, retry: { maxAttempts: 5, initialDelayMs: 200 } });
 * ```
 */
export interface NatsListenerOptions extends ConnectionConfiguration, ListenerOptions {
  /** Handlers running at once per service. Default 1. */
  readonly concurrency?: number;
  /** Accepted and unsettled messages per service (JetStream: pulled ahead). Default max(16, 2 × concurrency). */
  readonly maxInFlight?: number;
  /** Ordering key: same key, one at a time in order. Default none (use `concurrency: 1` for strict order). */
  readonly orderBy?: "subject" | ((message: Message) => string | undefined);
  /**
   * Core NATS: in-process retries of a failing handler (default core's: 3 attempts, 100 ms × 2).
   * JetStream: the delays of the redeliveries (`nak` with delay `initialDelayMs × multiplier^(n−1)`);
   * there the server redelivers, up to `maxDeliver`.
   */
  readonly retry?: RetryPolicy | false;
  /** After the retries (JetStream: the last delivery): a dead-letter subject, your own target, or `false` (default). */
  readonly deadLetter?: DeadLetterOptions | DeadLetterTarget<Message> | false;
  readonly onHandlerFailure?: FailureAction;
  readonly onBindingFailure?: FailureAction;
  /** Payload codec. Default core's `json()` (1 MiB, depth 64, no prototype pollution). */
  readonly codec?: Codec<unknown>;
}

/**
 * Options of {@link Client}.
 *
 * @example
 * ```ts
 * const client = new nats.Client(url, { sink: { subject: "events", jetstream: true } });
 * await events.pipeTo(client);
 * ```
 */
export interface NatsClientOptions extends ConnectionConfiguration {
  /** Codec for payloads that are neither bytes nor strings. Default core's `json()`. */
  readonly codec?: Codec<unknown>;
  /** Where `write` (the `Sink` side) publishes values that are not `{ subject, data }` objects. */
  readonly sink?: { readonly subject: string; readonly jetstream?: boolean };
}

/**
 * Options of {@link Client.publish}.
 *
 * @example
 * ```ts
 * client.publish("jobs.run", job, { replyTo: "jobs.done", headers: { priority: "high" } });
 * ```
 */
export interface PublishOptions {
  readonly headers?: Headers;
  /** A reply subject for the receiver. */
  readonly replyTo?: string;
}

/**
 * Options of {@link Client.request}.
 *
 * @example
 * ```ts
 * await client.request("prices.get", { sku: "A1" }, { timeoutMs: 1000 });
 * ```
 */
export interface RequestOptions {
  /** Default 5000 ms. */
  readonly timeoutMs?: number;
  readonly headers?: Headers;
}

/**
 * Options of {@link Client.subscribe}.
 *
 * @example
 * ```ts
 * for await (const m of client.subscribe("sensors.>", { queue: "workers", limit: 10_000, overflow: "drop-oldest" })) handle(m);
 * ```
 */
export interface SubscribeOptions {
  readonly queue?: string;
  /** Unsubscribe after this many messages (the stream then ends). */
  readonly max?: number;
  /**
   * Messages the stream buffers for a slow consumer. Core NATS has no flow control: beyond it,
   * `overflow` decides. Default 65 536.
   */
  readonly limit?: number;
  /** `"error"` (default): fail the stream with `NATS_BACKPRESSURE`; or drop the newest/oldest. */
  readonly overflow?: "error" | "drop-newest" | "drop-oldest";
}

/**
 * Options of {@link JetStream.publish}.
 *
 * @example
 * ```ts
 * await client.jetstream.publish("orders.created", order, { msgId: order.id, expect: { streamName: "ORDERS" } });
 * ```
 */
export interface JetStreamPublishOptions {
  /** Deduplication id (`Nats-Msg-Id`): the stream stores one message per id within its window. */
  readonly msgId?: string;
  readonly headers?: Headers;
  /** Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Optimistic concurrency: fail unless the stream/subject is where you expect. */
  readonly expect?: {
    readonly streamName?: string;
    readonly lastSequence?: number;
    readonly lastSubjectSequence?: number;
    readonly lastMsgID?: string;
  };
}

/**
 * The stream's acknowledgement of a JetStream publish.
 *
 * @example
 * ```ts
 * const { stream, seq, duplicate } = await client.jetstream.publish("orders.created", order, { msgId: order.id });
 * ```
 */
export interface PubAck {
  readonly stream: string;
  readonly seq: number;
  /** The stream already had a message with this `msgId`. */
  readonly duplicate: boolean;
}

/**
 * A stream to create with {@link JetStream.addStream} (the common fields; `raw` passes any
 * other nats.js `StreamConfig` field).
 *
 * @example
 * ```ts
 * await client.jetstream.addStream({ name: "ORDERS", subjects: ["orders.>"], maxAgeMs: 86_400_000 });
 * ```
 */
export interface StreamConfig {
  readonly name: string;
  readonly subjects: readonly string[];
  /** Default `"file"`. */
  readonly storage?: "file" | "memory";
  /** Default `"limits"`. */
  readonly retention?: "limits" | "interest" | "workqueue";
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  readonly maxAgeMs?: number;
  /** Deduplication window for `msgId`, ms. Default 2 minutes (server). */
  readonly duplicateWindowMs?: number;
  readonly raw?: Readonly<Record<string, unknown>>;
}

/**
 * A subject/data pair, what the client's `Sink` side accepts without a `sink` option.
 *
 * @example
 * ```ts
 * await events.map((e): nats.SubjectMessage => ({ subject: `events.${e.kind}`, data: e })).pipeTo(client);
 * ```
 */
export interface SubjectMessage<T = unknown> {
  readonly subject: string;
  readonly data: T;
  readonly headers?: Headers;
}
