/**
 * The dispatcher every listener uses: bounded in-flight work, per-key ordering, retries,
 * dead-lettering and acknowledgement after success.
 *
 * @module
 */
import { ClosedError, PirouetteError, toError } from "../errors.ts";
import type { DeadLetterTarget } from "./dead-letter.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { isBindingError, resolveRetryPolicy, retryAfterFailure, type RetryPolicy } from "./retry-policy.ts";
import {
  endSpan,
  getInstruments,
  startProcessSpan,
  telemetryActive,
  withContext,
  type HeaderValue,
  type TelemetryTarget,
} from "./telemetry.ts";

type Traced = ReturnType<typeof startProcessSpan> & { readonly started: number };

/**
 * What a service method can see of the dispatch: cancellation, the attempt number, a
 * logger bound to the message, and the message's protocol coordinates.
 *
 * @example
 * ```ts
 * async onMessage(msg, caller, ctx: HandlerContext) {
 *   await fetch(url, { signal: ctx.signal });
 *   if (ctx.attempt > 1) ctx.logger.warn("retrying");
 * }
 * ```
 */
export interface HandlerContext {
  /** Aborted by `immediateStop()` or when a graceful stop runs out of time. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number;
  readonly logger: Logger;
  readonly coordinates: Readonly<Record<string, unknown>>;
}

/**
 * Why a {@link Delivery} is acknowledged: its handler succeeded, or it failed (after every
 * retry) and the failure policy settled it as done, by skipping it (`"skip"`) or after
 * storing it with the dead-letter target (`"dead-letter"`). `error` is the handler's (or the
 * payload binding's) last error; `onError` has heard about it before the ack.
 *
 * @example
 * ```ts
 * ack(result, outcome) {
 *   if (outcome.kind === "succeeded") reply(result);
 *   else replyError(outcome.error); // skipped or dead-lettered: answer with the failure
 *   channel.ack(msg);
 * }
 * ```
 */
export type AckOutcome =
  | { readonly kind: "succeeded" }
  | { readonly kind: "skipped"; readonly error: Error }
  | { readonly kind: "dead-lettered"; readonly error: Error };

/** The one `{ kind: "succeeded" }` every successful ack gets (no allocation per message). */
const SUCCEEDED: AckOutcome = Object.freeze({ kind: "succeeded" });

/**
 * One message handed to a {@link Dispatcher} by a protocol listener, with the callbacks that
 * settle it on the wire.
 *
 * @example
 * ```ts
 * await dispatcher.submit({
 *   message: msg,
 *   key: msg.fields.routingKey,
 *   destination: queue,
 *   coordinates: { queue, deliveryTag: msg.fields.deliveryTag },
 *   ack: () => channel.ack(msg),
 *   reject: () => channel.nack(msg, false, true),
 * });
 * ```
 */
export interface Delivery<M> {
  readonly message: M;
  /** Messages with the same key are handled one at a time, in order. `undefined`: no ordering. */
  readonly key?: string | undefined;
  /** Topic, queue, subject or path: the span name's destination. */
  readonly destination: string;
  readonly coordinates: Readonly<Record<string, unknown>>;
  /** Headers to extract a trace context from. */
  readonly headers?: Readonly<Record<string, HeaderValue>> | undefined;
  /**
   * Settle as done: the handler succeeded (`result` is its return value), or the message was
   * skipped or dead-lettered after failing (`result` is undefined); `outcome` tells which. The
   * dispatcher always passes `outcome`; an implementation may ignore it (`ack(result)`).
   */
  ack(result: unknown, outcome: AckOutcome): unknown;
  /** Settle as not done: leave the message for redelivery (or the protocol's own dead-lettering). */
  reject(error: Error): unknown;
}

/** What happens to a message whose handling failed after every retry. */
export type FailureAction = "dead-letter" | "skip" | "stop";

/** Options for {@link Dispatcher}. */
export interface DispatcherOptions<M> {
  /** Handlers running at once (different keys only). Default 1. */
  readonly concurrency?: number;
  /** Accepted and unsettled messages before `submit` makes the source wait. Default 2 × concurrency. */
  readonly maxInFlight?: number;
  readonly retry?: RetryPolicy | false;
  readonly deadLetter?: DeadLetterTarget<M> | undefined;
  /** After retries. Default: `"dead-letter"` with a target, else `"skip"` (after `onError`). */
  readonly onHandlerFailure?: FailureAction;
  /** For payload binding/validation failures. Default as `onHandlerFailure`. */
  readonly onBindingFailure?: FailureAction;
  readonly logger?: Logger;
  readonly telemetry: TelemetryTarget;
  /** Turn off spans and metrics for this dispatcher. Default true (no-op without an SDK). */
  readonly observe?: boolean;
  /** Bind the payload and call the service method; the resolved value is the reply. */
  invoke(delivery: Delivery<M>, context: HandlerContext): unknown;
  /** Tell the service (its `onError`) about a failure. Errors it throws are logged. */
  reportError(error: Error, delivery: Delivery<M>): unknown;
  /** The `"stop"` action: the listener should stop taking messages. */
  onStop?(error: Error): void;
}

// Performance notes (bench/dispatch.ts): the per-message path allocates one Job (which is
// also the handler's context; its AbortController and child logger are made only when read),
// keeps rare branches out of the small hot methods so that V8 inlines them, and uses
// TypeScript `private` rather than `#private` members on the hot classes: V8 (Node 20) runs
// `#private` accesses markedly slower once several instances of the class have come and gone
// (measured 2x on the dispatch bench, whose trials each make a new Dispatcher).

/** What the jobs of one dispatcher share: the abort state and the logger. */
interface Shared {
  /** Set by `abortAll`: every running handler is aborted with it. */
  abortReason: unknown;
  readonly logger: Logger;
  /** Running jobs whose handler asked for `ctx.signal`: the ones `abortAll` must abort. */
  readonly watched: Set<{ abort(reason: unknown): void }>;
}

/** The parts of a job most messages never need, allocated on first use. */
interface JobExtra {
  controller: AbortController | undefined;
  logger: Logger | undefined;
  traced: Traced | undefined;
  /** ISO-8601 time of the first failed attempt. */
  firstFailureAt: string | undefined;
  /** The abort reason, when `abortAll` ran before the job settled. */
  abortedWith: unknown;
}

/**
 * One accepted message and its handler context (one object per message). The AbortController
 * and the child logger are created only when the handler reads `signal` or `logger`. Fields
 * are `declare`d and set in the constructor: a plain constructor is cheaper than class-field
 * initializers, and this runs once per message.
 */
class Job<M> implements HandlerContext {
  declare readonly delivery: Delivery<M>;
  declare attempt: number;
  /** Telemetry was on when the message was accepted (pairs the in-flight +1/−1). */
  declare readonly observed: boolean;
  /** Settled: `signal` no longer registers for `abortAll`. */
  declare finished: boolean;
  declare private readonly shared: Shared;
  declare private extra: JobExtra | undefined;
  constructor(delivery: Delivery<M>, shared: Shared, observed: boolean) {
    this.delivery = delivery;
    this.attempt = 1;
    this.observed = observed;
    this.finished = false;
    this.shared = shared;
    this.extra = undefined;
  }
  get coordinates(): Readonly<Record<string, unknown>> {
    return this.delivery.coordinates;
  }
  /** The abort reason if `abortAll` ran while the job was unsettled, else undefined. */
  get aborted(): unknown {
    return this.finished ? this.extra?.abortedWith : this.shared.abortReason;
  }
  get logger(): Logger {
    const x = this.more();
    const base = this.shared.logger;
    return (x.logger ??= base.child?.({ ...this.delivery.coordinates }) ?? base);
  }
  get signal(): AbortSignal {
    const x = this.more();
    if (x.controller === undefined) {
      x.controller = new AbortController();
      const reason = this.aborted;
      if (reason !== undefined) x.controller.abort(reason);
      else if (!this.finished) this.shared.watched.add(this);
    }
    return x.controller.signal;
  }
  get traced(): Traced | undefined {
    return this.extra?.traced;
  }
  set traced(t: Traced | undefined) {
    this.more().traced = t;
  }
  get firstFailureAt(): string | undefined {
    return this.extra?.firstFailureAt;
  }
  set firstFailureAt(at: string | undefined) {
    this.more().firstFailureAt = at;
  }
  abort(reason: unknown): void {
    this.extra?.controller?.abort(reason);
  }
  /** Settled: forget the registration for `abortAll`. */
  finish(): void {
    this.finished = true;
    if (this.extra !== undefined && this.extra.controller !== undefined) this.shared.watched.delete(this);
    if (this.shared.abortReason !== undefined) this.more().abortedWith = this.shared.abortReason;
  }
  private more(): JobExtra {
    return (this.extra ??= {
      controller: undefined,
      logger: undefined,
      traced: undefined,
      firstFailureAt: undefined,
      abortedWith: undefined,
    });
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Runs service methods for a listener. Messages with the same ordering key run in order,
 * others in parallel up to `concurrency`; at most `maxInFlight` messages are accepted and
 * unsettled at once, and `submit` makes the source wait beyond that (backpressure). A
 * successful handler acks; a failing one is retried per the {@link RetryPolicy}, then
 * dead-lettered (and acked), skipped (acked after `onError`), or left unacked (`"stop"`).
 *
 * @example
 * ```ts
 * const d = new Dispatcher<Msg>({
 *   concurrency: 4,
 *   telemetry: { system: "memory" },
 *   invoke: (delivery, ctx) => service.onMessage(delivery.message, caller, ctx),
 *   reportError: (err) => service.onError?.(err),
 * });
 * for await (const msg of source) await d.submit(toDelivery(msg));
 * await d.drain(10_000);
 * ```
 */
export class Dispatcher<M> {
  private readonly o: DispatcherOptions<M>;
  private readonly concurrency: number;
  private readonly maxInFlight: number;
  private readonly retry: ReturnType<typeof resolveRetryPolicy>;
  private readonly onHandlerFailure: FailureAction;
  private readonly onBindingFailure: FailureAction;
  private readonly logger: Logger;
  private readonly observe: boolean;
  private readonly system: string;
  private readonly shared: Shared;
  private running = 0;
  private accepted = 0;
  /** Jobs ready to start, waiting for a free slot. */
  private readonly ready: Job<M>[] = [];
  /**
   * Keys with a running (or starting) job; the value holds the jobs queued behind it, in
   * order (undefined while none is).
   */
  private readonly keys = new Map<string, Job<M>[] | undefined>();
  private capacityWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private pumping = false;

  constructor(options: DispatcherOptions<M>) {
    this.o = options;
    this.concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new PirouetteError("INVALID_ARGUMENT", "concurrency must be an integer >= 1");
    }
    this.maxInFlight = options.maxInFlight ?? this.concurrency * 2;
    if (!(this.maxInFlight >= this.concurrency)) {
      throw new PirouetteError("INVALID_ARGUMENT", "maxInFlight must be >= concurrency");
    }
    this.retry = resolveRetryPolicy(options.retry);
    const fallback: FailureAction = options.deadLetter === undefined ? "skip" : "dead-letter";
    this.onHandlerFailure = options.onHandlerFailure ?? fallback;
    this.onBindingFailure = options.onBindingFailure ?? this.onHandlerFailure;
    for (const a of [this.onHandlerFailure, this.onBindingFailure]) {
      if (a === "dead-letter" && options.deadLetter === undefined) {
        throw new PirouetteError("INVALID_ARGUMENT", 'failure action "dead-letter" needs a deadLetter target');
      }
    }
    this.logger = options.logger ?? silentLogger;
    this.observe = options.observe ?? true;
    this.system = options.telemetry.system;
    this.shared = { abortReason: undefined, logger: this.logger, watched: new Set() };
  }

  /** Messages accepted and not yet settled. */
  get inFlight(): number {
    return this.accepted;
  }

  /** True while `maxInFlight` messages are unsettled: a push source should pause. */
  get saturated(): boolean {
    return this.accepted >= this.maxInFlight;
  }

  /**
   * Accept a message. Resolves once there is room for another (so a pull loop awaiting it
   * never holds more than `maxInFlight`). After {@link Dispatcher.close}, the message is
   * rejected at once (left for redelivery).
   */
  submit(delivery: Delivery<M>): Promise<void> {
    if (this.closed) return this.rejectClosed(delivery);
    this.accepted++;
    const job = new Job(delivery, this.shared, this.observe && telemetryActive() && this.countIn());
    if (delivery.key !== undefined && this.holdKey(job, delivery.key)) return this.capacity();
    if (this.running < this.concurrency) this.start(job);
    else this.ready.push(job);
    return this.accepted < this.maxInFlight ? RESOLVED : this.capacity();
  }

  // The hot path (submit, start, succeeded, done, finished) stays small so that V8 inlines
  // it; the rarer branches live in their own methods.

  /** Telemetry is on: count the message in flight. */
  private countIn(): boolean {
    getInstruments().inFlight.add(1, { "messaging.system": this.system });
    return true;
  }

  private rejectClosed(delivery: Delivery<M>): Promise<void> {
    this.safe(() => delivery.reject(new ClosedError("listener is stopping")));
    return RESOLVED;
  }

  /** Take the job's key; true when another job holds it (the job is queued behind it). */
  private holdKey(job: Job<M>, key: string): boolean {
    if (!this.keys.has(key)) {
      this.keys.set(key, undefined);
      return false;
    }
    const q = this.keys.get(key);
    if (q === undefined) this.keys.set(key, [job]);
    else q.push(job);
    return true;
  }

  /** Resolves when there is room for another message. */
  whenReady(): Promise<void> {
    return this.capacity();
  }

  private capacity(): Promise<void> {
    if (this.accepted < this.maxInFlight) return RESOLVED;
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }

  /** Stop accepting messages; what is in flight continues. */
  close(): void {
    this.closed = true;
  }

  /**
   * Wait until every accepted message is settled, or `timeoutMs` passed. Resolves true when
   * drained. Queued messages that have not started are rejected (left for redelivery).
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.closed = true;
    this.rejectQueued();
    if (this.accepted === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Abort every running handler through its `AbortSignal` (immediateStop). */
  abortAll(reason: unknown = new ClosedError("listener stopped immediately")): void {
    this.closed = true;
    if (this.shared.abortReason === undefined) this.shared.abortReason = reason;
    this.rejectQueued();
    const r = this.shared.abortReason;
    for (const job of [...this.shared.watched]) job.abort(r);
  }

  /** Reject (leave for redelivery) every accepted message that has not started. */
  private rejectQueued(): void {
    const ready = this.ready.splice(0);
    const followers: Job<M>[] = [];
    for (const [k, q] of this.keys) {
      if (q === undefined) continue;
      followers.push(...q);
      this.keys.set(k, undefined);
    }
    // A ready job with a key holds that key (its followers are queued behind it): release it.
    for (const job of ready) {
      if (job.delivery.key !== undefined) this.keys.delete(job.delivery.key);
      this.settleUnstarted(job);
    }
    for (const job of followers) this.settleUnstarted(job);
  }

  private settleUnstarted(job: Job<M>): void {
    const d = job.delivery;
    job.finish();
    this.safe(() => d.reject(new ClosedError("listener stopped before the message was handled")));
    this.finished(job, false);
  }

  private start(job: Job<M>): void {
    this.running++;
    const d = job.delivery;
    let result: unknown;
    try {
      result = job.observed ? this.invokeTraced(job) : this.o.invoke(d, job);
    } catch (first) {
      void this.recover(job, first);
      return;
    }
    // Fast path: no promise of our own unless the handler or the ack returns one.
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => this.succeeded(job, value),
        (first: unknown) => void this.recover(job, first),
      );
    } else {
      this.succeeded(job, result);
    }
  }

