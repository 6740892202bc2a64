/**
 * `kafka.Listener`: Ballerina's `kafka:Listener` on a real Kafka cluster, with commits after
 * success, heartbeats during long handlers, rebalance safety, retries and `<topic>.DLT`.
 *
 * @module
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import {
  AbstractListener,
  createServiceConfigDecorator,
  json,
  payload as corePayload,
  toError,
  type Attachment,
  type DeadLetterTarget,
  type Dispatcher,
  type DualClassDecorator,
  type HandlerContext,
  type ServiceSpec,
} from "@pirouette/core";
import type { Caller } from "./caller.ts";
import { KafkaError, type KafkaErrorCode } from "./errors.ts";
import { consumerConfig, createTransport, intOption, parseBrokers, topicList } from "./internal/config.ts";
import { ServiceConsumer, type Chunk, type ConsumeHost, type ConsumeSettings } from "./internal/consume.ts";
import { DeadLetterPublisher } from "./internal/dead-letter.ts";
import type { Transport } from "./internal/transport.ts";
import type { ConsumerRecord, KafkaListenerOptions, KafkaServiceConfig } from "./options.ts";

/**
 * The service shape (Ballerina's Kafka service):
 *
 * - `onConsumerRecord(records, caller, context)`: one call per chunk of up to `maxPollRecords`
 *   records of one partition: `ConsumerRecord<T>[]` in record mode, `T[]` in payload mode. A
 *   thrown error means the handling failed (retried, then dead-lettered or skipped); when it
 *   returns, the records' offsets are committed.
 * - `onError(error, caller?)`: binding failures (`PayloadBindingError` /
 *   `PayloadValidationError` with `{ topic, partition, offset }`), handler failures after the
 *   retries, and errors not tied to a record (a crashed consumer, a failed commit; no caller).
 *
 * @example
 * ```ts
 * const svc: kafka.Service = {
 *   onConsumerRecord: async (orders: Order[]) => { for (const o of orders) await save(o); },
 *   onError: (err) => log.warn(err),
 * };
 * ```
 */
export interface Service {
  onConsumerRecord(records: never, caller: Caller, context: HandlerContext): unknown;
  onError?(error: Error, caller?: Caller): unknown;
}

const spec: ServiceSpec = {
  protocol: "kafka",
  methods: { onConsumerRecord: { mandatory: true }, onError: {} },
  error: (code, message) => new KafkaError(code as KafkaErrorCode, message),
};

/**
 * `@kafka.ServiceConfig({ topics, groupId, mode, payload })`: per-service configuration. Every
 * field can also be passed to `listener.attach(service, { … })`.
 *
 * @example
 * ```ts
 * @service(listener)
 * @kafka.ServiceConfig({ topics: "orders", mode: "payload" })
 * class Orders {
 *   @kafka.payload(Order)
 *   async onConsumerRecord(orders: Order[]) { await saveAll(orders); }
 * }
 * ```
 */
export const ServiceConfig: (config: KafkaServiceConfig) => DualClassDecorator = createServiceConfigDecorator<KafkaServiceConfig>();

/**
 * The argument types `@kafka.payload(schema)` accepts: `onConsumerRecord` takes the bound values
 * (`T[]`) or records (`ConsumerRecord<T>[]`) of a batch.
 *
 * @example
 * ```ts
 * const decorate: kafka.BatchPayloadDecorator<Order> = kafka.payload(Order);
 * ```
 */
export interface BatchPayloadDecorator<T> {
  <F extends ((payloads: T[], ...rest: never[]) => unknown) | ((records: ConsumerRecord<T>[], ...rest: never[]) => unknown)>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<F>,
  ): void;
  <F extends ((payloads: T[], ...rest: never[]) => unknown) | ((records: ConsumerRecord<T>[], ...rest: never[]) => unknown)>(
    value: F,
    context: ClassMethodDecoratorContext,
  ): void;
}

/**
 * Core's `@payload` (the same function), typed for Kafka's batch method: the schema describes
 * **one record's value**; tsc checks that `onConsumerRecord` takes `T[]` (payload mode, the
 * default with a schema; core's `payload` accepts that too) or `ConsumerRecord<T>[]` (with
 * `ServiceConfig({ mode: "record" })`).
 *
 * @example
 * ```ts
 * const Order = z.object({ id: z.string(), amount: z.number() });
 * class Orders {
 *   @kafka.payload(Order)
 *   onConsumerRecord(orders: z.infer<typeof Order>[]) {}
 * }
 * ```
 */
export const payload: <S extends StandardSchemaV1>(schema: S) => BatchPayloadDecorator<StandardSchemaV1.InferOutput<S>> = corePayload;

/** The config after validation. */
interface ResolvedConfig extends KafkaServiceConfig {
  readonly resolvedTopics: readonly (string | RegExp)[];
  readonly resolvedGroupId: string;
}

