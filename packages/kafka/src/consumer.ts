/**
 * `kafka.Consumer`: Ballerina's `kafka:Consumer`, a pull client with `poll`, commits, seeks and
 * a `Stream` view with backpressure.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { childLogger, json, Stream, toError, type Logger } from "@pirouette/core";
import { KafkaError } from "./errors.ts";
import { consumerConfig, createTransport, intOption, parseBrokers, topicList } from "./internal/config.ts";
import { toKafkaError } from "./internal/errors.ts";
import { bindBatch, type Binder, type Bound } from "./internal/records.ts";
import type { BatchScope, ConsumerConfig, Transport, TransportConsumer } from "./internal/transport.ts";
import type { ConsumerRecord, KafkaConsumerOptions, PartitionOffset, TopicPartition } from "./options.ts";

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

interface Position {
  readonly topic: string;
  readonly partition: number;
  /** Next offset after what was delivered (poll) or finished (stream). */
  next: number | undefined;
  committed: number | undefined;
}

/**
 * Ballerina's `kafka:Consumer`: a consumer-group member you pull from. It joins the group on
 * first use; a background fetch loop fills a buffer of at most `highWaterMark` records, and the
 * group's partitions are paused while the buffer is full (so a slow reader holds nothing but
 * that buffer, and heartbeats continue).
 *
 * Commits: `commit()` commits the position after everything `poll` returned (and, for
 * `stream()`, after every chunk the reader finished). With `autoCommit: true`, each `poll`
 * commits what the previous ones returned, as Kafka's own clients do.
 *
 * @example
 * ```ts
 * const consumer = new kafka.Consumer<Order>("localhost:9092", { groupId: "reports", topics: "orders", offsetReset: "earliest" });
 * const records = await consumer.poll(1000);
 * for (const r of records) report(r.value);
 * await consumer.commit();
 *
 * for await (const r of consumer.stream().filter((r) => r.value.amount > 100)) alert(r.value);
 * await consumer.close();
 * ```
 */
export class KafkaConsumer<T = unknown> implements AsyncDisposable {
  readonly groupId: string;
  readonly #o: KafkaConsumerOptions;
  readonly #transport: Transport;
  readonly #config: ConsumerConfig;
  readonly #logger: Logger;
  readonly #binder: Binder;
  readonly #maxPollRecords: number;
  readonly #hwm: number;
  readonly #autoCommitIntervalMs: number;
  #topics: (string | RegExp)[] | undefined;
  #consumer: TransportConsumer | undefined;
  #starting: Promise<TransportConsumer> | undefined;
  #buffer: Bound[] = [];
  #head = 0;
  readonly #positions = new Map<string, Position>();
  readonly #assigned = new Set<string>();
  #paused = false;
  #waiters: (() => void)[] = [];
  #fatal: Error | undefined;
  #closed: Promise<void> | undefined;
  #streamOpen = false;
  #lastAutoCommit = 0;
  #commitChain: Promise<void> = Promise.resolve();
  #generation = 0;

