/**
 * `mqtt.Client`: publish (QoS 0/1/2, retained), subscribe, `receive()` as a Stream, MQTT 5
 * request/response, a bounded offline queue, and the `Sink` side for `stream.pipeTo(client)`.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import type { IPublishPacket } from "mqtt";
import { childLogger, injectTraceContext, json, PushSource, type Codec, type Logger, type Sink, type Stream } from "@pirouette/core";
import { MqttError } from "./errors.ts";
import { Connection, resolveConnectionParams, type ConnectionParams } from "./internal/connection.ts";
import { encodeForPublish, toMessage, toPacketProperties } from "./internal/encode.ts";
import { checkTopicFilter, checkTopicName, normalizeSubscriptions, type ResolvedSubscription } from "./internal/topic.ts";
import type {
  DeliveryToken,
  Message,
  MqttClientOptions,
  PublishMessage,
  QoS,
  ReceiveOptions,
  RequestOptions,
  Subscriptions,
  TopicMessage,
} from "./options.ts";

/**
 * A subscription as the broker granted it (`qos` is the granted QoS).
 *
 * @example
 * ```ts
 * const [granted] = await client.subscribe({ topic: "alerts/#", qos: 2 });
 * if (granted?.qos !== 2) log.warn("downgraded");
 * ```
 */
export interface GrantedSubscription {
  readonly topic: string;
  readonly qos: number;
}

interface PendingRequest {
  readonly resolve: (m: Message) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

function isTopicMessage(v: unknown): v is TopicMessage {
  return typeof v === "object" && v !== null && typeof (v as { topic?: unknown }).topic === "string" && "payload" in v;
}

function isQoS(x: unknown): x is QoS {
  return x === 0 || x === 1 || x === 2;
}

/**
 * Ballerina's `mqtt:Client`: `publish(topic, message)` → a {@link DeliveryToken} once the broker
 * has it, `subscribe`, `receive()` → a {@link Stream} of the subscribed messages (reading from
 * the broker pauses while the stream's consumer is behind), `request` for MQTT 5
 * request/response, `isConnected`, `disconnect`, `reconnect`, `close`. It implements
 * {@link Sink}, so `stream.pipeTo(client)` publishes every element.
 *
 * The connection opens on `start()` or the first operation and recovers by itself (capped
 * exponential backoff with jitter, subscriptions restored). While it is down, publishes are
 * queued and sent after the reconnect, up to `maxQueuedMessages` / `maxQueuedBytes`: beyond,
 * `publish` fails at once with `MQTT_BACKPRESSURE` instead of growing memory without bound.
 *
 * @example
 * ```ts
 * await using client = new mqtt.Client("mqtt://localhost:1883", "sensor-7");
 * await client.publish("sensors/7/temperature", { payload: { celsius: 21.5 }, qos: 1 });
 * await client.subscribe("commands/7/#");
 * for await (const cmd of client.receive().take(1)) console.log(cmd.topic);
 * ```
 */
export class MqttClient implements Sink<unknown>, AsyncDisposable {
  readonly #o: MqttClientOptions;
  readonly #params: ConnectionParams;
  readonly #logger: Logger;
  readonly #codec: Codec<unknown>;
  readonly #defaultCodec: boolean;
  readonly #maxQueued: number;
  readonly #maxQueuedBytes: number;
  readonly #defaultQos: QoS;
  readonly #receiveBuffer: number;
  readonly #responseTopic: string;
  readonly #subs = new Map<string, ResolvedSubscription>();
  readonly #sources = new Set<PushSource<Message, MqttError>>();
  readonly #requests = new Map<string, PendingRequest>();
  #early: Message[] = [];
  #earlyDropped = 0;
  #conn: Connection;
  #starting: Promise<void> | undefined;
  #started = false;
  #closed = false;
  #queued = 0;
  #queuedBytes = 0;
  #responseSub: Promise<unknown> | undefined;
  /** The last topic name that passed the checks (publishers mostly repeat theirs). */
  #lastTopic: string | undefined;

