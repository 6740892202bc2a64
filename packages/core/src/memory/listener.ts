/**
 * `memory.Listener`: the listener/service model over the in-process broker.
 *
 * @module
 */
import { bind } from "../codec/validate.ts";
import { json } from "../codec/json.ts";
import type { Codec } from "../codec/codec.ts";
import { PirouetteError } from "../errors.ts";
import { deadLetterHeaders, type DeadLetterTarget } from "../service/dead-letter.ts";
import type { Delivery, FailureAction, HandlerContext } from "../service/dispatcher.ts";
import { AbstractListener, type Attachment, type ListenerOptions } from "../service/listener.ts";
import type { RetryPolicy } from "../service/retry-policy.ts";
import type { ServiceSpec } from "../service/service-spec.ts";
import { Broker, type Member, type Message } from "./broker.ts";
import { encodeValue } from "./encode.ts";

/** Options for {@link Listener}. */
export interface MemoryListenerOptions extends ListenerOptions {
  /** Default: `Broker.default`, shared by the whole process. */
  readonly broker?: Broker;
  /** Consumer group. Default `"default"`. */
  readonly groupId?: string;
  /** Where a new group starts. Default `"earliest"`. */
  readonly offsetReset?: "earliest" | "latest";
  /** Handlers running at once per service (messages with the same key stay in order). Default 1. */
  readonly concurrency?: number;
  /** Unsettled messages per service before the broker holds back. Default 2 × concurrency. */
  readonly maxInFlight?: number;
  readonly retry?: RetryPolicy | false;
  /** Default: publish to `<topic>.DLT` on the same broker. `false`: no dead-lettering. */
  readonly deadLetter?: DeadLetterTarget<Message> | false;
  readonly onHandlerFailure?: FailureAction;
  readonly onBindingFailure?: FailureAction;
  /** Payload codec. Default `json()`. */
  readonly codec?: Codec<unknown>;
  /** Delay before re-joining after a (fault-injected) disconnect. Default 10 ms. */
  readonly reconnectDelayMs?: number;
}

/** Per-service configuration (decorator: {@link ServiceConfig}; or attach options). */
export interface MemoryServiceConfig {
  /** Topic(s) to consume. Default: the attach name. */
  readonly topic?: string | readonly string[];
  /** `"payload"`: the method receives the decoded payload; `"message"`: the {@link Message}. Default: payload when a schema is set. */
  readonly mode?: "payload" | "message";
}

/**
 * The service shape: `onMessage(payload | message, caller, context)` returns the reply (sent
 * to the `reply-to` header's topic, if any); `onError(error, caller?)` hears about failures.
 */
export interface MemoryService {
  onMessage(payload: never, caller: Caller, context: HandlerContext): unknown;
  onError?(error: Error, caller?: Caller): unknown;
}

const spec: ServiceSpec = {
  protocol: "memory",
  methods: { onMessage: { mandatory: true }, onError: {} },
};

/**
 * What a `memory` service method gets besides its payload: the message and a way to publish.
 *
 * @example
 * ```ts
 * onMessage(order: Order, caller: memory.Caller) {
 *   return caller.publish("invoices", { orderId: order.id });
 * }
 * ```
 */
export class Caller {
  readonly message: Message;
  readonly #broker: Broker;
  constructor(message: Message, broker: Broker) {
    this.message = message;
    this.#broker = broker;
  }
  /** Publish to a topic on the same broker. */
  publish(topic: string, value: unknown, options: { key?: string; headers?: Record<string, string> } = {}): Promise<number> {
    const { bytes, contentType } = encodeValue(value);
    return Promise.resolve(
      this.#broker.publish(topic, bytes, { key: options.key, headers: { "content-type": contentType, ...options.headers } }),
    );
  }
}

/**
 * A listener on the in-memory broker, with the same dispatch, binding, retry and
 * dead-letter behaviour as the protocol listeners: the zero-dependency default for demos
 * and unit tests.
 *
 * @example
 * ```ts
 * const listener = new memory.Listener({ groupId: "billing", concurrency: 4 });
 * await listener.attach({ onMessage: (o: Order) => bill(o) }, { name: "orders", payload: Order });
 * await listener.start();
 * ```
 */
export class Listener extends AbstractListener<object, MemoryServiceConfig> {
  protected readonly spec = spec;
  readonly #o: MemoryListenerOptions;
  readonly #broker: Broker;
  readonly #groupId: string;
  readonly #subs = new Map<object, { topic: string; member: Member }[]>();
  #stopping = false;

  constructor(options: MemoryListenerOptions = {}) {
    super({ ...options, protocol: "memory" });
    this.#o = options;
    this.#broker = options.broker ?? Broker.default;
    this.#groupId = options.groupId ?? "default";
  }

  protected override validateConfig(config: MemoryServiceConfig, name: string | readonly string[] | undefined): MemoryServiceConfig {
    const topic = config.topic ?? name;
    if (topic === undefined || topic.length === 0) {
      throw new PirouetteError("MEMORY_MISSING_TOPIC", "a memory service needs a topic: the attach name or ServiceConfig({ topic })");
    }
    return { ...config, topic };
  }