  constructor(bootstrapServers?: string | readonly string[], options: KafkaConsumerOptions = {}) {
    this.#o = options;
    const brokers = parseBrokers(bootstrapServers);
    this.groupId = options.groupId ?? `pirouette-${randomUUID()}`;
    this.#logger = childLogger(options.logger, { client: "kafka-consumer", groupId: this.groupId });
    this.#config = consumerConfig(this.groupId, options);
    this.#maxPollRecords = intOption("maxPollRecords", options.maxPollRecords, 500, 1);
    this.#hwm = intOption("highWaterMark", options.highWaterMark, this.#maxPollRecords * 2, 1);
    this.#autoCommitIntervalMs = intOption("autoCommitIntervalMs", options.autoCommitIntervalMs, 5000, 0);
    this.#topics = topicList(options.topics);
    this.#binder = { codec: options.codec ?? json(), schema: options.payload };
    this.#transport = createTransport(brokers, options, this.#logger);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Subscribe to topics (replacing the current subscription). Records buffered for the old
   * subscription are dropped; positions already delivered are committed first with `autoCommit`.
   */
  async subscribe(topics: string | readonly string[] | RegExp): Promise<void> {
    this.#checkOpen();
    const list = topicList(topics);
    if (list === undefined) throw new KafkaError("KAFKA_INVALID_CONFIG", "subscribe needs at least one topic");
    const running = this.#starting;
    this.#topics = list;
    if (running !== undefined) {
      this.#starting = undefined;
      const old = await running.catch(() => undefined);
      if (old !== undefined) await this.#retire(old);
    }
    await this.#start();
  }

  async #retire(c: TransportConsumer): Promise<void> {
    if (this.#o.autoCommit === true) await this.commit().catch((e: unknown) => this.#logger.warn({ err: toError(e) }, "commit failed"));
    this.#consumer = undefined;
    this.#generation++;
    this.#buffer = [];
    this.#head = 0;
    this.#positions.clear();
    this.#assigned.clear();
    this.#paused = false;
    await c.disconnect().catch((e: unknown) => this.#logger.warn({ err: toError(e) }, "disconnecting the consumer failed"));
  }

  #start(): Promise<TransportConsumer> {
    if (this.#starting !== undefined) return this.#starting;
    const topics = this.#topics;
    if (topics === undefined) {
      return Promise.reject(new KafkaError("KAFKA_MISSING_TOPICS", "the consumer has no topics: pass topics or call subscribe()"));
    }
    const generation = this.#generation;
    const c = this.#transport.consumer(this.#config);
    const p = (async () => {
      c.onJoin((assignment) => {
        if (generation === this.#generation) this.#onJoin(assignment);
      });
      c.onCrash((error, restart) => {
        const err = toKafkaError(error, restart ? "the consumer crashed and restarts" : "the consumer crashed and stopped", "KAFKA_CONSUMER_CRASHED");
        this.#logger.error({ err, restart }, "kafka consumer crashed");
        if (!restart && generation === this.#generation) {
          this.#fatal = err;
          this.#wake();
        }
      });
      try {
        await c.connect();
        await c.subscribe(topics, this.#o.offsetReset === "earliest");
      } catch (e) {
        await c.disconnect().catch(() => undefined);
        throw toKafkaError(e, `cannot consume ${topics.map(String).join(", ")} as group "${this.groupId}"`);
      }
      this.#consumer = c;
      await c.run({ concurrency: 1, autoCommit: false, eachBatch: (scope) => this.#eachBatch(scope, generation) });
      return c;
    })();
    this.#starting = p;
    p.catch(() => {
      if (this.#starting === p) this.#starting = undefined;
    });
    return p;
  }

  #checkOpen(): void {
    if (this.#closed !== undefined) throw new KafkaError("KAFKA_CLOSED", "the consumer is closed");
  }

  /** Commit (with `autoCommit`), leave the group and disconnect. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#wake();
      const running = this.#starting;
      this.#starting = undefined;
      if (running === undefined) return;
      const c = await running.catch(() => undefined);
      if (c === undefined) return;
      await this.#retire(c);
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- fetching

  #onJoin(assignment: Readonly<Record<string, readonly number[]>>): void {
    const now = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const p of partitions) now.add(tpKey(topic, p));
    for (const k of [...this.#positions.keys()]) if (!now.has(k)) this.#positions.delete(k);
    this.#assigned.clear();
    for (const k of now) this.#assigned.add(k);
    // Buffered records are dropped: kept partitions continue after what was delivered.
    this.#buffer = [];
    this.#head = 0;
    this.#paused = false;
    for (const pos of this.#positions.values()) {
      if (pos.next !== undefined) {
        try {
          this.#consumer?.seek({ topic: pos.topic, partition: pos.partition, offset: String(pos.next) });
        } catch (e) {
          this.#logger.debug({ err: toError(e) }, "seek after join failed");
        }
      }
    }
  }

  async #eachBatch(scope: BatchScope, generation: number): Promise<void> {
    const { batch } = scope;
    const messages = batch.messages;
    if (messages.length === 0 || this.#closed !== undefined || scope.isStale()) return;
    const b = bindBatch(this.#binder, batch.topic, batch.partition, messages);
    const bounds = b instanceof Promise ? await b : b;
    if (generation !== this.#generation || scope.isStale() || !this.#assigned.has(tpKey(batch.topic, batch.partition))) return;
    for (const x of bounds) this.#buffer.push(x);
    scope.resolveOffset((messages[messages.length - 1] as { offset: string }).offset);
    if (this.#buffer.length - this.#head >= this.#hwm) this.#pause();
    this.#wake();
  }

  #pause(): void {
    if (this.#paused || this.#consumer === undefined) return;
    this.#paused = true;
    const topics = new Set<string>();
    for (const k of this.#assigned) topics.add(k.slice(0, k.indexOf("\u0000")));
    this.#consumer.pause([...topics].map((topic) => ({ topic })));
  }

  #maybeResume(): void {
    if (!this.#paused || this.#consumer === undefined) return;
    if (this.#buffer.length - this.#head > this.#hwm / 2) return;
    this.#paused = false;
    const topics = new Set<string>();
    for (const k of this.#assigned) topics.add(k.slice(0, k.indexOf("\u0000")));
    this.#consumer.resume([...topics].map((topic) => ({ topic })));
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Wait until records are buffered, or `timeoutMs` passed (undefined: no limit). */
  #waitForRecords(timeoutMs: number | undefined): Promise<void> {
    if (this.#head < this.#buffer.length || this.#fatal !== undefined || this.#closed !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
      this.#waiters.push(done);
    });
  }

  /**
   * Take up to `maxPollRecords` buffered records; stop before a record that cannot be bound,
   * or throw its binding error when it comes first (the record then counts as delivered).
   */
  #take(): Bound[] {
    const out: Bound[] = [];
    const buf = this.#buffer;
    while (this.#head < buf.length && out.length < this.#maxPollRecords) {
      const b = buf[this.#head] as Bound;
      if (b.error !== undefined) {
        if (out.length > 0) break;
        this.#head++;
        this.#compact();
        this.#advance([b]);
        throw b.error;
      }
      out.push(b);
      this.#head++;
    }
    this.#compact();
    return out;
  }

  #compact(): void {
    if (this.#head === this.#buffer.length) {
      this.#buffer = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    this.#maybeResume();
  }

  /** Move positions past `bounds`. */
  #advance(bounds: readonly Bound[]): void {
    for (const b of bounds) {
      const r = b.record;
      const k = tpKey(r.topic, r.partition);
      if (!this.#assigned.has(k)) continue;
      let pos = this.#positions.get(k);
      if (pos === undefined) {
        pos = { topic: r.topic, partition: r.partition, next: undefined, committed: undefined };
        this.#positions.set(k, pos);
      }
      if (pos.next === undefined || b.offset + 1 > pos.next) pos.next = b.offset + 1;
    }
  }

  #autoCommit(): void {
    if (this.#o.autoCommit !== true) return;
    const now = Date.now();
    if (now - this.#lastAutoCommit < this.#autoCommitIntervalMs) return;
    this.#lastAutoCommit = now;
    this.commit().catch((e: unknown) => this.#logger.warn({ err: toError(e) }, "auto-commit failed"));
  }

  // ---------------------------------------------------------------- reading

  /**
   * Records fetched within `timeoutMs` (Ballerina's `poll`): at most `maxPollRecords`, possibly
   * none. Joins the group on the first call (that wait is not part of the timeout).
   *
   * @throws {PayloadBindingError} a record that cannot be bound, when it is the first one to
   *   return (with `{ topic, partition, offset }`; the next poll continues after it).
   * @throws {KafkaError} `KAFKA_CONSUMER_CRASHED` after the driver gave up, `KAFKA_CLOSED`.
   */
  async poll(timeoutMs: number): Promise<ConsumerRecord<T>[]> {
    this.#checkOpen();
    if (this.#streamOpen) throw new KafkaError("KAFKA_STATE", "poll() cannot be used while a stream() is open");
    await this.#start();
    this.#autoCommit();
    await this.#waitForRecords(Math.max(0, timeoutMs));
    if (this.#fatal !== undefined && this.#head === this.#buffer.length) throw this.#fatal;
    const bounds = this.#take();
    this.#advance(bounds);
    return bounds.map((b) => b.record as ConsumerRecord<T>);
  }

  /** The values of `poll(timeoutMs)` (Ballerina's `pollPayload`). */
  async pollPayload(timeoutMs: number): Promise<T[]> {
    return (await this.poll(timeoutMs)).map((r) => r.value);
  }

  /**
   * The subscription as a `Stream` of records. The fetch loop runs ahead by at most
   * `highWaterMark` records; while the reader is slower, the partitions are paused. A record
   * that cannot be bound fails the stream (after the records before it); a fresh `stream()`
   * continues after it. One stream at a time; closing it does not close the consumer.
   *
   * @example
   * ```ts
   * await consumer.stream().map((r) => r.value).filter(isPaid).pipeTo(producer.sink("paid"));
   * ```
   */
  stream(): Stream<ConsumerRecord<T>, Error> {
    this.#checkOpen();
    if (this.#streamOpen) throw new KafkaError("KAFKA_STATE", "a stream() of this consumer is already open");
    this.#streamOpen = true;
    let previous: Bound[] = [];
    return new Stream<ConsumerRecord<T>, Error>({
      pull: async () => {
        // Asking for more means the reader finished the previous chunk.
        this.#advance(previous);
        previous = [];
        if (this.#closed !== undefined) return null;
        await this.#start();
        this.#autoCommit();
        for (;;) {
          await this.#waitForRecords(undefined);
          if (this.#closed !== undefined) return null;
          if (this.#fatal !== undefined && this.#head === this.#buffer.length) throw this.#fatal;
          const bounds = this.#take();
          if (bounds.length > 0) {
            previous = bounds;
            return bounds.map((b) => b.record as ConsumerRecord<T>);
          }
        }
      },
      close: () => {
        this.#streamOpen = false;
      },
    });
  }

  // ---------------------------------------------------------------- positions

  /** The partitions this member owns now. */
  assignment(): TopicPartition[] {
    return [...this.#assigned].map((k) => {
      const i = k.indexOf("\u0000");
      return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)) };
    });
  }

  /**
   * Commit the position after everything delivered so far (see the class notes).
   *
   * @throws {KafkaError} `KAFKA_COMMIT` when the broker refuses the commit.
   */
  commit(): Promise<void> {
    const run = async (): Promise<void> => {
      const c = this.#consumer;
      if (c === undefined) return;
      const list = [...this.#positions.values()].filter(
        (p) => p.next !== undefined && p.next !== p.committed && this.#assigned.has(tpKey(p.topic, p.partition)),
      );
      if (list.length === 0) return;
      const sent = list.map((p) => ({ p, next: p.next as number }));
      try {
        await c.commit(sent.map(({ p, next }) => ({ topic: p.topic, partition: p.partition, offset: String(next) })));
      } catch (e) {
        throw toKafkaError(e, "committing offsets failed", "KAFKA_COMMIT");
      }
      for (const { p, next } of sent) p.committed = next;
    };
    const p = this.#commitChain.then(run);
    this.#commitChain = p.catch(() => undefined);
    return p;
  }

  /**
   * Commit exactly these offsets (each the **next** offset to read).
   *
   * @throws {KafkaError} `KAFKA_NOT_ASSIGNED`, `KAFKA_COMMIT`.
   */
  async commitOffset(offsets: readonly PartitionOffset[]): Promise<void> {
    this.#checkOpen();
    const c = await this.#start();
    for (const o of offsets) this.#checkAssigned(o, "commit");
    const run = async (): Promise<void> => {
      try {
        await c.commit(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
      } catch (e) {
        throw toKafkaError(e, "committing offsets failed", "KAFKA_COMMIT");
      }
      for (const o of offsets) {
        const pos = this.#positions.get(tpKey(o.topic, o.partition));
        if (pos !== undefined) pos.committed = o.offset;
      }
    };
    const p = this.#commitChain.then(run);
    this.#commitChain = p.catch(() => undefined);
    return p;
  }

  #checkAssigned(o: PartitionOffset, what: string): void {
    if (!Number.isInteger(o.offset) || o.offset < 0) {
      throw new KafkaError("KAFKA_INVALID_CONFIG", `invalid offset ${String(o.offset)} for ${o.topic}[${o.partition}]`);
    }
    if (!this.#assigned.has(tpKey(o.topic, o.partition))) {
      throw new KafkaError("KAFKA_NOT_ASSIGNED", `cannot ${what} ${o.topic}[${o.partition}]: this member is not assigned that partition`, {
        coordinates: { topic: o.topic, partition: o.partition },
      });
    }
  }

  /**
   * Continue a partition from `offset`: buffered records of it are dropped, the next `poll`
   * returns records from there.
   *
   * @throws {KafkaError} `KAFKA_NOT_ASSIGNED`.
   */
  async seek(offset: PartitionOffset): Promise<void> {
    this.#checkOpen();
    const c = await this.#start();
    this.#checkAssigned(offset, "seek");
    c.seek({ topic: offset.topic, partition: offset.partition, offset: String(offset.offset) });
    const k = tpKey(offset.topic, offset.partition);
    this.#buffer = this.#buffer.slice(this.#head).filter((b) => tpKey(b.record.topic, b.record.partition) !== k);
    this.#head = 0;
    const pos = this.#positions.get(k);
    if (pos !== undefined) pos.next = offset.offset;
    else this.#positions.set(k, { topic: offset.topic, partition: offset.partition, next: offset.offset, committed: undefined });
    this.#maybeResume();
  }

  /** Stop fetching these partitions. */
  async pause(partitions: readonly TopicPartition[]): Promise<void> {
    const c = await this.#start();
    c.pause(partitions.map((p) => ({ topic: p.topic, partitions: [p.partition] })));
  }

  /** Fetch these partitions again. */
  async resume(partitions: readonly TopicPartition[]): Promise<void> {
    const c = await this.#start();
    c.resume(partitions.map((p) => ({ topic: p.topic, partitions: [p.partition] })));
  }
}
