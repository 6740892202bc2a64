/**
 * The kafkajs implementation of the driver port. Nothing outside `internal/` imports kafkajs.
 *
 * @internal
 * @module
 */
import kafkajs from "kafkajs";
import type {
  Admin,
  Consumer,
  KafkaConfig,
  LogEntry,
  Message,
  Producer,
  RecordMetadata,
  SASLOptions,
  Transaction,
} from "kafkajs";
import type {
  ConsumerConfig,
  ProducerConfig,
  RunConfig,
  Transport,
  TransportAdmin,
  TransportConfig,
  TransportConsumer,
  TransportProducer,
  TransportTransaction,
  WireOffset,
  WireOutgoing,
  WireRecordMetadata,
} from "./transport.ts";

const { Kafka, logLevel, Partitioners, CompressionTypes } = kafkajs;

const REBALANCE_TYPES = new Set(["REBALANCE_IN_PROGRESS", "NOT_COORDINATOR_FOR_GROUP", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID"]);
const FENCED_TYPES = new Set(["ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID"]);

function typeOf(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 8 && typeof cur === "object" && cur !== null; i++) {
    const t = (cur as { type?: unknown }).type;
    if (typeof t === "string") return t;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const LEVEL_TO_DRIVER = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

const ERROR_LEVEL: number = logLevel.ERROR;
const WARN_LEVEL: number = logLevel.WARN;
const INFO_LEVEL: number = logLevel.INFO;

function levelName(level: number): "debug" | "info" | "warn" | "error" {
  if (level <= ERROR_LEVEL) return "error";
  if (level === WARN_LEVEL) return "warn";
  if (level === INFO_LEVEL) return "info";
  return "debug";
}

function toSasl(sasl: TransportConfig["sasl"]): SASLOptions | undefined {
  if (sasl === undefined) return undefined;
  if (sasl.mechanism === "oauthbearer") {
    return { mechanism: "oauthbearer", oauthBearerProvider: async () => ({ value: (await sasl.oauthBearerProvider()).value }) };
  }
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}

function toMessages(messages: readonly WireOutgoing[]): Message[] {
  // The port's shape is kafkajs' own: no copy.
  return messages as unknown as Message[];
}

function toMetadata(r: RecordMetadata): WireRecordMetadata {
  return {
    topic: r.topicName,
    partition: r.partition,
    baseOffset: r.baseOffset ?? r.offset,
    logAppendTime: r.logAppendTime ?? r.timestamp,
  };
}

function offsetsByTopic(offsets: readonly WireOffset[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const byTopic = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    const list = byTopic.get(o.topic);
    if (list === undefined) byTopic.set(o.topic, [{ partition: o.partition, offset: o.offset }]);
    else list.push({ partition: o.partition, offset: o.offset });
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

class KafkaJsConsumer implements TransportConsumer {
  readonly #c: Consumer;
  constructor(c: Consumer) {
    this.#c = c;
  }
  connect(): Promise<void> {
    return this.#c.connect();
  }
  subscribe(topics: readonly (string | RegExp)[], fromBeginning: boolean): Promise<void> {
    return this.#c.subscribe({ topics: [...topics], fromBeginning });
  }
  run(config: RunConfig): Promise<void> {
    return this.#c.run({
      autoCommit: config.autoCommit,
      ...(config.autoCommitIntervalMs === undefined ? {} : { autoCommitInterval: config.autoCommitIntervalMs }),
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.concurrency,
      eachBatch: (payload) =>
        config.eachBatch({
          batch: payload.batch,
          resolveOffset: (offset) => payload.resolveOffset(offset),
          heartbeat: () => payload.heartbeat(),
          isRunning: () => payload.isRunning(),
          isStale: () => payload.isStale(),
        }),
    });
  }
  stop(): Promise<void> {
    return this.#c.stop();
  }
  disconnect(): Promise<void> {
    return this.#c.disconnect();
  }
  commit(offsets: readonly WireOffset[]): Promise<void> {
    return this.#c.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
  }
  seek(o: WireOffset): void {
    this.#c.seek({ topic: o.topic, partition: o.partition, offset: o.offset });
  }
  pause(partitions: readonly { topic: string; partitions?: readonly number[] }[]): void {
    this.#c.pause(partitions.map((p) => (p.partitions === undefined ? { topic: p.topic } : { topic: p.topic, partitions: [...p.partitions] })));
  }
  resume(partitions: readonly { topic: string; partitions?: readonly number[] }[]): void {
    this.#c.resume(partitions.map((p) => (p.partitions === undefined ? { topic: p.topic } : { topic: p.topic, partitions: [...p.partitions] })));
  }
  onJoin(fn: (assignment: Readonly<Record<string, readonly number[]>>) => void): void {
    this.#c.on(this.#c.events.GROUP_JOIN, (e) => fn(e.payload.memberAssignment));
  }
  onCrash(fn: (error: Error, restart: boolean) => void): void {
    this.#c.on(this.#c.events.CRASH, (e) => fn(e.payload.error, e.payload.restart));
  }
}

class KafkaJsTransaction implements TransportTransaction {
  readonly #t: Transaction;
  readonly #acks: -1 | 0 | 1;
  constructor(t: Transaction, acks: -1 | 0 | 1) {
    this.#t = t;
    this.#acks = acks;
  }
  async send(topic: string, messages: readonly WireOutgoing[]): Promise<WireRecordMetadata[]> {
    return (await this.#t.send({ topic, messages: toMessages(messages), acks: this.#acks })).map(toMetadata);
  }
  sendOffsets(groupId: string, offsets: readonly WireOffset[]): Promise<void> {
    return this.#t.sendOffsets({ consumerGroupId: groupId, topics: offsetsByTopic(offsets) });
  }
  commit(): Promise<void> {
    return this.#t.commit();
  }
  abort(): Promise<void> {
    return this.#t.abort();
  }
}

class KafkaJsProducer implements TransportProducer {
  readonly #p: Producer;
  readonly #acks: -1 | 0 | 1;
  readonly #compression: number;
  constructor(p: Producer, config: ProducerConfig) {
    this.#p = p;
    this.#acks = config.acks;
    this.#compression = config.gzip ? CompressionTypes.GZIP : CompressionTypes.None;
  }
  connect(): Promise<void> {
    return this.#p.connect();
  }
  disconnect(): Promise<void> {
    return this.#p.disconnect();
  }
  async send(topic: string, messages: readonly WireOutgoing[]): Promise<WireRecordMetadata[]> {
    const r = await this.#p.send({ topic, messages: toMessages(messages), acks: this.#acks, compression: this.#compression });
    return r.map(toMetadata);
  }
  async sendBatch(batches: readonly { topic: string; messages: readonly WireOutgoing[] }[]): Promise<WireRecordMetadata[]> {
    const r = await this.#p.sendBatch({
      topicMessages: batches.map((b) => ({ topic: b.topic, messages: toMessages(b.messages) })),
      acks: this.#acks,
      compression: this.#compression,
    });
    return r.map(toMetadata);
  }
  async transaction(): Promise<TransportTransaction> {
    return new KafkaJsTransaction(await this.#p.transaction(), this.#acks);
  }
}

class KafkaJsAdmin implements TransportAdmin {
  readonly #a: Admin;
  constructor(a: Admin) {
    this.#a = a;
  }
  connect(): Promise<void> {
    return this.#a.connect();
  }
  disconnect(): Promise<void> {
    return this.#a.disconnect();
  }
  createTopic(topic: string, numPartitions: number): Promise<boolean> {
    return this.#a.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  }
  async partitionCount(topic: string): Promise<number | undefined> {
    // Listing first: asking for the metadata of a missing topic makes the driver log an error.
    if (!(await this.#a.listTopics()).includes(topic)) return undefined;
    try {
      const { topics } = await this.#a.fetchTopicMetadata({ topics: [topic] });
      return topics[0]?.partitions.length;
    } catch {
      return undefined;
    }
  }
}

/** The kafkajs driver for one set of connection settings. */
export function kafkaJsTransport(config: TransportConfig): Transport {
  const kafkaConfig: KafkaConfig = {
    brokers: [...config.brokers],
    clientId: config.clientId,
    logLevel: LEVEL_TO_DRIVER[config.logLevel],
    logCreator: () => (entry: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...extra } = entry.log as { message: string; timestamp?: unknown; logger?: unknown };
      // The producer warns when an idempotent producer's retries are bounded; ours are, on purpose
      // (a send must fail in the end rather than retry forever).
      const level = message.startsWith("Limiting retries for the idempotent producer") ? "debug" : levelName(entry.level);
      config.log(level, entry.namespace, message, extra);
    },
    retry: {
      retries: config.retry.retries,
      initialRetryTime: config.retry.initialRetryTimeMs,
      maxRetryTime: config.retry.maxRetryTimeMs,
    },
  };
  if (config.ssl !== undefined) kafkaConfig.ssl = config.ssl;
  const sasl = toSasl(config.sasl);
  if (sasl !== undefined) kafkaConfig.sasl = sasl;
  if (config.connectionTimeoutMs !== undefined) kafkaConfig.connectionTimeout = config.connectionTimeoutMs;
  if (config.requestTimeoutMs !== undefined) kafkaConfig.requestTimeout = config.requestTimeoutMs;
  const kafka = new Kafka(kafkaConfig);
  return {
    consumer(c: ConsumerConfig): TransportConsumer {
      return new KafkaJsConsumer(
        kafka.consumer({
          groupId: c.groupId,
          sessionTimeout: c.sessionTimeoutMs,
          heartbeatInterval: c.heartbeatIntervalMs,
          rebalanceTimeout: c.rebalanceTimeoutMs,
          maxWaitTimeInMs: c.maxWaitTimeMs,
          maxBytesPerPartition: c.maxBytesPerPartition,
          maxBytes: c.maxBytes,
          readUncommitted: c.readUncommitted,
          allowAutoTopicCreation: false,
        }),
      );
    },
    producer(p: ProducerConfig): TransportProducer {
      return new KafkaJsProducer(
        kafka.producer({
          createPartitioner: Partitioners.DefaultPartitioner,
          idempotent: p.idempotent,
          allowAutoTopicCreation: p.allowAutoTopicCreation,
          ...(p.transactionalId === undefined ? {} : { transactionalId: p.transactionalId }),
          ...(p.transactionTimeoutMs === undefined ? {} : { transactionTimeout: p.transactionTimeoutMs }),
          ...(p.maxInFlightRequests === undefined ? {} : { maxInFlightRequests: p.maxInFlightRequests }),
        }),
        p,
      );
    },
    admin(): TransportAdmin {
      return new KafkaJsAdmin(kafka.admin());
    },
    isRebalance(error: unknown): boolean {
      const t = typeOf(error);
      return t !== undefined && REBALANCE_TYPES.has(t);
    },
    isFenced(error: unknown): boolean {
      const t = typeOf(error);
      return t !== undefined && FENCED_TYPES.has(t);
    },
  };
}
