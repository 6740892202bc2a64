/**
 * Public option and record types of `@pirouette/kafka`.
 *
 * @module
 */
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Codec, DeadLetterTarget, FailureAction, ListenerOptions, Logger, RetryPolicy } from "@pirouette/core";

/**
 * Ballerina's `kafka:DEFAULT_URL`.
 *
 * @example
 * ```ts
 * const producer = new kafka.Producer(kafka.DEFAULT_URL);
 * ```
 */
export const DEFAULT_URL = "localhost:9092";

/**
 * Headers a dead-lettered record carries besides core's `DeadLetterHeaders` (error, error name
 * and code, attempts, first failure time, JSON coordinates): where the record came from.
 *
 * @example
 * ```ts
 * const offset = Number(dlt.headers[kafka.KafkaDeadLetterHeaders.offset]?.toString());
 * ```
 */
export const KafkaDeadLetterHeaders = Object.freeze({
  topic: "x-pirouette-original-topic",
  partition: "x-pirouette-original-partition",
  offset: "x-pirouette-original-offset",
  timestamp: "x-pirouette-original-timestamp",
});

/** A topic and one of its partitions. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/**
 * A position in a partition (Ballerina's `PartitionOffset`, flattened). For commits it is the
 * offset of the **next** record to read (last handled + 1), as in every Kafka client.
 *
 * @example
 * ```ts
 * caller.seek({ topic: "orders", partition: 0, offset: 42 });
 * ```
 */
export interface PartitionOffset extends TopicPartition {
  readonly offset: number;
}

/** Record headers as they arrive: bytes, or several values for a repeated header. */
export type Headers = Readonly<Record<string, Buffer | readonly Buffer[] | undefined>>;

/** Headers to send: strings or bytes. */
export type OutgoingHeaders = Readonly<Record<string, string | Uint8Array | readonly (string | Uint8Array)[] | undefined>>;

/**
 * One consumed record with its value bound by the codec (default JSON) and, when one is set, the
 * payload schema (Ballerina's `AnydataConsumerRecord`). Offsets and timestamps are numbers
 * (exact up to 2^53).
 *
 * @example
 * ```ts
 * onConsumerRecord(records: kafka.ConsumerRecord<Order>[]) {
 *   for (const r of records) console.log(r.partition, r.offset, r.key?.toString(), r.value.id);
 * }
 * ```
 */
export interface ConsumerRecord<T = unknown> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The record key as sent, or `null`. */
  readonly key: Buffer | null;
  /** The bound value; `null` for a tombstone (a record without a value). */
  readonly value: T;
  /** Milliseconds since the epoch (create or log-append time, per the topic). */
  readonly timestamp: number;
  readonly headers: Headers;
}

/**
 * A record to produce (Ballerina's `AnydataProducerRecord`).
 *
 * @example
 * ```ts
 * const record: kafka.ProducerRecord<Order> = { topic: "orders", key: order.id, value: order, headers: { source: "web" } };
 * ```
 */
export interface ProducerRecord<T = unknown> {
  readonly topic: string;
  /** A string or bytes; records with the same key land in the same partition. */
  readonly key?: string | Uint8Array | null | undefined;
  /**
   * `Uint8Array` values are sent as they are, strings as UTF-8, `null` as a tombstone, anything
   * else through the producer's codec (default JSON).
   */
  readonly value: T;
  /** Pin the partition; default: the Java-compatible murmur2 partitioner on the key. */
  readonly partition?: number | undefined;
  /** Milliseconds since the epoch. Default: now (set by the broker or the client). */
  readonly timestamp?: number | undefined;
  readonly headers?: OutgoingHeaders | undefined;
}

/** Where a produced record landed (Ballerina's `RecordMetadata`). */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Log-append time when the topic uses it, else `undefined`. */
  readonly timestamp: number | undefined;
  readonly serializedKeySize: number;
  readonly serializedValueSize: number;
}

/**
 * SASL settings, passed to the driver. Use them over TLS (`ssl: true` or TLS options):
 * PLAIN sends the password in clear text.
 */
export type SaslOptions =
  | {
      readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
      readonly username: string;
      readonly password: string;
    }
  | {
      readonly mechanism: "oauthbearer";
      /** Returns a fresh token (`{ value }`); called on connect and before it expires. */
      readonly oauthBearerProvider: () => Promise<{ readonly value: string }>;
    };

/**
 * How a client reaches the brokers. Shared by the listener, the producer and the consumer.
 *
 * @example
 * ```ts
 * const secure: kafka.ConnectionOptions = {
 *   ssl: { ca: [readFileSync("ca.pem")] },
 *   sasl: { mechanism: "scram-sha-512", username: "app", password: process.env.KAFKA_PASSWORD ?? "" },
 * };
 * ```
 */
