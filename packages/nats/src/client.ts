/**
 * `nats.Client`: publish, request with a timeout, `subscribe()` as a Stream, JetStream publish
 * with acknowledgement and stream management, and the `Sink` side for `stream.pipeTo(client)`.
 *
 * @module
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { childLogger, json, PushSource, type Codec, type Logger, type Sink, type Stream } from "@pirouette/core";
import { NatsError } from "./errors.ts";
import { Connection, resolveConnectionParams, toNatsError } from "./internal/connection.ts";
import { encodeData, fromMsg, isServiceError, toNatsHeaders } from "./internal/message.ts";
import { checkSubject } from "./internal/subject.ts";
import type {
  JetStreamPublishOptions,
  Message,
  NatsClientOptions,
  PubAck,
  PublishOptions,
  RequestOptions,
  StreamConfig,
  SubjectMessage,
  SubscribeOptions,
} from "./options.ts";

function isSubjectMessage(v: unknown): v is SubjectMessage {
  return typeof v === "object" && v !== null && typeof (v as { subject?: unknown }).subject === "string" && "data" in v;
}

/**
 * JetStream through a {@link Client}: publish with the stream's acknowledgement (and
 * deduplication by `msgId`), and create or delete streams.
 *
 * @example
 * ```ts
 * await client.jetstream.addStream({ name: "ORDERS", subjects: ["orders.>"] });
 * const ack = await client.jetstream.publish("orders.created", { id: "O-1" }, { msgId: "O-1" });
 * console.log(ack.seq);
 * ```
 */
export class JetStream {
  readonly #client: NatsClient;
  #js: JetStreamClient | undefined;
  #jsm: Promise<JetStreamManager> | undefined;

  /** @internal */
  constructor(client: NatsClient) {
    this.#client = client;
  }

  async #api(): Promise<{ js: JetStreamClient; nc: NatsConnection }> {
    const nc = await this.#client.connection();
    this.#js ??= jetstream(nc);
    return { js: this.#js, nc };
  }

