/**
 * The consume loop of one attached service: fetched batches → bound records → chunks handed
 * to the core dispatcher → a per-partition "handled prefix" that is committed after success,
 * with heartbeats while handlers run and revocation handling on rebalance.
 *
 * How batches map to dispatcher deliveries: a fetched batch of one partition is bound record by
 * record, then cut into **chunks** of at most `maxPollRecords` records (with `orderBy: "key"`,
 * per record key first). One chunk is one delivery: the service gets the chunk as an array.
 * Chunks of one partition (or key) run one after the other; a record that cannot be bound is a
 * delivery of its own, so its binding error goes through the dispatcher's binding-failure path.
 * When a chunk of several records fails, the same delivery switches to *isolation*: it calls the
 * service with one record at a time, marks each success as handled, and lets the dispatcher
 * retry (and finally dead-letter or skip) only the record that fails; the records after it
 * become the next chunk. So a poison record costs its neighbours one failed batch call, not
 * their place in the dead-letter topic.
 *
 * @internal
 * @module
 */
import {
  toError,
  type DeadLetterTarget,
  type Delivery,
  type Dispatcher,
  type DispatcherOptions,
  type FailureAction,
  type HandlerContext,
  type Logger,
  type RetryPolicy,
} from "@pirouette/core";
import { Caller, type CallerBackend } from "../caller.ts";
import { KafkaError } from "../errors.ts";
import type { ConsumerRecord, PartitionOffset, TopicPartition } from "../options.ts";
import { toKafkaError } from "./errors.ts";
import { bindBatch, type Binder, type Bound } from "./records.ts";
import type { BatchScope, ConsumerConfig, Transport, TransportConsumer, WireOffset } from "./transport.ts";

/** Everything the loop needs, resolved from the listener options and the service config. */
export interface ConsumeSettings {
  readonly groupId: string;
  readonly topics: readonly (string | RegExp)[];
  readonly fromBeginning: boolean;
  readonly consumer: ConsumerConfig;
  readonly concurrency: number;
  readonly orderBy: "partition" | "key";
  readonly maxPollRecords: number;
  readonly autoCommit: boolean;
  readonly autoCommitIntervalMs: number;
  readonly commitIntervalMs: number;
  readonly autoSeek: boolean;
  readonly revokeTimeoutMs: number;
  readonly pollingIntervalMs: number;
  readonly payloadMode: boolean;
  readonly binder: Binder;
  readonly retry: RetryPolicy | false | undefined;
  readonly deadLetter: ((b: Bound, rec: Parameters<DeadLetterTarget<unknown>["send"]>[0]) => Promise<void>) | undefined;
  readonly onHandlerFailure: FailureAction | undefined;
  readonly onBindingFailure: FailureAction | undefined;
}

/** What the loop needs from the listener. */
export interface ConsumeHost {
  readonly logger: Logger;
  createDispatcher(options: Omit<DispatcherOptions<Chunk>, "logger">): Dispatcher<Chunk>;
  releaseDispatcher(d: Dispatcher<Chunk>): void;
  /** The service's `onError(error, caller?)`. */
  notifyError(error: Error, caller?: Caller): Promise<void>;
  /** The service's `onConsumerRecord(arg, caller, ctx)`. */
  call(arg: unknown, caller: Caller, ctx: HandlerContext): unknown;
}

class PartitionState {
  readonly topic: string;
  readonly partition: number;
  assigned = true;
  /** Last committed position (next offset to read). */
  committed: number | undefined;
  /** Handled prefix: the next offset to commit. */
  position: number | undefined;
  dirty = false;
  /** Set by a seek: commit the position even if it is below the committed one. */
  forced = false;
  progress: BatchProgress | undefined;
  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }
}

/** Which records of the batch being handled are done; the handled prefix. */
class BatchProgress {
  readonly state: PartitionState;
  readonly bounds: readonly Bound[];
  readonly done: Uint8Array;
  /** Position once every delivered record is done (batch end, or the first record not delivered). */
  readonly end: number;
  head = 0;
  abandoned = false;
  constructor(state: PartitionState, bounds: readonly Bound[], end: number) {
    this.state = state;
    this.bounds = bounds;
    this.done = new Uint8Array(bounds.length);
    this.end = end;
  }
  mark(index: number): void {
    const done = this.done;
    if (done[index] === 1) return;
    done[index] = 1;
    const n = done.length;
    let h = this.head;
    while (h < n && done[h] === 1) h++;
    this.head = h;
  }
  position(): number {
    return this.head < this.bounds.length ? (this.bounds[this.head] as Bound).offset : this.end;
  }
}