  private invokeTraced(job: Job<M>): unknown {
    const d = job.delivery;
    const { span, ctx } = startProcessSpan(this.o.telemetry, d.destination, d.headers);
    job.traced = { span, ctx, started: performance.now() };
    return withContext(ctx, () => this.o.invoke(d, job));
  }

  private succeeded(job: Job<M>, result: unknown): void {
    let r: unknown;
    try {
      r = job.delivery.ack(result, SUCCEEDED);
    } catch (e) {
      this.afterAck(job, Promise.reject(e));
      return;
    }
    if (r instanceof Promise) this.afterAck(job, r);
    else this.done(job, false, undefined);
  }

  /** The ack returned a promise (or threw): finish the job once it settles. */
  private afterAck(job: Job<M>, ack: Promise<unknown>): void {
    ack.then(
      () => this.done(job, false, undefined),
      (e: unknown) => void this.ackFailed(job.delivery, e).then(() => this.done(job, false, undefined)),
    );
  }

  /** Slow path: retries after a failed first attempt, then ack or the failure policy. */
  private async recover(job: Job<M>, first: unknown): Promise<void> {
    job.firstFailureAt = new Date().toISOString();
    const d = job.delivery;
    let failed = false;
    let failure: unknown;
    try {
      if (isBindingError(first) || job.aborted !== undefined) throw first;
      const result = await retryAfterFailure(this.retry, first, {
        signal: job.signal,
        attempt: (n) => {
          job.attempt = n;
          return Promise.resolve(this.o.invoke(d, job));
        },
        onRetry: (error, n) => {
          job.logger.warn({ err: toError(error), attempt: n }, "handler failed; retrying");
          if (job.observed) getInstruments().retried.add(1, { "messaging.system": this.system });
        },
      });
      await this.ack(d, result, SUCCEEDED);
    } catch (e) {
      failed = true;
      failure = e;
      await this.settleFailure(job, e);
    } finally {
      this.done(job, failed, failure);
    }
  }