export interface ConnectionOptions {
  /** Default `"pirouette"`. */
  readonly clientId?: string;
  /** `true` for TLS with the system CAs, or Node TLS options (ca, cert, key, servername …). */
  readonly ssl?: boolean | TlsConnectionOptions;
  readonly sasl?: SaslOptions;
  /** TCP connect timeout. Default 3000 ms. */
  readonly connectionTimeoutMs?: number;
  /** Time a request may wait for its response. Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /**
   * The driver's own retries of failed requests (exponential backoff with jitter). Default
   * 5 retries from 300 ms, at most 30 s apart.
   */
  readonly driverRetry?: {
    readonly retries?: number;
    readonly initialRetryTimeMs?: number;
    readonly maxRetryTimeMs?: number;
  };
  /** A pino-compatible logger; the driver's log lines go there too. Silent by default. */
  readonly logger?: Logger;
  /** The lowest driver log level forwarded to `logger`. Default `"info"`. */
  readonly driverLogLevel?: "debug" | "info" | "warn" | "error" | "nothing";
}

/** Group membership and fetch settings shared by the listener and the consumer. */
export interface GroupOptions {
  /** The consumer group. Required by the listener; the consumer makes a unique one if absent. */
  readonly groupId?: string;
  /** Where a group without a committed offset starts. Default `"latest"`. */
  readonly offsetReset?: "earliest" | "latest";
  /** Default `"read_committed"`: records of aborted or open transactions are not delivered. */
  readonly isolationLevel?: "read_committed" | "read_uncommitted";
  /** The broker removes a member it has not heard from in this time. Default 30 000 ms. */
  readonly sessionTimeoutMs?: number;
  /** How often heartbeats are sent, also while handlers run. Default 3000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** How long the group waits for members to re-join during a rebalance. Default 60 000 ms. */
  readonly rebalanceTimeoutMs?: number;
  /** Longest wait of a fetch for new records. Default 500 ms. */
  readonly maxWaitTimeMs?: number;
  /** Largest fetch per partition. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Largest fetch. Default 10 MiB. */
  readonly maxBytes?: number;
  /** Codec for record values. Default `json()` (safe parse, size and depth limits). */
  readonly codec?: Codec<unknown>;
  /** Records per handler call (listener) or per `poll` (consumer). Default 500. */
  readonly maxPollRecords?: number;
}

/**
 * Options of `kafka.Listener` (Ballerina's `ConsumerConfiguration`), in camelCase with
 * millisecond units.
 *
 * @example
 * ```ts
 * const options: kafka.KafkaListenerOptions = {
 *   groupId: "billing", topics: ["orders"], offsetReset: "earliest",
 *   concurrency: 4, maxPollRecords: 100, retry: { maxAttempts: 5 },
 * };
 * ```
 */
export interface KafkaListenerOptions extends ConnectionOptions, GroupOptions, ListenerOptions {
  /** Topics for services that do not name their own (`ServiceConfig({ topics })`). */
  readonly topics?: string | readonly string[] | RegExp;
  /**
   * `false` (default): offsets are committed after the handler succeeded (at least once).
   * `true`: the driver commits fetched offsets every `autoCommitIntervalMs`, whether the handler
   * succeeded or not (at most once, Ballerina's default).
   */
  readonly autoCommit?: boolean;
  /** With `autoCommit: true`. Default 5000 ms. */
  readonly autoCommitIntervalMs?: number;
  /**
   * With `autoCommit: false`: `0` (default) commits at the end of every fetched batch; a larger
   * value commits at most that often (fewer commits, more records redelivered after a crash).
   */
  readonly commitIntervalMs?: number;
  /** Partitions handled at once; with `orderBy: "key"`, record keys handled at once. Default 1. */
  readonly concurrency?: number;
  /**
   * The ordering kept: `"partition"` (default: one handler call per partition at a time) or
   * `"key"` (records of a partition with different keys are handled in parallel, up to
   * `concurrency`; records with the same key stay in order).
   */
  readonly orderBy?: "partition" | "key";
  /** Handler retries (then the failure action). Default: 3 attempts, 100 ms doubling, jitter. */
  readonly retry?: RetryPolicy | false;
  /**
   * Where records go after their last failed attempt: `true` (default) publishes to
   * `<topic>.DLT`, a function names the topic, a `DeadLetterTarget` takes them yourself, `false`
   * turns dead-lettering off (failed records are then skipped after `onError`).
   */
  readonly deadLetter?: boolean | ((topic: string) => string) | DeadLetterTarget<ConsumerRecord<Buffer | null>>;
  /** After the retries. Default `"dead-letter"` (or `"skip"` without a dead-letter target). */
  readonly onHandlerFailure?: FailureAction;
  /** For payload binding failures. Default as `onHandlerFailure`. */
  readonly onBindingFailure?: FailureAction;
  /** Check payloads against their schema (Ballerina's `validation`). Default true. */
  readonly validation?: boolean;
  /**
   * Ballerina's `autoSeekOnValidationFailure`. `true` (default): a record that fails binding is
   * reported to `onError` (and dead-lettered or skipped per `onBindingFailure`) and the rest of
   * the batch is delivered. `false`: the batch is cut before the bad record; when it is the
   * first, `onError` gets the error and nothing is delivered, and the record is fetched again
   * until the service calls `caller.seek({ …, offset: bad + 1 })`.
   */
  readonly autoSeekOnValidationFailure?: boolean;
  /**
   * How long a revoked partition's running handlers may finish before their offsets are
   * committed and the group re-joined. Default half of `rebalanceTimeoutMs`.
   */
  readonly revokeTimeoutMs?: number;
  /** Delay before a batch whose first record cannot be bound is fetched again (with `autoSeekOnValidationFailure: false`). Default 1000 ms. */
  readonly pollingIntervalMs?: number;
}