  async #manager(): Promise<JetStreamManager> {
    const nc = await this.#client.connection();
    this.#jsm ??= jetstreamManager(nc).catch((e: unknown) => {
      this.#jsm = undefined;
      throw toNatsError(e, "JetStream is not available", "NATS_JETSTREAM");
    });
    return this.#jsm;
  }

  /**
   * Publish to a stream and wait for its acknowledgement: once this resolves the message is
   * stored (and replicated) by JetStream.
   *
   * @throws {NatsError} `NATS_NO_RESPONDERS` (no stream captures the subject), `NATS_TIMEOUT`,
   *   `NATS_JETSTREAM` (expectations not met, …), `NATS_MAX_PAYLOAD`
   */
  async publish(subject: string, data: unknown, options: JetStreamPublishOptions = {}): Promise<PubAck> {
    checkSubject(subject, false);
    const { js } = await this.#api();
    const { data: bytes } = encodeData(data, this.#client.codec);
    const h = toNatsHeaders(options.headers);
    try {
      const ack = await js.publish(subject, bytes, {
        ...(options.msgId === undefined ? {} : { msgID: options.msgId }),
        ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
        ...(h === undefined ? {} : { headers: h }),
        ...(options.expect === undefined ? {} : { expect: { ...options.expect } }),
      });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (e) {
      throw toNatsError(e, `JetStream publish to "${subject}" failed`, "NATS_JETSTREAM", { subject });
    }
  }

  /** Create a stream (or check that an identical one exists). */
  async addStream(config: StreamConfig): Promise<void> {
    const jsm = await this.#manager();
    try {
      await jsm.streams.add({
        name: config.name,
        subjects: [...config.subjects],
        storage: config.storage === "memory" ? StorageType.Memory : StorageType.File,
        retention:
          config.retention === "interest" ? RetentionPolicy.Interest : config.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        ...(config.maxMessages === undefined ? {} : { max_msgs: config.maxMessages }),
        ...(config.maxBytes === undefined ? {} : { max_bytes: config.maxBytes }),
        ...(config.maxAgeMs === undefined ? {} : { max_age: config.maxAgeMs * 1e6 }),
        ...(config.duplicateWindowMs === undefined ? {} : { duplicate_window: config.duplicateWindowMs * 1e6 }),
        ...config.raw,
      });
    } catch (e) {
      throw toNatsError(e, `creating stream "${config.name}" failed`, "NATS_JETSTREAM");
    }
  }

  /** Delete a stream; false when there was none. */
  async deleteStream(name: string): Promise<boolean> {
    const jsm = await this.#manager();
    try {
      return await jsm.streams.delete(name);
    } catch (e) {
      const err = toNatsError(e, `deleting stream "${name}" failed`, "NATS_JETSTREAM");
      if (err.apiCode === 10059) return false;
      throw err;
    }
  }

  /** Message count and sequences of a stream. */
  async streamInfo(name: string): Promise<{ messages: number; firstSeq: number; lastSeq: number; consumers: number }> {
    const jsm = await this.#manager();
    try {
      const i = await jsm.streams.info(name);
      return { messages: i.state.messages, firstSeq: i.state.first_seq, lastSeq: i.state.last_seq, consumers: i.state.consumer_count };
    } catch (e) {
      throw toNatsError(e, `reading stream "${name}" failed`, "NATS_JETSTREAM");
    }
  }
}

/**
 * A NATS client: `publish`, `request` (with a timeout; replies carrying a `Nats-Service-Error`
 * header reject with `NATS_SERVICE_ERROR`), `subscribe()` → a {@link Stream}, `jetstream`
 * (publish with acknowledgement, stream management) and `flush`. It implements {@link Sink},
 * so `stream.pipeTo(client)` publishes every element.
 *
 * Core NATS is fire-and-forget: `publish` is synchronous (as in nats.js, messages published in
 * one tick go out in one write); `flush()` waits until the server has everything published so
 * far. For a delivery guarantee publish through `jetstream`.
 *
 * @example
 * ```ts
 * await using client = new nats.Client("nats://localhost:4222");
 * await client.start();
 * client.publish("orders.created", { id: "O-1" });
 * const reply = await client.request("prices.get", { sku: "A1" }, { timeoutMs: 2000 });
 * for await (const m of client.subscribe("orders.>").take(10)) console.log(m.subject);
 * ```
 */
export class NatsClient implements Sink<unknown>, AsyncDisposable {
  readonly #o: NatsClientOptions;
  readonly #logger: Logger;
  readonly #conn: Connection;
  readonly #sources = new Set<PushSource<Message, NatsError>>();
  /** @internal */
  readonly codec: Codec<unknown>;
  /** JetStream publish and stream management. */
  readonly jetstream: JetStream;
  #nc: NatsConnection | undefined;
  #closed = false;
  /** The last subject that passed the checks (publishers mostly repeat theirs). */
  #lastSubject: string | undefined;

  constructor(url?: string | readonly string[], options: NatsClientOptions = {}) {
    this.#o = options;
    this.#logger = childLogger(options.logger, { client: "nats" });
    this.codec = options.codec ?? json();
    if (options.sink !== undefined) checkSubject(options.sink.subject, false, "sink subject");
    this.#conn = new Connection(resolveConnectionParams(url, options), this.#logger, {
      onFatal: (err) => {
        for (const s of this.#sources) s.fail(err);
        this.#sources.clear();
      },
    });
    this.jetstream = new JetStream(this);
  }

  /** Whether the connection is up. */
  isConnected(): boolean {
    return this.#conn.connected;
  }

  /** Reconnections so far. */
  get reconnects(): number {
    return this.#conn.reconnects;
  }

  /** Connect (also done by the first operation). Rejects with a {@link NatsError}. */
  async start(): Promise<void> {
    await this.connection();
  }

  /** @internal The nats.js connection, once connected. */
  async connection(): Promise<NatsConnection> {
    if (this.#closed) throw new NatsError("NATS_CLOSED", "the nats client is closed");
    if (this.#nc !== undefined) return this.#nc;
    this.#nc = await this.#conn.open();
    return this.#nc;
  }

  /**
   * Publish (core NATS, fire-and-forget), synchronously as nats.js does: the message is
   * buffered and written with the others published in the same tick. Bytes are sent as is,
   * strings as UTF-8, anything else through the codec (JSON by default). Needs a connection:
   * `await client.start()` (or any awaited operation) first. While the connection is being
   * re-established, messages are buffered and sent after the reconnect.
   *
   * @throws {NatsError} `NATS_CONNECTION` (not started yet), `NATS_INVALID_SUBJECT`,
   *   `NATS_MAX_PAYLOAD`, `NATS_CLOSED`, `NATS_ENCODE`
   */
  publish(subject: string, data: unknown, options?: PublishOptions): void {
    const nc = this.#nc;
    if (nc === undefined || this.#closed) {
      throw this.#closed
        ? new NatsError("NATS_CLOSED", "the nats client is closed")
        : new NatsError("NATS_CONNECTION", "the nats client is not connected yet: await client.start() before publishing");
    }
    if (subject !== this.#lastSubject) {
      checkSubject(subject, false);
      this.#lastSubject = subject;
    }
    const { data: bytes } = encodeData(data, this.codec);
    const h = toNatsHeaders(options?.headers);
    const replyTo = options?.replyTo;
    try {
      if (h === undefined && replyTo === undefined) nc.publish(subject, bytes);
      else nc.publish(subject, bytes, { ...(h === undefined ? {} : { headers: h }), ...(replyTo === undefined ? {} : { reply: replyTo }) });
    } catch (e) {
      throw toNatsError(e, `publishing to "${subject}" failed`, "NATS_CONNECTION", { subject });
    }
  }

  /**
   * Request/reply: publish with a reply subject and resolve with the first reply.
   *
   * @throws {NatsError} `NATS_TIMEOUT`, `NATS_NO_RESPONDERS`, `NATS_SERVICE_ERROR` (the
   *   responder failed; `status` holds its code), `NATS_CLOSED`
   */
  async request(subject: string, data: unknown, options: RequestOptions = {}): Promise<Message> {
    const nc = this.#nc ?? (await this.connection());
    if (subject !== this.#lastSubject) {
      checkSubject(subject, false);
      this.#lastSubject = subject;
    }
    const { data: bytes } = encodeData(data, this.codec);
    const h = toNatsHeaders(options.headers);
    const timeout = options.timeoutMs ?? 5000;
    let reply;
    try {
      reply = await nc.request(subject, bytes, { timeout, ...(h === undefined ? {} : { headers: h }) });
    } catch (e) {
      throw toNatsError(e, `request to "${subject}" failed`, "NATS_CONNECTION", { subject });
    }
    const failed = isServiceError(reply);
    if (failed !== undefined) {
      throw new NatsError("NATS_SERVICE_ERROR", `the responder on "${subject}" failed: ${failed.message}`, {
        status: failed.code,
        coordinates: { subject },
      });
    }
    return fromMsg(reply);
  }

  /**
   * Subscribe (wildcards and queue groups allowed) and get the messages as a {@link Stream}.
   * Closing the stream unsubscribes. Core NATS has no flow control: a consumer that falls
   * `limit` messages behind fails the stream with `NATS_BACKPRESSURE` (or drops, per `overflow`).
   * The subscription is registered asynchronously: `await client.flush()` before relying on it.
   */
  subscribe(subject: string, options: SubscribeOptions = {}): Stream<Message, NatsError> {
    checkSubject(subject, true);
    const limit = options.limit ?? 65_536;
    let sub: Subscription | undefined;
    const overflow = options.overflow ?? "error";
    const source: PushSource<Message, NatsError> = new PushSource<Message, NatsError>({
      highWaterMark: limit,
      limit,
      overflow,
      // Needed for drop-oldest to drop at all (core PushSource only shifts when onDrop is set).
      onDrop: () => undefined,
      onClose: () => {
        this.#sources.delete(source);
        sub?.unsubscribe();
      },
    });
    const attach = (nc: NatsConnection): void => {
      if (source.isClosed) return;
      try {
        sub = nc.subscribe(subject, {
          ...(options.queue === undefined ? {} : { queue: options.queue }),
          ...(options.max === undefined ? {} : { max: options.max }),
          callback: (err, msg) => {
            if (err !== null) {
              source.fail(toNatsError(err, `the subscription to "${subject}" failed`));
              return;
            }
            if (overflow === "error" && source.buffered >= limit) {
              source.fail(
                new NatsError("NATS_BACKPRESSURE", `the subscribe() stream on "${subject}" is ${limit} messages behind; core NATS cannot slow the publisher down`, {
                  coordinates: { subject },
                }),
              );
              sub?.unsubscribe();
              return;
            }
            if (!source.push(fromMsg(msg)) && source.isClosed) sub?.unsubscribe();
          },
        });
      } catch (e) {
        source.fail(toNatsError(e, `subscribing to "${subject}" failed`));
        return;
      }
      void sub.closed.then(() => source.end());
      this.#sources.add(source);
    };
    if (this.#nc !== undefined) attach(this.#nc);
    else this.connection().then(attach, (e: unknown) => source.fail(toNatsError(e, "cannot subscribe")));
    return source.stream;
  }

  /** Resolve once the server has processed everything sent so far (publishes, subscriptions). */
  async flush(): Promise<void> {
    const nc = await this.connection();
    try {
      await nc.flush();
    } catch (e) {
      throw toNatsError(e, "flush failed");
    }
  }

  /** {@link Sink}: publish `value` (a `{ subject, data, headers? }` object, or any data with `options.sink`). */
  async write(value: unknown): Promise<void> {
    const sink = this.#o.sink;
    if (this.#nc === undefined) await this.connection();
    if (sink !== undefined) {
      if (sink.jetstream === true) await this.jetstream.publish(sink.subject, value);
      else this.publish(sink.subject, value);
      return;
    }
    if (isSubjectMessage(value)) {
      this.publish(value.subject, value.data, value.headers === undefined ? {} : { headers: value.headers });
      return;
    }
    throw new NatsError("NATS_INVALID_CONFIG", "write() needs { subject, data } or the client's `sink` option");
  }

  /** {@link Sink}: publish a chunk (JetStream acknowledgements awaited together). */
  async writeMany(values: readonly unknown[]): Promise<void> {
    await Promise.all(values.map((v) => this.write(v)));
  }

  /** Flush, then close: subscription streams end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#conn.close();
    for (const s of this.#sources) s.end();
    this.#sources.clear();
  }

  /** {@link Sink}: the source failed; close. */
  async abort(_reason: unknown): Promise<void> {
    await this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
