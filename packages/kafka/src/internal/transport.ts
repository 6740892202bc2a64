/**
 * The driver port: everything `@pirouette/kafka` needs from a Kafka client library. The
 * listener, producer and consumer only talk to these interfaces; `kafkajs.ts` implements them
 * on kafkajs. Another driver (for example `@confluentinc/kafka-javascript`, whose KafkaJS-style
 * API maps onto the same calls) can be added by implementing {@link Transport}.
 *
 * @internal
 * @module
 */

import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { SaslOptions } from "../options.ts";

/** One fetched record as the driver delivers it (kafkajs' shape; offsets and timestamps as strings). */
export interface WireMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly offset: string;
  readonly headers?: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>> | undefined;
}

/** One fetched batch of one partition. */
export interface WireBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly WireMessage[];
  /** The last offset of the fetched batch, control records included. */
  lastOffset(): string;
}

/** What the consume loop gets per batch. */
export interface BatchScope {
  readonly batch: WireBatch;
  /** Move the fetch position past `offset` (the next fetch starts at `offset + 1`). */
  resolveOffset(offset: string): void;
  /** Send a heartbeat if one is due; rejects with a rebalance error when the group rebalances. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping. */
  isRunning(): boolean;
  /** True when a seek for this partition is pending (the batch is out of date). */
  isStale(): boolean;
}

/** A record to produce, encoded. */
export interface WireOutgoing {
  readonly key?: Buffer | string | null | undefined;
  readonly value: Buffer | string | null;
  readonly partition?: number | undefined;
  readonly headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined;
  readonly timestamp?: string | undefined;
}

/** Where a produce request put one partition's records. */
export interface WireRecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly baseOffset: string | undefined;
  readonly logAppendTime: string | undefined;
}

/** A partition's next offset, as committed or to commit. */
export interface WireOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** Connection settings every client of the transport shares. */
export interface TransportConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean | TlsConnectionOptions | undefined;
  readonly sasl?: SaslOptions | undefined;
  readonly connectionTimeoutMs?: number | undefined;
  readonly requestTimeoutMs?: number | undefined;
  readonly retry: { readonly retries: number; readonly initialRetryTimeMs: number; readonly maxRetryTimeMs: number };
  readonly log: (level: "debug" | "info" | "warn" | "error", namespace: string, message: string, extra: Record<string, unknown>) => void;
  readonly logLevel: "debug" | "info" | "warn" | "error" | "nothing";
}

export interface ConsumerConfig {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly maxWaitTimeMs: number;
  readonly maxBytesPerPartition: number;
  readonly maxBytes: number;
  readonly readUncommitted: boolean;
}

export interface RunConfig {
  /** Partitions processed at once (each by its own `eachBatch` call). */
  readonly concurrency: number;
  /** Let the driver commit resolved offsets itself (at most once). */
  readonly autoCommit: boolean;
  readonly autoCommitIntervalMs?: number | undefined;
  eachBatch(scope: BatchScope): Promise<void>;
}

export interface TransportConsumer {
  connect(): Promise<void>;
  subscribe(topics: readonly (string | RegExp)[], fromBeginning: boolean): Promise<void>;
  /** Join the group and start fetching; resolves once joined (or after a crash is reported). */
  run(config: RunConfig): Promise<void>;
  /** Stop fetching and leave the group (waits for running `eachBatch` calls). */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
  commit(offsets: readonly WireOffset[]): Promise<void>;
  seek(offset: WireOffset): void;
  pause(partitions: readonly { topic: string; partitions?: readonly number[] }[]): void;
  resume(partitions: readonly { topic: string; partitions?: readonly number[] }[]): void;
  /** Called after every (re)join with this member's assignment. */
  onJoin(fn: (assignment: Readonly<Record<string, readonly number[]>>) => void): void;
  /** Called when the driver's consumer crashed; `restart` tells whether it restarts itself. */
  onCrash(fn: (error: Error, restart: boolean) => void): void;
}

export interface TransportTransaction {
  send(topic: string, messages: readonly WireOutgoing[]): Promise<WireRecordMetadata[]>;
  sendOffsets(groupId: string, offsets: readonly WireOffset[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface ProducerConfig {
  readonly idempotent: boolean;
  readonly transactionalId?: string | undefined;
  readonly transactionTimeoutMs?: number | undefined;
  readonly maxInFlightRequests?: number | undefined;
  readonly allowAutoTopicCreation: boolean;
  readonly acks: -1 | 0 | 1;
  readonly gzip: boolean;
}

export interface TransportProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(topic: string, messages: readonly WireOutgoing[]): Promise<WireRecordMetadata[]>;
  sendBatch(batches: readonly { topic: string; messages: readonly WireOutgoing[] }[]): Promise<WireRecordMetadata[]>;
  transaction(): Promise<TransportTransaction>;
}

export interface TransportAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Create a topic; resolves false when it already exists. */
  createTopic(topic: string, numPartitions: number): Promise<boolean>;
  /** Partition count of a topic, or undefined when it does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
}

/** A driver. */
export interface Transport {
  consumer(config: ConsumerConfig): TransportConsumer;
  producer(config: ProducerConfig): TransportProducer;
  admin(): TransportAdmin;
  /** Whether an error means "the group is rebalancing" (re-join needed, the generation is over). */
  isRebalance(error: unknown): boolean;
  /** Whether an error means this member is no longer in the group (its offsets cannot be committed). */
  isFenced(error: unknown): boolean;
}