/**
 * Per-service configuration: `@kafka.ServiceConfig({...})` or `listener.attach(svc, {...})`.
 *
 * @example
 * ```ts
 * await listener.attach(svc, { topics: "payments", groupId: "billing-payments", mode: "record" });
 * ```
 */
export interface KafkaServiceConfig {
  /** Topics of this service; default: the listener's `topics`. */
  readonly topics?: string | readonly string[] | RegExp;
  /** Consumer group of this service; default: the listener's `groupId`. */
  readonly groupId?: string;
  /**
   * `"record"`: `onConsumerRecord` receives `ConsumerRecord<T>[]`; `"payload"`: the bound values
   * `T[]`. Default: payloads when a payload schema is set, records otherwise.
   */
  readonly mode?: "record" | "payload";
  /** The schema of one record's value (same as `attach(svc, { payload })` or `@kafka.payload`). */
  readonly payload?: StandardSchemaV1;
}

/**
 * Options of `kafka.Producer` (Ballerina's `ProducerConfiguration`).
 *
 * @example
 * ```ts
 * const producer = new kafka.Producer("localhost:9092", { transactionalId: "invoicer-1", clientId: "billing" });
 * ```
 */
export interface KafkaProducerOptions extends ConnectionOptions {
  /** `"all"` (default, required for idempotence), `"1"` (leader only) or `"0"` (no wait). */
  readonly acks?: "all" | "1" | "0";
  /** Only `"none"` (default) and `"gzip"` are built into the driver. */
  readonly compression?: "none" | "gzip";
  /** Enables transactions (`producer.transaction(…)`); implies idempotence. */
  readonly transactionalId?: string;
  /** The broker de-duplicates retried sends (producer id + sequence numbers). Default false. */
  readonly idempotent?: boolean;
  /** Transaction timeout. Default 60 000 ms. */
  readonly transactionTimeoutMs?: number;
  /** Requests in flight per broker connection. Default unlimited (1 with idempotence or transactions). */
  readonly maxInFlightRequests?: number;
  /** Let a send create a missing topic (if the broker allows it). Default true. */
  readonly allowAutoTopicCreation?: boolean;
  /** Codec for values that are neither bytes nor strings. Default `json()`. */
  readonly codec?: Codec<unknown>;
}

/**
 * Options of `kafka.Consumer`.
 *
 * @example
 * ```ts
 * const consumer = new kafka.Consumer<Order>("localhost:9092", { groupId: "reports", topics: "orders", payload: Order });
 * ```
 */
export interface KafkaConsumerOptions extends ConnectionOptions, GroupOptions {
  /** Topics to subscribe to on first use; or call `subscribe`. */
  readonly topics?: string | readonly string[] | RegExp;
  /**
   * `true`: `poll()` (and a stream's next chunk) commits the position of what the previous calls
   * returned, at most every `autoCommitIntervalMs`, and `close()` commits everything returned.
   * Default false: call `commit()`.
   */
  readonly autoCommit?: boolean;
  /** Default 5000 ms. */
  readonly autoCommitIntervalMs?: number;
  /** The schema of one record's value; records that fail it make `poll` reject (see `poll`). */
  readonly payload?: StandardSchemaV1;
  /** Records buffered ahead of the reader before partitions are paused. Default 2 × maxPollRecords. */
  readonly highWaterMark?: number;
}
