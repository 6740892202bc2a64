/**
 * `kafka.Producer`: Ballerina's `kafka:Producer`, a `Sink` for `Stream.pipeTo`, with
 * idempotence and transactions.
 *
 * @module
 */
import { childLogger, toError, type Codec, type Logger, type Sink } from "@pirouette/core";
import { KafkaError } from "./errors.ts";
import { createTransport, intOption, parseBrokers } from "./internal/config.ts";
import { toKafkaError } from "./internal/errors.ts";
import { toOutgoing, wireSize } from "./internal/records.ts";
import type { TransportAdmin, TransportProducer, TransportTransaction, WireOutgoing, WireRecordMetadata } from "./internal/transport.ts";
import type { KafkaProducerOptions, PartitionOffset, ProducerRecord, RecordMetadata, TopicPartition } from "./options.ts";

/**
 * What a `producer.transaction(async (tx) => …)` callback can do. Everything sent through `tx`
 * becomes visible to `read_committed` consumers together, when the callback resolves; nothing
 * does if it throws.
 *
 * @example
 * ```ts
 * await producer.transaction(async (tx) => {
 *   await tx.send({ topic: "invoices", value: invoice });
 *   await tx.sendOffsets(caller.groupId, caller.offsets()); // consume-transform-produce
 * });
 * ```
 */
export interface Transaction {
  send<T>(record: ProducerRecord<T>): Promise<void>;
  sendWithMetadata<T>(record: ProducerRecord<T>): Promise<RecordMetadata>;
  sendBatch(records: readonly ProducerRecord<unknown>[]): Promise<void>;
  /**
   * Commit a consumer group's offsets as part of the transaction (each offset is the **next**
   * one to read). The listener's own commit of the same offsets afterwards is harmless.
   */
  sendOffsets(groupId: string, offsets: readonly PartitionOffset[]): Promise<void>;
}

function groupByTopic(messages: readonly { topic: string; wire: WireOutgoing }[]): { topic: string; messages: WireOutgoing[] }[] {
  const m = new Map<string, WireOutgoing[]>();
  for (const { topic, wire } of messages) {
    const list = m.get(topic);
    if (list === undefined) m.set(topic, [wire]);
    else list.push(wire);
  }
  return [...m].map(([topic, msgs]) => ({ topic, messages: msgs }));
}

function metadataOf(topic: string, wire: WireOutgoing, r: readonly WireRecordMetadata[]): RecordMetadata {
  const m = r[0];
  const offset = m?.baseOffset;
  const ts = m?.logAppendTime;
  return {
    topic,
    partition: m?.partition ?? -1,
    offset: offset === undefined ? -1 : Number(offset),
    timestamp: ts === undefined || ts === "-1" ? undefined : Number(ts),
    serializedKeySize: wireSize(wire.key),
    serializedValueSize: wireSize(wire.value),
  };
}

