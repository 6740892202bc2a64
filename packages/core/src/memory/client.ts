/**
 * `memory.Client`: publish to and consume from the in-memory broker.
 *
 * @module
 */
import { PushSource } from "../stream/push-source.ts";
import type { Stream } from "../stream/stream.ts";
import type { Sink } from "../stream/sink.ts";
import { ClosedError, PirouetteError } from "../errors.ts";
import { Broker, type Member, type Message } from "./broker.ts";
import { encodeValue } from "./encode.ts";

/** Options for {@link Client}. */
export interface MemoryClientOptions {
  /** Default: `Broker.default`. */
  readonly broker?: Broker;
  /** Topic used by `write` (the {@link Sink} side). */
  readonly topic?: string;
}

/** Options for {@link Client.publish}. */
export interface PublishOptions {
  readonly key?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Options for {@link Client.subscribe}. */
export interface SubscribeOptions {
  /** Consumer group. Default: a fresh group per subscription (every message). */
  readonly groupId?: string;
  readonly offsetReset?: "earliest" | "latest";
  /** Buffered messages before the broker holds back. Default 256. */
  readonly highWaterMark?: number;
}

let anonymous = 0;

/**
 * Publish to the in-memory broker and consume topics as streams. Implements {@link Sink}, so a
 * stream can be piped into it.
 *
 * @example
 * ```ts
 * const client = new memory.Client({ topic: "orders" });
 * await client.publish("orders", { id: 1 }, { key: "customer-7" });
 * for await (const msg of client.subscribe("orders").take(1)) console.log(msg.offset);
 * await Stream.of({ id: 2 }, { id: 3 }).pipeTo(client); // writes to "orders"
 * ```
 */
export class Client implements Sink<unknown>, AsyncDisposable {
  readonly #broker: Broker;
  readonly #topic: string | undefined;
  #closed = false;

  constructor(options: MemoryClientOptions = {}) {
    this.#broker = options.broker ?? Broker.default;
    this.#topic = options.topic;
  }

  /** Publish bytes, a string (UTF-8) or any JSON value. Resolves with the offset. */
  publish(topic: string, value: unknown, options: PublishOptions = {}): Promise<number> {
    if (this.#closed) return Promise.reject(new ClosedError("memory client is closed"));
    try {
      const { bytes, contentType } = encodeValue(value);
      return Promise.resolve(
        this.#broker.publish(topic, bytes, { key: options.key, headers: { "content-type": contentType, ...options.headers } }),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A stream of a topic's messages; each is acknowledged when the consumer takes it. */
  subscribe(topic: string, options: SubscribeOptions = {}): Stream<Message, Error> {
    const groupId = options.groupId ?? `anonymous-${++anonymous}`;
    let member: Member | undefined;
    const src = new PushSource<Message, Error>({
      highWaterMark: options.highWaterMark ?? 256,
      onResume: () => this.#broker.ready(topic, groupId),
      onClose: () => {
        if (member !== undefined) this.#broker.leave(topic, groupId, member);
      },
    });
    member = this.#broker.join(
      topic,
      groupId,
      (id) => (member = {
        id,
        hasRoom: () => src.buffered < (options.highWaterMark ?? 256),
        deliver: (message) => {
          src.push(message);
          this.#broker.ack(topic, groupId, message.offset, member as Member);
          return true;
        },
        disconnected: (reason) => src.fail(reason),
      }),
      options.offsetReset,
    );
    return src.stream;
  }

  /** Request/reply: publish with `reply-to` and resolve with the first reply (or time out). */
  async request(topic: string, value: unknown, options: PublishOptions & { timeoutMs?: number } = {}): Promise<Message> {
    const replyTo = `_reply.${Math.random().toString(36).slice(2)}`;
    const correlationId = Math.random().toString(36).slice(2);
    const replies = this.subscribe(replyTo, { offsetReset: "earliest" }).filter(
      (m) => m.headers["correlation-id"] === correlationId,
    );
    await this.publish(topic, value, { ...options, headers: { ...options.headers, "reply-to": replyTo, "correlation-id": correlationId } });
    const timeoutMs = options.timeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PirouetteError("TIMEOUT", `no reply on ${topic} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const reply = await Promise.race([replies.first(), timeout]);
      if (reply === undefined) throw new ClosedError("reply stream ended");
      return reply;
    } finally {
      clearTimeout(timer);
      await replies.close();
    }
  }

  /** {@link Sink}: publish to the client's `topic`. */
  write(value: unknown): Promise<number> {
    if (this.#topic === undefined) return Promise.reject(new PirouetteError("INVALID_ARGUMENT", "memory.Client needs a topic to be used as a Sink"));
    return this.publish(this.#topic, value);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