function isDeadLetterTarget(x: unknown): x is DeadLetterTarget<ConsumerRecord<Buffer | null>> {
  return typeof x === "object" && x !== null && typeof (x as { send?: unknown }).send === "function";
}

/**
 * Ballerina's `kafka:Listener`: `new kafka.Listener(bootstrapServers, options)`. Each attached
 * service consumes its topics as a member of its consumer group.
 *
 * - **At least once** (a deliberate change from Ballerina's default): offsets are committed
 *   after `onConsumerRecord` returned, at the end of each fetched batch (or every
 *   `commitIntervalMs`), when partitions are revoked, and on stop. `autoCommit: true` restores
 *   Ballerina's commit-before-handling.
 * - **Batches**: the service gets up to `maxPollRecords` records of one partition per call.
 *   Partitions run in parallel up to `concurrency`; `orderBy: "key"` also runs different keys
 *   of a partition in parallel.
 * - **Failures**: retried per `retry`; a failing batch is then handled record by record, and
 *   only the failing record goes to `<topic>.DLT` with its original topic, partition, offset and
 *   the error in headers. Bad payloads go to `onError` (and the DLT) without retries.
 * - **Long handlers**: heartbeats continue while handlers run.
 * - **Rebalances**: when the group rebalances during a handler, no more records are started,
 *   running handlers get `revokeTimeoutMs` to finish, what finished is committed, then the
 *   member re-joins; work for partitions it lost is dropped and never committed.
 *
 * @example
 * ```ts
 * const listener = new kafka.Listener("localhost:9092", { groupId: "billing", topics: "orders", offsetReset: "earliest" });
 * await listener.attach({ onConsumerRecord: (orders: Order[]) => saveAll(orders) }, { payload: Order });
 * await listener.start();
 * // …
 * await listener.gracefulStop();
 * ```
 */
export class KafkaListener extends AbstractListener<object, ResolvedConfig> {
  protected readonly spec = spec;
  readonly #o: KafkaListenerOptions;
  readonly #transport: Transport;
  readonly #subs = new Map<object, ServiceConsumer>();
  readonly #deadLetters: DeadLetterPublisher | undefined;
  readonly #concurrency: number;
  readonly #maxPollRecords: number;
  readonly #commitIntervalMs: number;
  readonly #autoCommitIntervalMs: number;
  readonly #pollingIntervalMs: number;

  constructor(bootstrapServers?: string | readonly string[], options: KafkaListenerOptions = {}) {
    super({ ...options, protocol: "kafka" });
    this.#o = options;
    const brokers = parseBrokers(bootstrapServers);
    this.#concurrency = intOption("concurrency", options.concurrency, 1, 1, 1000);
    this.#maxPollRecords = intOption("maxPollRecords", options.maxPollRecords, 500, 1);
    this.#commitIntervalMs = intOption("commitIntervalMs", options.commitIntervalMs, 0, 0);
    this.#autoCommitIntervalMs = intOption("autoCommitIntervalMs", options.autoCommitIntervalMs, 5000, 1);
    this.#pollingIntervalMs = intOption("pollingIntervalMs", options.pollingIntervalMs, 1000, 0);
    if (options.orderBy !== undefined && options.orderBy !== "partition" && options.orderBy !== "key") {
      throw new KafkaError("KAFKA_INVALID_CONFIG", 'orderBy must be "partition" or "key"');
    }
    topicList(options.topics);
    // Checked now so that a bad option fails the constructor, not start().
    consumerConfig(options.groupId ?? "check", options);
    if (options.revokeTimeoutMs !== undefined) intOption("revokeTimeoutMs", options.revokeTimeoutMs, 0, 0);
    this.#transport = createTransport(brokers, options, this.logger);
    const dl = options.deadLetter;
    if (dl === undefined || dl === true || typeof dl === "function") {
      const name = typeof dl === "function" ? dl : (topic: string) => `${topic}.DLT`;
      this.#deadLetters = new DeadLetterPublisher(this.#transport, name, this.logger);
    } else if (dl !== false && !isDeadLetterTarget(dl)) {
      throw new KafkaError("KAFKA_INVALID_CONFIG", "deadLetter must be a boolean, a function (topic) => string or a DeadLetterTarget");
    }
  }