  private done(job: Job<M>, failed: boolean, failure: unknown): void {
    job.finish();
    if (job.observed) this.endTrace(job, failed, failure);
    this.running--;
    this.finished(job, true);
  }

  private endTrace(job: Job<M>, failed: boolean, failure: unknown): void {
    const traced = job.traced;
    if (traced === undefined) return;
    endSpan(traced.span, failed ? failure : undefined);
    const attrs = { "messaging.system": this.system, "messaging.destination.name": job.delivery.destination };
    const inst = getInstruments();
    inst.duration.record((performance.now() - traced.started) / 1000, attrs);
    inst.consumed.add(1, attrs);
  }

  private async ackFailed(d: Delivery<M>, e: unknown): Promise<void> {
    const err = new PirouetteError("ACK_FAILED", `acknowledging the message failed: ${toError(e).message}`, {
      cause: e,
      coordinates: d.coordinates,
    });
    this.logger.error({ err, coordinates: d.coordinates }, "ack failed");
    await this.report(err, d);
  }

  private async ack(d: Delivery<M>, result: unknown, outcome: AckOutcome): Promise<void> {
    try {
      const r = d.ack(result, outcome);
      if (r instanceof Promise) await r;
    } catch (e) {
      await this.ackFailed(d, e);
    }
  }