class TransactionHandle implements Transaction {
  readonly #tx: TransportTransaction;
  readonly #codec: Codec<unknown> | undefined;
  #open = true;
  constructor(tx: TransportTransaction, codec: Codec<unknown> | undefined) {
    this.#tx = tx;
    this.#codec = codec;
  }
  close(): void {
    this.#open = false;
  }
  #check(): void {
    if (!this.#open) throw new KafkaError("KAFKA_STATE", "this transaction is over: use tx only inside its callback");
  }
  async send<T>(record: ProducerRecord<T>): Promise<void> {
    await this.sendWithMetadata(record);
  }
  async sendWithMetadata<T>(record: ProducerRecord<T>): Promise<RecordMetadata> {
    this.#check();
    const wire = toOutgoing(record, this.#codec);
    try {
      return metadataOf(record.topic, wire, await this.#tx.send(record.topic, [wire]));
    } catch (e) {
      throw toKafkaError(e, `sending to "${record.topic}" in a transaction failed`, "KAFKA_SEND", { topic: record.topic });
    }
  }
  async sendBatch(records: readonly ProducerRecord<unknown>[]): Promise<void> {
    this.#check();
    for (const { topic, messages } of groupByTopic(records.map((r) => ({ topic: r.topic, wire: toOutgoing(r, this.#codec) })))) {
      try {
        await this.#tx.send(topic, messages);
      } catch (e) {
        throw toKafkaError(e, `sending to "${topic}" in a transaction failed`, "KAFKA_SEND", { topic });
      }
    }
  }
  async sendOffsets(groupId: string, offsets: readonly PartitionOffset[]): Promise<void> {
    this.#check();
    if (typeof groupId !== "string" || groupId.length === 0) throw new KafkaError("KAFKA_INVALID_CONFIG", "sendOffsets needs a groupId");
    try {
      await this.#tx.sendOffsets(
        groupId,
        offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })),
      );
    } catch (e) {
      throw toKafkaError(e, "adding consumer offsets to the transaction failed", "KAFKA_TRANSACTION");
    }
  }
}

/**
 * Ballerina's `kafka:Producer`: `new kafka.Producer(bootstrapServers, options)`. It connects on
 * first use (or `connect()`), encodes values (bytes as they are, strings as UTF-8, anything
 * else as JSON or the `codec`), puts the active trace context in the headers, and partitions by
 * key with the Java-compatible murmur2 partitioner. It is a `Sink<ProducerRecord>`, so
 * `stream.pipeTo(producer)` publishes a stream (and closes the producer at the end; use
 * `producer.sink(topic)` to keep it open).
 *
 * With a `transactionalId`, every send runs in a transaction: `transaction(fn)` groups sends
 * (and consumer offsets), and a plain `send` is a transaction of its own.
 *
 * @example
 * ```ts
 * const producer = new kafka.Producer("localhost:9092", { idempotent: true });
 * await producer.send({ topic: "orders", key: order.id, value: order });
 * const meta = await producer.sendWithMetadata({ topic: "orders", value: "plain text" });
 * await producer.close();
 * ```
 */
export class KafkaProducer implements Sink<ProducerRecord<unknown>>, AsyncDisposable {
  readonly #producer: TransportProducer;
  readonly #admin: () => TransportAdmin;
  /** `undefined`: JSON (see `encodeValue`). */
  readonly #codec: Codec<unknown> | undefined;
  readonly #logger: Logger;
  readonly #transactional: boolean;
  readonly #pending = new Set<Promise<unknown>>();
  #connected: Promise<void> | undefined;
  #adminConnected: Promise<TransportAdmin> | undefined;
  #txChain: Promise<unknown> = Promise.resolve();
  #closed: Promise<void> | undefined;

  constructor(bootstrapServers?: string | readonly string[], options: KafkaProducerOptions = {}) {
    const brokers = parseBrokers(bootstrapServers);
    this.#logger = childLogger(options.logger, { client: "kafka-producer" });
    const acks = options.acks ?? "all";
    if (acks !== "all" && acks !== "1" && acks !== "0") throw new KafkaError("KAFKA_INVALID_CONFIG", 'acks must be "all", "1" or "0"');
    const compression = options.compression ?? "none";
    if (compression !== "none" && compression !== "gzip") {
      throw new KafkaError("KAFKA_INVALID_CONFIG", `compression "${String(compression)}" is not supported by the driver; use "none" or "gzip"`);
    }
    const transactionalId = options.transactionalId;
    if (transactionalId !== undefined && (typeof transactionalId !== "string" || transactionalId.length === 0)) {
      throw new KafkaError("KAFKA_INVALID_CONFIG", "transactionalId must be a non-empty string");
    }
    this.#transactional = transactionalId !== undefined;
    const idempotent = options.idempotent === true || this.#transactional;
    if (idempotent && acks !== "all") throw new KafkaError("KAFKA_INVALID_CONFIG", 'idempotence and transactions need acks: "all"');
    const transport = createTransport(brokers, options, this.#logger);
    this.#producer = transport.producer({
      idempotent,
      transactionalId,
      transactionTimeoutMs: options.transactionTimeoutMs === undefined ? undefined : intOption("transactionTimeoutMs", options.transactionTimeoutMs, 60_000, 1),
      maxInFlightRequests:
        options.maxInFlightRequests === undefined ? (idempotent ? 1 : undefined) : intOption("maxInFlightRequests", options.maxInFlightRequests, 1, 1),
      allowAutoTopicCreation: options.allowAutoTopicCreation ?? true,
      acks: acks === "all" ? -1 : acks === "1" ? 1 : 0,
      gzip: compression === "gzip",
    });
    this.#admin = () => transport.admin();
    this.#codec = options.codec;
  }

  /** Connect now (otherwise the first send does). */
  connect(): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(new KafkaError("KAFKA_CLOSED", "the producer is closed"));
    if (this.#connected === undefined) {
      this.#connected = this.#producer.connect().catch((e: unknown) => {
        this.#connected = undefined;
        throw toKafkaError(e, "cannot connect the producer", "KAFKA_CONNECTION");
      });
    }
    return this.#connected;
  }

  #track<R>(p: Promise<R>): Promise<R> {
    this.#pending.add(p);
    const done = (): void => {
      this.#pending.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /** Send one record; resolves once the broker acknowledged it (per `acks`). */
  async send<T>(record: ProducerRecord<T>): Promise<void> {
    await this.sendWithMetadata(record);
  }

  /** Send one record and tell where it landed (Ballerina's `sendWithMetadata`). */
  sendWithMetadata<T>(record: ProducerRecord<T>): Promise<RecordMetadata> {
    if (this.#transactional) return this.transaction((tx) => tx.sendWithMetadata(record));
    let wire: WireOutgoing;
    try {
      if (this.#closed !== undefined) throw new KafkaError("KAFKA_CLOSED", "the producer is closed");
      wire = toOutgoing(record, this.#codec);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(
      (async () => {
        await this.connect();
        try {
          return metadataOf(record.topic, wire, await this.#producer.send(record.topic, [wire]));
        } catch (e) {
          throw toKafkaError(e, `sending to "${record.topic}" failed`, "KAFKA_SEND", { topic: record.topic });
        }
      })(),
    );
  }

  /** Send several records (any topics) in as few requests as possible. */
  sendBatch(records: readonly ProducerRecord<unknown>[]): Promise<void> {
    if (this.#transactional) return this.transaction((tx) => tx.sendBatch(records));
    let batches: { topic: string; messages: WireOutgoing[] }[];
    try {
      if (this.#closed !== undefined) throw new KafkaError("KAFKA_CLOSED", "the producer is closed");
      batches = groupByTopic(records.map((r) => ({ topic: r.topic, wire: toOutgoing(r, this.#codec) })));
    } catch (e) {
      return Promise.reject(e);
    }
    if (batches.length === 0) return Promise.resolve();
    return this.#track(
      (async () => {
        await this.connect();
        try {
          await (batches.length === 1
            ? this.#producer.send((batches[0] as { topic: string }).topic, (batches[0] as { messages: WireOutgoing[] }).messages)
            : this.#producer.sendBatch(batches));
        } catch (e) {
          throw toKafkaError(e, `sending ${records.length} records failed`, "KAFKA_SEND", { topics: batches.map((b) => b.topic) });
        }
      })(),
    );
  }

  /** Resolves when every send started so far has settled (the driver keeps no other buffer). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await this.#txChain;
  }

  /**
   * Run `fn` in a Kafka transaction (needs `transactionalId`): commit when it resolves, abort
   * when it throws (the error is rethrown). Transactions of one producer run one at a time.
   *
   * @throws {KafkaError} `KAFKA_INVALID_CONFIG` without a transactionalId; `KAFKA_TRANSACTION`
   *   when the transaction cannot begin or commit.
   */
  transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
    if (!this.#transactional) {
      return Promise.reject(new KafkaError("KAFKA_INVALID_CONFIG", "transactions need a producer created with a transactionalId"));
    }
    if (this.#closed !== undefined) return Promise.reject(new KafkaError("KAFKA_CLOSED", "the producer is closed"));
    const run = async (): Promise<R> => {
      await this.connect();
      let tx: TransportTransaction;
      try {
        tx = await this.#producer.transaction();
      } catch (e) {
        throw toKafkaError(e, "cannot begin a transaction", "KAFKA_TRANSACTION");
      }
      const handle = new TransactionHandle(tx, this.#codec);
      let result: R;
      try {
        result = await fn(handle);
      } catch (e) {
        handle.close();
        await tx.abort().catch((abortError: unknown) => this.#logger.warn({ err: toError(abortError) }, "aborting the transaction failed"));
        throw e;
      }
      handle.close();
      try {
        await tx.commit();
      } catch (e) {
        await tx.abort().catch(() => undefined);
        throw toKafkaError(e, "committing the transaction failed", "KAFKA_TRANSACTION");
      }
      return result;
    };
    const p = this.#txChain.then(run, run);
    this.#txChain = p.catch(() => undefined);
    return this.#track(p);
  }

  /** The partitions of a topic (Ballerina's `getTopicPartitions`). */
  async getTopicPartitions(topic: string): Promise<TopicPartition[]> {
    if (this.#closed !== undefined) throw new KafkaError("KAFKA_CLOSED", "the producer is closed");
    this.#adminConnected ??= (async () => {
      const a = this.#admin();
      await a.connect();
      return a;
    })().catch((e: unknown) => {
      this.#adminConnected = undefined;
      throw toKafkaError(e, "cannot connect the admin client", "KAFKA_CONNECTION");
    });
    const admin = await this.#adminConnected;
    const n = await admin.partitionCount(topic);
    if (n === undefined) throw new KafkaError("KAFKA_PROTOCOL", `topic "${topic}" does not exist`, { kafkaErrorType: "UNKNOWN_TOPIC_OR_PARTITION" });
    return Array.from({ length: n }, (_, partition) => ({ topic, partition }));
  }

  /**
   * A `Sink<T>` of values for one topic, for `stream.pipeTo(producer.sink("orders"))`. Closing
   * it flushes; the producer stays open.
   */
  sink<T>(topic: string, options: { readonly key?: (value: T) => string | Uint8Array | null | undefined } = {}): Sink<T> {
    const keyOf = options.key;
    const rec = (value: T): ProducerRecord<T> => (keyOf === undefined ? { topic, value } : { topic, value, key: keyOf(value) });
    return {
      write: (value) => this.send(rec(value)),
      writeMany: (values) => this.sendBatch(values.map(rec)),
      close: () => this.flush(),
    };
  }

  /** `Sink.write`: same as `send`. */
  write(record: ProducerRecord<unknown>): Promise<void> {
    return this.send(record);
  }

  /** `Sink.writeMany`: same as `sendBatch`. */
  writeMany(records: readonly ProducerRecord<unknown>[]): Promise<void> {
    return this.sendBatch(records);
  }

  /** Wait for pending sends, then disconnect. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.flush();
      const closing: Promise<void>[] = [];
      if (this.#connected !== undefined) closing.push(this.#connected.then(() => this.#producer.disconnect()));
      if (this.#adminConnected !== undefined) closing.push(this.#adminConnected.then((a) => a.disconnect()));
      for (const r of await Promise.allSettled(closing)) {
        if (r.status === "rejected") this.#logger.warn({ err: toError(r.reason) }, "disconnecting the producer failed");
      }
    })();
    return this.#closed;
  }

  /** `Sink.abort`: the piped stream failed; close after the pending sends. */
  abort(_reason: unknown): Promise<void> {
    return this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