  /**
   * Group joins of the attached services so far: one per service once started, plus one per
   * rebalance. For monitoring and tests.
   */
  get joins(): number {
    let n = 0;
    for (const s of this.#subs.values()) n += s.joins;
    return n;
  }

  protected override validateConfig(config: ResolvedConfig, _name: string | readonly string[] | undefined): ResolvedConfig {
    const topics = topicList(config.topics) ?? topicList(this.#o.topics);
    if (topics === undefined) {
      throw new KafkaError("KAFKA_MISSING_TOPICS", "a kafka service needs topics: ServiceConfig({ topics }) or the listener's topics option");
    }
    const groupId = config.groupId ?? this.#o.groupId;
    if (typeof groupId !== "string" || groupId.length === 0) {
      throw new KafkaError("KAFKA_INVALID_CONFIG", "a kafka listener needs a groupId (listener option or ServiceConfig({ groupId }))");
    }
    // Members of one group must subscribe to the same topics (the driver's assignor hands every
    // member partitions of every topic of the group), so each service needs its own group.
    if (this.attachments().some((a) => a.config.resolvedGroupId === groupId)) {
      throw new KafkaError(
        "KAFKA_INVALID_CONFIG",
        `another service on this listener already consumes as group "${groupId}": give this one its own ServiceConfig({ groupId })`,
      );
    }
    if (config.mode !== undefined && config.mode !== "record" && config.mode !== "payload") {
      throw new KafkaError("KAFKA_INVALID_CONFIG", 'mode must be "record" or "payload"');
    }
    return { ...config, resolvedTopics: topics, resolvedGroupId: groupId };
  }

  protected async onStart(attachments: Attachment<object, ResolvedConfig>[]): Promise<void> {
    await Promise.all(attachments.map((att) => this.#subscribe(att)));
  }

  protected override onAttach(att: Attachment<object, ResolvedConfig>): Promise<void> {
    return this.#subscribe(att);
  }

  protected override async onDetach(att: Attachment<object, ResolvedConfig>): Promise<void> {
    const sub = this.#subs.get(att.service);
    if (sub === undefined) return;
    this.#subs.delete(att.service);
    sub.stopIntake();
    if (!(await sub.dispatcher.drain(this.gracefulStopTimeoutMs))) sub.dispatcher.abortAll();
    await sub.close();
  }

  protected stopIntake(): Promise<void> {
    for (const s of this.#subs.values()) s.stopIntake();
    return Promise.resolve();
  }

  protected async onClose(): Promise<void> {
    await Promise.all([...this.#subs.values()].map((s) => s.close()));
    this.#subs.clear();
    await this.#deadLetters?.close();
  }

  #settings(att: Attachment<object, ResolvedConfig>): ConsumeSettings {
    const o = this.#o;
    const cfg = att.config;
    const schema = att.payloadSchema("onConsumerRecord") ?? cfg.payload;
    const payloadMode = cfg.mode === undefined ? schema !== undefined : cfg.mode === "payload";
    const consumer = consumerConfig(cfg.resolvedGroupId, o);
    const dl = o.deadLetter;
    let deadLetter: ConsumeSettings["deadLetter"];
    if (isDeadLetterTarget(dl)) {
      deadLetter = (b, rec) =>
        dl.send({
          message: { ...b.record, value: b.raw.value },
          coordinates: { topic: b.record.topic, partition: b.record.partition, offset: b.offset },
          error: rec.error,
          attempts: rec.attempts,
          firstFailureAt: rec.firstFailureAt,
        });
    } else if (this.#deadLetters !== undefined) {
      const publisher = this.#deadLetters;
      deadLetter = (b, rec) => publisher.send(b, rec);
    }
    return {
      groupId: cfg.resolvedGroupId,
      topics: cfg.resolvedTopics,
      fromBeginning: o.offsetReset === "earliest",
      consumer,
      concurrency: this.#concurrency,
      orderBy: o.orderBy ?? "partition",
      maxPollRecords: this.#maxPollRecords,
      autoCommit: o.autoCommit === true,
      autoCommitIntervalMs: this.#autoCommitIntervalMs,
      commitIntervalMs: this.#commitIntervalMs,
      autoSeek: o.autoSeekOnValidationFailure ?? true,
      revokeTimeoutMs: o.revokeTimeoutMs ?? Math.floor(consumer.rebalanceTimeoutMs / 2),
      pollingIntervalMs: this.#pollingIntervalMs,
      payloadMode,
      binder: { codec: o.codec ?? json(), schema: o.validation === false ? undefined : schema },
      retry: o.retry,
      deadLetter,
      onHandlerFailure: o.onHandlerFailure,
      onBindingFailure: o.onBindingFailure,
    };
  }

  async #subscribe(att: Attachment<object, ResolvedConfig>): Promise<void> {
    const service = att.service;
    const fn = (service as Record<string, unknown>)["onConsumerRecord"] as (...a: unknown[]) => unknown;
    const host: ConsumeHost = {
      logger: this.logger,
      createDispatcher: (options) => this.createDispatcher<Chunk>(options),
      releaseDispatcher: (d: Dispatcher<Chunk>) => this.releaseDispatcher(d),
      notifyError: (error, caller) => (caller === undefined ? this.notifyError(att, error) : this.notifyError(att, error, caller)),
      call: (arg, caller, ctx) => fn.call(service, arg, caller, ctx),
    };
    const sub = new ServiceConsumer(this.#settings(att), this.#transport, host);
    this.#subs.set(service, sub);
    try {
      await sub.start();
    } catch (e) {
      this.#subs.delete(service);
      await sub.close().catch((closeError: unknown) => this.logger.warn({ err: toError(closeError) }, "close after failed start"));
      throw e;
    }
  }
}