/** One delivery: consecutive records of one partition (or key) for one service call. */
export class Chunk {
  readonly bounds: readonly Bound[];
  readonly progress: BatchProgress;
  cursor = 0;
  isolated = false;
  succeeded = false;
  #records: ConsumerRecord<unknown>[] | undefined;
  readonly #settle: (consumed: number) => void;
  readonly settled: Promise<number>;
  constructor(bounds: readonly Bound[], progress: BatchProgress) {
    this.bounds = bounds;
    this.progress = progress;
    let settle: ((consumed: number) => void) | undefined;
    this.settled = new Promise((resolve) => {
      settle = resolve;
    });
    this.#settle = settle as (consumed: number) => void;
  }
  records(): ConsumerRecord<unknown>[] {
    return (this.#records ??= this.bounds.map((b) => b.record));
  }
  /** Records consumed (handled, dead-lettered or skipped), or -1: left for redelivery. */
  settle(consumed: number): void {
    this.#settle(consumed);
  }
  /** The record the dispatcher's failure path is about. */
  get failing(): Bound {
    return this.bounds[Math.min(this.cursor, this.bounds.length - 1)] as Bound;
  }
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function sleep(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** The consume loop of one service. */
export class ServiceConsumer implements CallerBackend {
  readonly groupId: string;
  readonly #s: ConsumeSettings;
  readonly #host: ConsumeHost;
  readonly #transport: Transport;
  readonly #consumer: TransportConsumer;
  readonly #dispatcher: Dispatcher<Chunk>;
  readonly #states = new Map<string, PartitionState>();
  readonly #logger: Logger;
  #halted = false;
  #revoking = false;
  #joins = 0;
  #closing: (() => void) | undefined;
  readonly #closed: Promise<"closed">;
  #commitChain: Promise<void> = Promise.resolve();
  #commitTimer: NodeJS.Timeout | undefined;
  #started = false;

  constructor(settings: ConsumeSettings, transport: Transport, host: ConsumeHost) {
    this.#s = settings;
    this.groupId = settings.groupId;
    this.#host = host;
    this.#transport = transport;
    this.#logger = host.logger;
    this.#consumer = transport.consumer(settings.consumer);
    this.#closed = new Promise((resolve) => {
      this.#closing = () => resolve("closed");
    });
    this.#dispatcher = host.createDispatcher({
      concurrency: settings.concurrency,
      ...(settings.retry === undefined ? {} : { retry: settings.retry }),
      ...(settings.deadLetter === undefined
        ? {}
        : {
            deadLetter: {
              send: (rec) => (settings.deadLetter as NonNullable<ConsumeSettings["deadLetter"]>)(rec.message.failing, rec),
            },
          }),
      ...(settings.onHandlerFailure === undefined ? {} : { onHandlerFailure: settings.onHandlerFailure }),
      ...(settings.onBindingFailure === undefined ? {} : { onBindingFailure: settings.onBindingFailure }),
      telemetry: { system: "kafka", consumerGroup: settings.groupId },
      invoke: (d, ctx) => this.#invoke(d.message, ctx),
      reportError: (error, d) => this.#host.notifyError(error, this.#caller(d.message, [d.message.failing])),
      onStop: (error) => {
        this.#logger.error({ err: error }, "kafka service stopped after a failure (onHandlerFailure/onBindingFailure: stop)");
        this.#halt();
      },
    });
  }

  /** Member joins so far (1 after the first join; each rebalance adds one). */
  get joins(): number {
    return this.#joins;
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    const c = this.#consumer;
    c.onJoin((assignment) => this.#onJoin(assignment));
    c.onCrash((error, restart) => {
      const err = toKafkaError(error, restart ? "the consumer crashed and restarts" : "the consumer crashed and stopped", "KAFKA_CONSUMER_CRASHED");
      this.#logger.error({ err, restart }, "kafka consumer crashed");
      void this.#host.notifyError(err);
    });
    try {
      await c.connect();
      await c.subscribe(this.#s.topics, this.#s.fromBeginning);
    } catch (e) {
      await c.disconnect().catch(() => undefined);
      throw toKafkaError(e, `cannot consume ${this.#s.topics.map(String).join(", ")} as group "${this.groupId}"`);
    }
    await c.run({
      concurrency: this.#s.concurrency,
      autoCommit: this.#s.autoCommit,
      autoCommitIntervalMs: this.#s.autoCommitIntervalMs,
      eachBatch: (scope) => this.#eachBatch(scope),
    });
    this.#started = true;
    if (!this.#s.autoCommit && this.#s.commitIntervalMs > 0) {
      this.#commitTimer = setInterval(() => {
        this.commitNow().catch((e: unknown) => this.#logger.warn({ err: toError(e) }, "periodic commit failed"));
      }, this.#s.commitIntervalMs);
      this.#commitTimer.unref();
    }
  }

  /** Take no new batches: running chunks finish, the rest of their batches stays uncommitted. */
  stopIntake(): void {
    this.#halt();
  }

  /** Dispatcher to drain on stop. */
  get dispatcher(): Dispatcher<Chunk> {
    return this.#dispatcher;
  }

  /** Commit what finished, leave the group, disconnect. */
  async close(): Promise<void> {
    this.#halted = true;
    clearInterval(this.#commitTimer);
    this.#closing?.();
    if (this.#started && !this.#s.autoCommit) {
      await this.commitNow().catch((e: unknown) => {
        this.#logger.warn({ err: toError(e) }, "final commit failed");
      });
    }
    await this.#consumer.disconnect().catch((e: unknown) => {
      this.#logger.warn({ err: toError(e) }, "disconnecting the consumer failed");
    });
    this.#host.releaseDispatcher(this.#dispatcher);
  }

  #halt(): void {
    this.#halted = true;
    this.#pauseAll();
  }

  #pauseAll(): void {
    const topics = new Set<string>();
    for (const s of this.#states.values()) topics.add(s.topic);
    if (topics.size === 0) return;
    try {
      this.#consumer.pause([...topics].map((topic) => ({ topic })));
    } catch (e) {
      this.#logger.debug({ err: toError(e) }, "pause failed");
    }
  }

  // ---------------------------------------------------------------- group membership

  #onJoin(assignment: Readonly<Record<string, readonly number[]>>): void {
    this.#joins++;
    this.#revoking = false;
    const keep = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) {
        const k = tpKey(topic, p);
        keep.add(k);
        if (!this.#states.has(k)) this.#states.set(k, new PartitionState(topic, p));
      }
    }
    for (const [k, s] of this.#states) {
      if (keep.has(k)) continue;
      // Revoked: its in-flight work is dropped and nothing is committed for it any more.
      s.assigned = false;
      if (s.progress !== undefined) s.progress.abandoned = true;
      this.#states.delete(k);
    }
    this.#logger.info({ groupId: this.groupId, assignment, joins: this.#joins }, "kafka group joined");
    if (this.#halted) this.#pauseAll();
  }

  assignment(): TopicPartition[] {
    return [...this.#states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  #assigned(topic: string, partition: number, what: string): PartitionState {
    const s = this.#states.get(tpKey(topic, partition));
    if (s === undefined || !s.assigned) {
      throw new KafkaError("KAFKA_NOT_ASSIGNED", `cannot ${what} ${topic}[${partition}]: this member is not assigned that partition`, {
        coordinates: { topic, partition },
      });
    }
    return s;
  }

  // ---------------------------------------------------------------- commits

  /** Commit every assigned partition's handled prefix (serialized with other commits). */
  commitNow(): Promise<void> {
    const p = this.#commitChain.then(() => this.#commitDirty());
    this.#commitChain = p.catch(() => undefined);
    return p;
  }

  async #commitDirty(): Promise<void> {
    const sent: { s: PartitionState; position: number }[] = [];
    for (const s of this.#states.values()) {
      if (!s.assigned || !s.dirty || s.position === undefined) continue;
      s.dirty = false;
      if (!s.forced && s.committed !== undefined && s.position <= s.committed) continue;
      sent.push({ s, position: s.position });
    }
    if (sent.length === 0) return;
    const offsets: WireOffset[] = sent.map(({ s, position }) => ({ topic: s.topic, partition: s.partition, offset: String(position) }));
    try {
      await this.#consumer.commit(offsets);
    } catch (e) {
      for (const { s } of sent) if (s.assigned) s.dirty = true;
      throw toKafkaError(e, "committing offsets failed", "KAFKA_COMMIT");
    }
    for (const { s, position } of sent) {
      s.committed = position;
      s.forced = false;
    }
  }

  commitOffsets(offsets: readonly PartitionOffset[]): Promise<void> {
    let states: PartitionState[];
    try {
      states = offsets.map((o) => {
        if (!Number.isInteger(o.offset) || o.offset < 0) {
          throw new KafkaError("KAFKA_INVALID_CONFIG", `invalid offset ${String(o.offset)} for ${o.topic}[${o.partition}]`);
        }
        return this.#assigned(o.topic, o.partition, "commit");
      });
    } catch (e) {
      return Promise.reject(e);
    }
    const run = async (): Promise<void> => {
      try {
        await this.#consumer.commit(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
      } catch (e) {
        throw toKafkaError(e, "committing offsets failed", "KAFKA_COMMIT");
      }
      offsets.forEach((o, i) => {
        const s = states[i] as PartitionState;
        s.committed = o.offset;
      });
    };
    const p = this.#commitChain.then(run);
    this.#commitChain = p.catch(() => undefined);
    return p;
  }

  seek(o: PartitionOffset): void {
    if (!Number.isInteger(o.offset) || o.offset < 0) {
      throw new KafkaError("KAFKA_INVALID_CONFIG", `invalid offset ${String(o.offset)} for ${o.topic}[${o.partition}]`);
    }
    const s = this.#assigned(o.topic, o.partition, "seek");
    this.#consumer.seek({ topic: o.topic, partition: o.partition, offset: String(o.offset) });
    if (s.progress !== undefined) s.progress.abandoned = true;
    s.position = o.offset;
    s.dirty = true;
    s.forced = true;
  }

  pause(partitions: readonly TopicPartition[]): void {
    this.#consumer.pause(groupByTopic(partitions));
  }

  resume(partitions: readonly TopicPartition[]): void {
    if (this.#halted) return;
    this.#consumer.resume(groupByTopic(partitions));
  }

  #markDone(b: Bound, progress: BatchProgress): void {
    if (progress.abandoned) return;
    progress.mark(b.index);
    const s = progress.state;
    s.position = progress.position();
    s.dirty = true;
  }

  #caller(chunk: Chunk, bounds: readonly Bound[]): Caller {
    const records = bounds === chunk.bounds ? chunk.records() : bounds.map((b) => b.record);
    return new Caller(this, records, () => {
      for (const b of bounds) this.#markDone(b, chunk.progress);
    });
  }

  // ---------------------------------------------------------------- dispatch

  async #invoke(c: Chunk, ctx: HandlerContext): Promise<unknown> {
    const first = c.bounds[0] as Bound;
    if (first.error !== undefined) throw first.error;
    if (c.progress.abandoned) {
      // Revoked or seeked away: do not call the service; the ack is ignored.
      c.succeeded = true;
      return undefined;
    }
    if (!c.isolated) {
      try {
        const r = await this.#host.call(this.#arg(c.bounds, c), this.#caller(c, c.bounds), ctx);
        c.succeeded = true;
        return r;
      } catch (e) {
        if (c.bounds.length - c.cursor <= 1 || ctx.signal.aborted) throw e;
        c.isolated = true;
        ctx.logger.warn(
          { err: toError(e), records: c.bounds.length },
          "a batch failed; handling its records one at a time to find the failing one",
        );
      }
    }
    while (c.cursor < c.bounds.length) {
      if (c.progress.abandoned) {
        c.succeeded = true;
        return undefined;
      }
      const b = c.bounds[c.cursor] as Bound;
      const one = [b];
      await this.#host.call(this.#arg(one, undefined), this.#caller(c, one), ctx);
      this.#markDone(b, c.progress);
      c.cursor++;
    }
    c.succeeded = true;
    return undefined;
  }

  #arg(bounds: readonly Bound[], chunk: Chunk | undefined): unknown[] {
    if (!this.#s.payloadMode) return chunk === undefined ? bounds.map((b) => b.record) : chunk.records();
    const n = bounds.length;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = (bounds[i] as Bound).value;
    return out;
  }

  #ack(c: Chunk): void {
    const n = c.bounds.length;
    if (c.succeeded) {
      for (let i = c.cursor; i < n; i++) this.#markDone(c.bounds[i] as Bound, c.progress);
      c.settle(n);
      return;
    }
    // Dead-lettered or skipped: the failing record is done; the records after it come next.
    const i = Math.min(c.cursor, n - 1);
    this.#markDone(c.bounds[i] as Bound, c.progress);
    c.settle(i + 1);
  }

  #delivery(c: Chunk, key: string): Delivery<Chunk> {
    const first = c.bounds[0] as Bound;
    const last = c.bounds[c.bounds.length - 1] as Bound;
    const { topic, partition } = first.record;
    return {
      message: c,
      key,
      destination: topic,
      coordinates:
        c.bounds.length === 1
          ? { topic, partition, offset: first.offset }
          : { topic, partition, offset: first.offset, lastOffset: last.offset, count: c.bounds.length },
      headers: first.raw.headers,
      ack: () => this.#ack(c),
      reject: () => c.settle(-1),
    };
  }

  /** Deliver `bounds` (one partition or one key, in offset order) chunk after chunk. */
  async #runGroup(bounds: readonly Bound[], progress: BatchProgress, key: string): Promise<void> {
    const max = this.#s.maxPollRecords;
    const n = bounds.length;
    let i = 0;
    while (i < n) {
      if (this.#halted || this.#revoking || progress.abandoned) return;
      let j = i + 1;
      if ((bounds[i] as Bound).error === undefined) {
        while (j < n && j - i < max && (bounds[j] as Bound).error === undefined) j++;
      }
      const chunk = new Chunk(i === 0 && j === n ? bounds : bounds.slice(i, j), progress);
      await this.#dispatcher.submit(this.#delivery(chunk, key));
      const consumed = await Promise.race([chunk.settled, this.#closed]);
      if (consumed === "closed" || consumed < 0) return;
      i += consumed;
    }
  }

  #groups(bounds: readonly Bound[], progress: BatchProgress, partKey: string): Promise<unknown> {
    if (this.#s.orderBy === "partition" || bounds.length === 1) return this.#runGroup(bounds, progress, partKey);
    const byKey = new Map<string, Bound[]>();
    for (const b of bounds) {
      const k = b.raw.key === null ? "" : `k${b.raw.key.toString("latin1")}`;
      const list = byKey.get(k);
      if (list === undefined) byKey.set(k, [b]);
      else list.push(b);
    }
    return Promise.all([...byKey].map(([k, list]) => this.#runGroup(list, progress, `${partKey}\u0000${k}`)));
  }

  async #eachBatch(scope: BatchScope): Promise<void> {
    const { batch } = scope;
    const messages = batch.messages;
    if (messages.length === 0) return;
    const { topic, partition } = batch;
    const k = tpKey(topic, partition);
    if (this.#halted) {
      // Stopping: leave the batch for redelivery, and stop fetching it.
      this.#consumer.pause([{ topic, partitions: [partition] }]);
      return;
    }
    // Rebalancing: leave the batch for redelivery (to this member or the next owner).
    if (this.#revoking) return;
    if (scope.isStale()) return;
    let state = this.#states.get(k);
    if (state === undefined) {
      state = new PartitionState(topic, partition);
      this.#states.set(k, state);
    }
    if (this.#s.autoCommit) scope.resolveOffset((messages[messages.length - 1] as { offset: string }).offset);

    const boundOrPromise = bindBatch(this.#s.binder, topic, partition, messages);
    let bounds = boundOrPromise instanceof Promise ? await boundOrPromise : boundOrPromise;
    let end = Number(batch.lastOffset()) + 1;
    let cut = false;
    if (!this.#s.autoSeek) {
      const bad = bounds.findIndex((b) => b.error !== undefined);
      if (bad === 0) {
        await this.#badHead(bounds[0] as Bound, scope, state);
        return;
      }
      if (bad > 0) {
        end = (bounds[bad] as Bound).offset;
        bounds = bounds.slice(0, bad);
        cut = true;
      }
    }
    const progress = new BatchProgress(state, bounds, end);
    state.progress = progress;
    let revoked = false;
    try {
      await this.#whileHeartbeating(this.#groups(bounds, progress, k), scope, progress);
    } catch (e) {
      revoked = true;
      throw e;
    } finally {
      if (state.progress === progress) state.progress = undefined;
      if (!revoked && !progress.abandoned && !this.#s.autoCommit && !scope.isStale()) {
        if (progress.head === bounds.length && !cut) scope.resolveOffset((messages[messages.length - 1] as { offset: string }).offset);
        else scope.resolveOffset(String(progress.position() - 1));
      }
    }
    if (!this.#s.autoCommit && this.#s.commitIntervalMs === 0 && !progress.abandoned) {
      await this.commitNow().catch((e: unknown) => this.#commitFailed(e));
    }
  }

  #commitFailed(e: unknown): void {
    const err = toKafkaError(e, "committing offsets failed", "KAFKA_COMMIT");
    this.#logger.warn({ err }, "commit failed; the offsets are committed with the next commit");
    void this.#host.notifyError(err);
  }

  /** autoSeekOnValidationFailure false, and the batch starts with a record that cannot be bound. */
  async #badHead(b: Bound, scope: BatchScope, state: PartitionState): Promise<void> {
    const progress = new BatchProgress(state, [b], b.offset);
    const chunk = new Chunk([b], progress);
    await this.#host.notifyError(b.error as Error, this.#caller(chunk, [b]));
    if (scope.isStale()) return; // the service seeked: the next fetch starts there
    // Fetched again from the bad record until the service seeks past it (Ballerina's semantics);
    // wait a polling interval first so this does not spin.
    const wait = sleep(this.#s.pollingIntervalMs);
    try {
      await this.#whileHeartbeating(wait.promise, scope, progress);
    } finally {
      wait.cancel();
    }
  }

  /** Wait for `work` while sending heartbeats; on a rebalance, settle what can be and rethrow. */
  async #whileHeartbeating(work: Promise<unknown>, scope: BatchScope, progress: BatchProgress): Promise<void> {
    let done = false;
    const finished = work.then(
      () => {
        done = true;
      },
      (e: unknown) => {
        done = true;
        this.#logger.error({ err: toError(e) }, "internal error in the consume loop");
      },
    );
    const interval = Math.max(100, Math.floor(this.#s.consumer.heartbeatIntervalMs / 2));
    while (!done) {
      const tick = sleep(interval);
      const r = await Promise.race([finished, tick.promise, this.#closed]);
      tick.cancel();
      if (done || r === "closed") return;
      try {
        await scope.heartbeat();
        // Long batch: commit what finished so far rather than only at its end.
        if (!this.#s.autoCommit && this.#s.commitIntervalMs === 0 && !this.#revoking) {
          await this.commitNow().catch((e: unknown) => this.#logger.debug({ err: toError(e) }, "commit during a batch failed"));
        }
      } catch (e) {
        if (!this.#transport.isRebalance(e)) {
          this.#logger.debug({ err: toError(e) }, "heartbeat failed; still waiting for the handlers");
          continue;
        }
        await this.#revoke(e, finished, progress, scope);
        throw e;
      }
    }
  }

  /**
   * The group is rebalancing while handlers run: take no more chunks, let running handlers finish
   * (bounded), commit what finished with the current generation, then re-join. If this member was
   * fenced (its generation is over), nothing can be committed: its work is dropped.
   */
  async #revoke(e: unknown, finished: Promise<void>, progress: BatchProgress, scope: BatchScope): Promise<void> {
    this.#revoking = true;
    const fenced = this.#transport.isFenced(e);
    this.#logger.warn({ groupId: this.groupId, reason: toError(e).message, fenced }, "rebalance while handlers run");
    if (!fenced) {
      let done = false;
      void finished.then(() => {
        done = true;
      });
      const deadline = Date.now() + this.#s.revokeTimeoutMs;
      const interval = Math.max(100, Math.floor(this.#s.consumer.heartbeatIntervalMs / 2));
      while (!done && Date.now() < deadline) {
        const tick = sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
        const r = await Promise.race([finished, tick.promise, this.#closed]);
        tick.cancel();
        if (done || r === "closed") break;
        // The answer is REBALANCE_IN_PROGRESS, but the heartbeat keeps the session alive.
        await scope.heartbeat().catch(() => undefined);
      }
      await this.commitNow().catch((err: unknown) => this.#logger.warn({ err: toError(err) }, "commit on revoke failed"));
    }
    progress.abandoned = true;
  }
}

function groupByTopic(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const p of partitions) {
    const list = m.get(p.topic);
    if (list === undefined) m.set(p.topic, [p.partition]);
    else list.push(p.partition);
  }
  return [...m].map(([topic, ps]) => ({ topic, partitions: ps }));
}