  constructor(serverUri?: string, clientId?: string, options: MqttClientOptions = {}) {
    this.#o = options;
    this.#logger = childLogger(options.logger, { client: "mqtt" });
    this.#codec = options.codec ?? json();
    this.#defaultCodec = options.codec === undefined;
    this.#params = resolveConnectionParams(serverUri, clientId, options, this.#codec);
    this.#maxQueued = options.maxQueuedMessages ?? 10_000;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 16 * 1024 * 1024;
    if (!(this.#maxQueued >= 1) || !(this.#maxQueuedBytes >= 1)) {
      throw new MqttError("MQTT_INVALID_CONFIG", "maxQueuedMessages and maxQueuedBytes must be >= 1");
    }
    this.#defaultQos = options.defaultQos ?? 1;
    if (!isQoS(this.#defaultQos)) throw new MqttError("MQTT_INVALID_CONFIG", "defaultQos must be 0, 1 or 2");
    this.#receiveBuffer = options.receiveBuffer ?? 1000;
    this.#responseTopic = checkTopicName(options.responseTopic ?? `pirouette/responses/${this.#params.clientId}`);
    if (options.sink !== undefined) {
      checkTopicName(options.sink.topic);
      if (options.sink.qos !== undefined && !isQoS(options.sink.qos)) throw new MqttError("MQTT_INVALID_CONFIG", "sink.qos must be 0, 1 or 2");
    }
    this.#conn = this.#newConnection();
  }

  #newConnection(): Connection {
    return new Connection(this.#params, this.#logger, {
      onPublish: (packet) => this.#onPublish(packet),
      onFatal: (err) => this.#failAll(err),
    });
  }

  /** The client identifier (generated when none was given). */
  get clientId(): string {
    return this.#params.clientId;
  }

  /** Publishes accepted and not yet completed (queued offline or awaiting the broker's ack). */
  get queued(): number {
    return this.#queued;
  }

  /** Reconnections so far (of the current connection). */
  get reconnects(): number {
    return this.#conn.reconnects;
  }

  /** Ballerina's `isConnected()`. */
  isConnected(): boolean {
    return this.#conn.connected;
  }

  /** Connect (also done by the first operation). Rejects with an {@link MqttError}. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new MqttError("MQTT_CLOSED", "the mqtt client is closed"));
    this.#starting ??= this.#conn.open().then(
      () => {
        this.#started = true;
      },
      (e: unknown) => {
        this.#starting = undefined;
        throw e;
      },
    );
    return this.#starting;
  }

  async #ready(): Promise<void> {
    if (this.#closed) throw new MqttError("MQTT_CLOSED", "the mqtt client is closed");
    if (!this.#started) await this.start();
  }

  // ---------------------------------------------------------------- publishing

  /**
   * Publish `message` to `topic`. Resolves with a {@link DeliveryToken} once the broker has it
   * (PUBACK for QoS 1, PUBCOMP for QoS 2, written for QoS 0).
   *
   * @throws {MqttError} `MQTT_INVALID_TOPIC`, `MQTT_BACKPRESSURE` (offline queue full),
   *   `MQTT_PACKET_TOO_LARGE`, `MQTT_PUBLISH_FAILED`, `MQTT_CLOSED`, `MQTT_ENCODE`
   */
  publish(topic: string, message: PublishMessage): Promise<DeliveryToken> {
    if (!this.#started) return this.#ready().then(() => this.publish(topic, message));
    try {
      if (topic !== this.#lastTopic) {
        checkTopicName(topic);
        this.#lastTopic = topic;
      }
      if (typeof message !== "object" || message === null || !("payload" in message)) {
        throw new MqttError("MQTT_INVALID_CONFIG", "publish() needs a message: { payload, qos?, retained?, properties? }");
      }
      const qos = message.qos ?? this.#defaultQos;
      if (!isQoS(qos)) throw new MqttError("MQTT_INVALID_CONFIG", "qos must be 0, 1 or 2");
      if (this.#closed) throw new MqttError("MQTT_CLOSED", "the mqtt client is closed");
      const { payload, bytes, contentType } = encodeForPublish(message.payload, this.#codec, this.#defaultCodec);
      if (this.#queued >= this.#maxQueued || this.#queuedBytes + bytes > this.#maxQueuedBytes) {
        throw new MqttError(
          "MQTT_BACKPRESSURE",
          `${this.#queued} publishes (${this.#queuedBytes} bytes) are queued ${this.#conn.connected ? "awaiting the broker" : "while disconnected"}; the limit is ${this.#maxQueued} messages / ${this.#maxQueuedBytes} bytes`,
          { coordinates: { topic } },
        );
      }
      if (message.properties !== undefined && !this.#conn.v5) {
        this.#logger.debug({ topic }, "MQTT 3.1.1: message properties are not sent");
      }
      const props = this.#conn.v5
        ? toPacketProperties(message.properties, this.#o.sendContentType === true ? contentType : undefined, injectTraceContext({}))
        : undefined;
      this.#queued++;
      this.#queuedBytes += bytes;
      return this.#conn.publish(topic, payload, qos, message.retained ?? false, props, () => {
        this.#queued--;
        this.#queuedBytes -= bytes;
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@link Sink}: publish `value` (a `{ topic, payload, … }` object, or any payload with `options.sink`). */
  write(value: unknown): Promise<DeliveryToken> {
    const sink = this.#o.sink;
    if (sink !== undefined) {
      return this.publish(sink.topic, {
        payload: value,
        ...(sink.qos === undefined ? {} : { qos: sink.qos }),
        ...(sink.retained === undefined ? {} : { retained: sink.retained }),
      });
    }
    if (isTopicMessage(value)) {
      const { topic, ...message } = value;
      return this.publish(topic, message);
    }
    return Promise.reject(new MqttError("MQTT_INVALID_CONFIG", "write() needs { topic, payload } or the client's `sink` option"));
  }

  /** {@link Sink}: publish a chunk; acknowledgements are awaited together. */
  async writeMany(values: readonly unknown[]): Promise<void> {
    await Promise.all(values.map((v) => this.write(v)));
  }

  // ---------------------------------------------------------------- subscribing

  /**
   * Subscribe (Ballerina's `string|string[]|Subscription|Subscription[]`; QoS 1 by default).
   * Subscriptions are restored after a reconnect that lost the session. Messages arrive
   * through {@link receive}.
   *
   * @throws {MqttError} `MQTT_INVALID_TOPIC`, `MQTT_SUBSCRIBE_FAILED`, `MQTT_CONNECTION`
   */
  async subscribe(subscriptions: Subscriptions): Promise<GrantedSubscription[]> {
    const subs = normalizeSubscriptions(subscriptions);
    await this.#ready();
    for (const s of subs) this.#subs.set(s.topic, s);
    return this.#conn.subscribe(subs);
  }

  /** Unsubscribe from topic filters. */
  async unsubscribe(topics: string | readonly string[]): Promise<void> {
    const list = typeof topics === "string" ? [topics] : [...topics];
    for (const t of list) {
      checkTopicFilter(t);
      this.#subs.delete(t);
    }
    await this.#conn.unsubscribe(list);
  }

  /**
   * Ballerina's `receive()`: a {@link Stream} of the messages of this client's subscriptions
   * (responses to {@link request} excepted). Messages that arrived before the first stream was
   * opened (up to `receiveBuffer`) come first. While a stream holds `highWaterMark` messages
   * its consumer has not taken, the client stops reading from the broker. The stream ends when
   * the client closes and fails with the connection's error if it is lost for good.
   *
   * QoS 1/2 messages are acknowledged to the broker when they enter the stream's buffer: use
   * the {@link Listener} for acknowledgement after handling.
   */
  receive(options: ReceiveOptions = {}): Stream<Message, MqttError> {
    const source: PushSource<Message, MqttError> = new PushSource<Message, MqttError>({
      highWaterMark: options.highWaterMark ?? 1024,
      limit: Number.MAX_SAFE_INTEGER,
      onClose: () => {
        this.#sources.delete(source);
      },
    });
    if (this.#closed) {
      source.end();
      return source.stream;
    }
    const fatal = this.#conn.fatalError;
    if (fatal !== undefined) {
      source.fail(fatal);
      return source.stream;
    }
    this.#sources.add(source);
    if (this.#early.length > 0) {
      for (const m of this.#early) source.push(m);
      this.#early = [];
    }
    return source.stream;
  }

  /**
   * MQTT 5 request/response: publish with this client's response topic and a fresh
   * correlation id, and resolve with the response (see `caller.respond` on the listener side).
   *
   * @throws {MqttError} `MQTT_TIMEOUT`, `MQTT_PROTOCOL` (MQTT 3.1.1), and the publish errors
   */
  async request(topic: string, message: PublishMessage, options: RequestOptions = {}): Promise<Message> {
    await this.#ready();
    if (!this.#conn.v5) throw new MqttError("MQTT_PROTOCOL", "request/response needs MQTT 5 (response topic and correlation data)");
    this.#responseSub ??= this.#conn.subscribe(normalizeSubscriptions({ topic: this.#responseTopic, qos: 1 })).catch((e: unknown) => {
      this.#responseSub = undefined;
      throw e;
    });
    await this.#responseSub;
    const timeoutMs = options.timeoutMs ?? 5000;
    const correlation = randomBytes(12);
    const id = correlation.toString("hex");
    const response = new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(id);
        reject(new MqttError("MQTT_TIMEOUT", `no response on "${topic}" within ${timeoutMs} ms`, { coordinates: { topic } }));
      }, timeoutMs);
      this.#requests.set(id, { resolve, reject, timer });
    });
    try {
      await this.publish(topic, {
        ...message,
        properties: { ...message.properties, responseTopic: this.#responseTopic, correlationData: correlation },
      });
    } catch (e) {
      const pending = this.#requests.get(id);
      if (pending !== undefined) {
        clearTimeout(pending.timer);
        this.#requests.delete(id);
      }
      response.catch(() => undefined);
      throw e;
    }
    return response;
  }

  #onPublish(packet: IPublishPacket): Promise<unknown> | undefined {
    const message = toMessage(packet);
    if (message.topic === this.#responseTopic) {
      const corr = message.properties?.correlationData;
      const id = corr === undefined ? undefined : Buffer.from(corr).toString("hex");
      const pending = id === undefined ? undefined : this.#requests.get(id);
      if (pending !== undefined && id !== undefined) {
        clearTimeout(pending.timer);
        this.#requests.delete(id);
        pending.resolve(message);
        return undefined;
      }
      if (!this.#subs.has(this.#responseTopic)) {
        this.#logger.debug({ topic: message.topic }, "late or unknown response dropped");
        return undefined;
      }
    }
    if (this.#sources.size === 0) {
      this.#early.push(message);
      if (this.#early.length > this.#receiveBuffer) {
        this.#early.shift();
        if (this.#earlyDropped++ === 0) this.#logger.warn({ receiveBuffer: this.#receiveBuffer }, "no receive() stream is open: oldest messages dropped");
      }
      return undefined;
    }
    let full = false;
    for (const s of this.#sources) if (!s.push(message)) full = true;
    if (!full) return undefined;
    // Stop reading from the broker until every stream's consumer has caught up.
    return Promise.all([...this.#sources].map((s) => s.ready()));
  }

  // ---------------------------------------------------------------- lifecycle

  /** Ballerina's `disconnect()`: send DISCONNECT; `reconnect()` connects again. */
  async disconnect(): Promise<void> {
    await this.#conn.close();
  }

  /** Ballerina's `reconnect()`: a new connection with the same settings and subscriptions. */
  async reconnect(): Promise<void> {
    if (this.#closed) throw new MqttError("MQTT_CLOSED", "the mqtt client is closed");
    await this.#conn.close();
    this.#conn = this.#newConnection();
    this.#responseSub = undefined;
    this.#started = false;
    this.#starting = undefined;
    await this.start();
    if (this.#subs.size > 0) await this.#conn.subscribe([...this.#subs.values()]);
  }

  /** Close: in-flight publishes get up to 5 s; streams end; pending requests fail with `MQTT_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#conn.close();
    const err = new MqttError("MQTT_CLOSED", "the mqtt client was closed");
    for (const [id, r] of this.#requests) {
      clearTimeout(r.timer);
      r.reject(err);
      this.#requests.delete(id);
    }
    for (const s of this.#sources) s.end();
    this.#sources.clear();
    this.#early = [];
  }

  /** {@link Sink}: the source failed; close. */
  async abort(_reason: unknown): Promise<void> {
    await this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #failAll(err: MqttError): void {
    this.#logger.error({ err }, "mqtt client connection closed for good");
    for (const [id, r] of this.#requests) {
      clearTimeout(r.timer);
      r.reject(err);
      this.#requests.delete(id);
    }
    for (const s of this.#sources) s.fail(err);
    this.#sources.clear();
  }
}