  private async settleFailure(job: Job<M>, e: unknown): Promise<void> {
    const d = job.delivery;
    const error = toError(e);
    if (job.observed) getInstruments().failed.add(1, { "messaging.system": this.system });
    if (job.aborted !== undefined) {
      // Stopped: leave it for redelivery, do not dead-letter a message we did not finish.
      this.safe(() => d.reject(error));
      return;
    }
    await this.report(error, d);
    const action = isBindingError(e) ? this.onBindingFailure : this.onHandlerFailure;
    if (action === "skip") {
      job.logger.error({ err: error }, "handling failed; message skipped");
      await this.ack(d, undefined, { kind: "skipped", error });
      return;
    }
    if (action === "stop") {
      job.logger.error({ err: error }, "handling failed; stopping the listener");
      this.safe(() => d.reject(error));
      this.o.onStop?.(error);
      return;
    }
    const target = this.o.deadLetter as DeadLetterTarget<M>;
    try {
      await target.send({
        message: d.message,
        coordinates: d.coordinates,
        error,
        attempts: job.attempt,
        firstFailureAt: job.firstFailureAt ?? new Date().toISOString(),
      });
      if (job.observed) getInstruments().deadLettered.add(1, { "messaging.system": this.system });
      await this.ack(d, undefined, { kind: "dead-lettered", error });
    } catch (dlError) {
      const err = new PirouetteError("DEAD_LETTER", `dead-lettering failed; the message is not acknowledged: ${toError(dlError).message}`, {
        cause: dlError,
        coordinates: d.coordinates,
      });
      job.logger.error({ err }, "dead-letter failed");
      await this.report(err, d);
      this.safe(() => d.reject(error));
    }
  }

