/**
 * `kafka.Caller`: what a service method can do besides reading its records.
 *
 * @module
 */
import type { ConsumerRecord, PartitionOffset, TopicPartition } from "./options.ts";

/**
 * @internal What a {@link Caller} acts on: the listener's subscription for one service.
 */
export interface CallerBackend {
  readonly groupId: string;
  /** Commit every partition's handled prefix now. */
  commitNow(): Promise<void>;
  commitOffsets(offsets: readonly PartitionOffset[]): Promise<void>;
  seek(offset: PartitionOffset): void;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  assignment(): TopicPartition[];
}

function partitionsOf(records: readonly ConsumerRecord<unknown>[]): TopicPartition[] {
  const seen = new Map<string, TopicPartition>();
  for (const r of records) {
    const k = `${r.topic}\u0000${r.partition}`;
    if (!seen.has(k)) seen.set(k, { topic: r.topic, partition: r.partition });
  }
  return [...seen.values()];
}

/**
 * Ballerina's `kafka:Caller`, handed to `onConsumerRecord(records, caller, ctx)` and `onError(err,
 * caller)`. By default the listener commits after the handler succeeded; the caller lets a
 * service commit earlier, commit exact offsets, seek, or pause its partitions.
 *
 * @example
 * ```ts
 * class Orders {
 *   async onConsumerRecord(records: kafka.ConsumerRecord<Order>[], caller: kafka.Caller) {
 *     for (const r of records) await save(r.value);
 *     await caller.commit(); // commit now instead of after the method returns
 *   }
 *   onError(err: Error, caller?: kafka.Caller) {
 *     const bad = (err as { coordinates?: { topic: string; partition: number; offset: number } }).coordinates;
 *     if (bad && caller) caller.seek({ ...bad, offset: bad.offset + 1 }); // skip it
 *   }
 * }
 * ```
 */
export class Caller {
  readonly #backend: CallerBackend;
  readonly #records: readonly ConsumerRecord<unknown>[];
  readonly #markHandled: (() => void) | undefined;

  /** @internal Created by the listener. */
  constructor(backend: CallerBackend, records: readonly ConsumerRecord<unknown>[], markHandled?: () => void) {
    this.#backend = backend;
    this.#records = records;
    this.#markHandled = markHandled;
  }

  /** The consumer group of the listener. */
  get groupId(): string {
    return this.#backend.groupId;
  }

  /** The records of this call (also in payload mode, where the method gets values only). */
  get records(): readonly ConsumerRecord<unknown>[] {
    return this.#records;
  }

  /**
   * Mark this call's records as handled and commit every partition's handled prefix now
   * (Ballerina's `caller->commit()`). If the method then fails, the records are not delivered
   * again.
   *
   * @throws {KafkaError} `KAFKA_COMMIT` when the broker refuses the commit.
   */
  commit(): Promise<void> {
    this.#markHandled?.();
    return this.#backend.commitNow();
  }

  /**
   * Commit exactly these offsets: each is the **next** offset to read (last handled + 1).
   *
   * @throws {KafkaError} `KAFKA_NOT_ASSIGNED` for a partition this member does not own,
   *   `KAFKA_COMMIT` when the broker refuses the commit.
   */
  commitOffset(offsets: readonly PartitionOffset[]): Promise<void> {
    return this.#backend.commitOffsets(offsets);
  }

  /**
   * Continue the partition from `offset` (replay or skip). The rest of the current batch of
   * that partition is not delivered; the new position is committed with the next commit.
   *
   * @throws {KafkaError} `KAFKA_NOT_ASSIGNED` for a partition this member does not own.
   */
  seek(offset: PartitionOffset): void {
    this.#backend.seek(offset);
  }

  /** Stop fetching these partitions (default: the partitions of this call's records). */
  pause(partitions: readonly TopicPartition[] = partitionsOf(this.#records)): void {
    this.#backend.pause(partitions);
  }

  /** Fetch these partitions again (default: the partitions of this call's records). */
  resume(partitions: readonly TopicPartition[] = partitionsOf(this.#records)): void {
    this.#backend.resume(partitions);
  }

  /** The partitions this member owns now. */
  assignment(): TopicPartition[] {
    return this.#backend.assignment();
  }

  /**
   * The positions after this call's records (last offset + 1 per partition): what to pass to
   * `tx.sendOffsets(caller.groupId, caller.offsets())` in a consume-transform-produce
   * transaction.
   */
  offsets(): PartitionOffset[] {
    const next = new Map<string, PartitionOffset>();
    for (const r of this.#records) {
      const k = `${r.topic}\u0000${r.partition}`;
      const cur = next.get(k);
      if (cur === undefined || cur.offset <= r.offset) next.set(k, { topic: r.topic, partition: r.partition, offset: r.offset + 1 });
    }
    return [...next.values()];
  }
}