  protected async onStart(attachments: Attachment<object, MemoryServiceConfig>[]): Promise<void> {
    for (const a of attachments) await this.onAttach(a);
  }

  protected override onAttach(att: Attachment<object, MemoryServiceConfig>): Promise<void> {
    const topics = typeof att.config.topic === "string" ? [att.config.topic] : [...(att.config.topic ?? [])];
    const codec = this.#o.codec ?? json();
    const schema = att.payloadSchema("onMessage");
    const payloadMode = att.config.mode === undefined ? schema !== undefined : att.config.mode === "payload";
    const broker = this.#broker;
    const dlt: DeadLetterTarget<Message> | undefined =
      this.#o.deadLetter === false
        ? undefined
        : (this.#o.deadLetter ?? {
            send: async (rec) => {
              broker.publish(`${rec.message.topic}.DLT`, rec.message.value, {
                key: rec.message.key,
                headers: { ...rec.message.headers, ...deadLetterHeaders(rec) },
              });
            },
          });
    const dispatcher = this.createDispatcher<Message>({
      concurrency: this.#o.concurrency ?? 1,
      ...(this.#o.maxInFlight === undefined ? {} : { maxInFlight: this.#o.maxInFlight }),
      ...(this.#o.retry === undefined ? {} : { retry: this.#o.retry }),
      deadLetter: dlt,
      ...(this.#o.onHandlerFailure === undefined ? {} : { onHandlerFailure: this.#o.onHandlerFailure }),
      ...(this.#o.onBindingFailure === undefined ? {} : { onBindingFailure: this.#o.onBindingFailure }),
      telemetry: { system: "memory", consumerGroup: this.#groupId },
      invoke: async (d, ctx) => {
        const caller = new Caller(d.message, broker);
        const arg = payloadMode
          ? await bind(d.message.value, { codec, ...(schema === undefined ? {} : { schema }), coordinates: d.coordinates })
          : d.message;
        return (att.service as MemoryService).onMessage(arg as never, caller, ctx);
      },
      reportError: (error, d) => this.notifyError(att, error, new Caller(d.message, broker)),
      // "stop": take no more messages; the failed one stays unacked for another member or a restart.
      onStop: () => {
        this.#stopping = true;
      },
    });
    const subs: { topic: string; member: Member }[] = [];
    const join = (topic: string): void => {
      // `self` is the member object itself: messages can be delivered (and, with a synchronous
      // handler, acked) while `join` is still running, before its return value is assigned.
      let self: Member | undefined;
      const member = broker.join(
        topic,
        this.#groupId,
        (id) => (self = {
          id,
          hasRoom: () => !this.#stopping && !dispatcher.saturated,
          deliver: (message) => {
            const delivery: Delivery<Message> = {
              message,
              key: message.key,
              destination: topic,
              coordinates: { topic, offset: message.offset, key: message.key, deliveryCount: message.deliveryCount },
              headers: message.headers,
              ack: (result) => {
                broker.ack(topic, this.#groupId, message.offset, self as Member);
                const replyTo = message.headers["reply-to"];
                if (replyTo !== undefined && result !== undefined) {
                  const { bytes, contentType } = encodeValue(result);
                  const headers: Record<string, string> = { "content-type": contentType };
                  const corr = message.headers["correlation-id"];
                  if (corr !== undefined) headers["correlation-id"] = corr;
                  broker.publish(replyTo, bytes, { headers });
                }
                queueMicrotask(() => broker.ready(topic, this.#groupId));
              },
              reject: () => {
                broker.nack(topic, this.#groupId, message.offset, self as Member);
              },
            };
            void dispatcher.submit(delivery);
            return true;
          },
          disconnected: (reason) => {
            const list = this.#subs.get(att.service) ?? [];
            const i = list.findIndex((s) => s.member === self);
            if (i >= 0) list.splice(i, 1);
            void this.notifyError(att, reason);
            // Rejoin unless the listener is stopping or the service was detached meanwhile.
            const rejoin = (): void => {
              if (!this.#stopping && this.#subs.get(att.service) === subs) join(topic);
            };
            if (!this.#stopping) setTimeout(rejoin, this.#o.reconnectDelayMs ?? 10).unref();
          },
        }),
        this.#o.offsetReset,
      );
      subs.push({ topic, member });
    };
    this.#subs.set(att.service, subs);
    for (const t of topics) join(t);
    return Promise.resolve();
  }

  protected override async onDetach(att: Attachment<object, MemoryServiceConfig>): Promise<void> {
    for (const s of this.#subs.get(att.service) ?? []) this.#broker.leave(s.topic, this.#groupId, s.member);
    this.#subs.delete(att.service);
  }

  protected stopIntake(): Promise<void> {
    // Members stop taking messages; unsettled ones stay unacked until settled or we leave.
    this.#stopping = true;
    return Promise.resolve();
  }

  protected onClose(): Promise<void> {
    this.#stopping = true;
    for (const [, subs] of this.#subs) for (const s of subs) this.#broker.leave(s.topic, this.#groupId, s.member);
    this.#subs.clear();
    return Promise.resolve();
  }
}