  private async report(error: Error, d: Delivery<M>): Promise<void> {
    try {
      const r = this.o.reportError(error, d);
      if (r instanceof Promise) await r;
    } catch (e) {
      this.logger.error({ err: toError(e), original: error }, "onError threw");
    }
  }

  private safe(fn: () => unknown): void {
    try {
      const r = fn();
      if (r instanceof Promise) {
        r.catch((e: unknown) => this.logger.error({ err: toError(e) }, "settling a message failed"));
      }
    } catch (e) {
      this.logger.error({ err: toError(e) }, "settling a message failed");
    }
  }

  private finished(job: Job<M>, started: boolean): void {
    this.accepted--;
    if (job.observed) getInstruments().inFlight.add(-1, { "messaging.system": this.system });
    if (started && job.delivery.key !== undefined) this.releaseKey(job.delivery.key);
    if (!this.pumping && this.ready.length > 0) this.pump();
    if (this.capacityWaiters.length > 0 && this.accepted < this.maxInFlight) this.wake(false);
    if (this.accepted === 0 && this.idleWaiters.length > 0) this.wake(true);
  }

  /** The key's running job is done: the next job queued behind it (if any) becomes ready. */
  private releaseKey(key: string): void {
    const q = this.keys.get(key);
    const next = q?.shift();
    if (next === undefined) this.keys.delete(key);
    else {
      if (q?.length === 0) this.keys.set(key, undefined);
      this.ready.push(next);
    }
  }

  /** Start ready jobs while there are free slots (handlers that finish synchronously would otherwise recurse). */
  private pump(): void {
    this.pumping = true;
    try {
      while (this.running < this.concurrency && this.ready.length > 0) this.start(this.ready.shift() as Job<M>);
    } finally {
      this.pumping = false;
    }
  }

  private wake(idle: boolean): void {
    const waiters = idle ? this.idleWaiters : this.capacityWaiters;
    if (idle) this.idleWaiters = [];
    else this.capacityWaiters = [];
    for (const w of waiters) w();
  }
}
