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
  /** Settle as done: the handler succeeded (with its result), or the message was dead-lettered or skipped. */
  ack(result: unknown): unknown;
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

class Context implements HandlerContext {
  attempt = 1;
  aborted: unknown = undefined;
  /** ISO-8601 time of the first failed attempt. */
  firstFailureAt: string | undefined;
  #controller: AbortController | undefined;
  readonly coordinates: Readonly<Record<string, unknown>>;
  readonly #baseLogger: Logger;
  #logger: Logger | undefined;
  constructor(coordinates: Readonly<Record<string, unknown>>, logger: Logger) {
    this.coordinates = coordinates;
    this.#baseLogger = logger;
  }
  get logger(): Logger {
    return (this.#logger ??= this.#baseLogger.child?.({ ...this.coordinates }) ?? this.#baseLogger);
  }
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted !== undefined) this.#controller.abort(this.aborted);
    }
    return this.#controller.signal;
  }
  abort(reason: unknown): void {
    if (this.aborted !== undefined) return;
    this.aborted = reason;
    this.#controller?.abort(reason);
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
  readonly #o: DispatcherOptions<M>;
  readonly #concurrency: number;
  readonly #maxInFlight: number;
  readonly #retry: ReturnType<typeof resolveRetryPolicy>;
  readonly #onHandlerFailure: FailureAction;
  readonly #onBindingFailure: FailureAction;
  readonly #logger: Logger;
  readonly #observe: boolean;
  #running = 0;
  #inFlight = 0;
  readonly #ready: Delivery<M>[] = [];
  readonly #keyQueues = new Map<string, Delivery<M>[]>();
  readonly #activeKeys = new Set<string>();
  readonly #contexts = new Set<Context>();
  #capacityWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  #pumping = false;
  #abortReason: unknown = undefined;

  constructor(options: DispatcherOptions<M>) {
    this.#o = options;
    this.#concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new PirouetteError("INVALID_ARGUMENT", "concurrency must be an integer >= 1");
    }
    this.#maxInFlight = options.maxInFlight ?? this.#concurrency * 2;
    if (!(this.#maxInFlight >= this.#concurrency)) {
      throw new PirouetteError("INVALID_ARGUMENT", "maxInFlight must be >= concurrency");
    }
    this.#retry = resolveRetryPolicy(options.retry);
    const fallback: FailureAction = options.deadLetter === undefined ? "skip" : "dead-letter";
    this.#onHandlerFailure = options.onHandlerFailure ?? fallback;
    this.#onBindingFailure = options.onBindingFailure ?? this.#onHandlerFailure;
    for (const a of [this.#onHandlerFailure, this.#onBindingFailure]) {
      if (a === "dead-letter" && options.deadLetter === undefined) {
        throw new PirouetteError("INVALID_ARGUMENT", 'failure action "dead-letter" needs a deadLetter target');
      }
    }
    this.#logger = options.logger ?? silentLogger;
    this.#observe = options.observe ?? true;
  }

  /** Messages accepted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** True while `maxInFlight` messages are unsettled: a push source should pause. */
  get saturated(): boolean {
    return this.#inFlight >= this.#maxInFlight;
  }

  /**
   * Accept a message. Resolves once there is room for another (so a pull loop awaiting it
   * never holds more than `maxInFlight`). After {@link Dispatcher.close}, the message is
   * rejected at once (left for redelivery).
   */
  submit(delivery: Delivery<M>): Promise<void> {
    if (this.#closed) {
      this.#safe(() => delivery.reject(new ClosedError("listener is stopping")));
      return RESOLVED;
    }
    this.#inFlight++;
    if (this.#observe && telemetryActive()) getInstruments().inFlight.add(1, { "messaging.system": this.#o.telemetry.system });
    const key = delivery.key;
    if (key !== undefined) {
      if (this.#activeKeys.has(key)) {
        const q = this.#keyQueues.get(key);
        if (q === undefined) this.#keyQueues.set(key, [delivery]);
        else q.push(delivery);
        return this.#capacity();
      }
      this.#activeKeys.add(key);
    }
    if (this.#running < this.#concurrency) this.#start(delivery);
    else this.#ready.push(delivery);
    return this.#capacity();
  }

  /** Resolves when there is room for another message. */
  whenReady(): Promise<void> {
    return this.#capacity();
  }

  #capacity(): Promise<void> {
    if (this.#inFlight < this.#maxInFlight) return RESOLVED;
    return new Promise((resolve) => this.#capacityWaiters.push(resolve));
  }

  /** Stop accepting messages; what is in flight continues. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Wait until every accepted message is settled, or `timeoutMs` passed. Resolves true when
   * drained. Queued messages that have not started are rejected (left for redelivery).
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#closed = true;
    for (const d of this.#ready.splice(0)) this.#settleUnstarted(d);
    for (const [k, q] of this.#keyQueues) {
      for (const d of q) this.#settleUnstarted(d);
      this.#keyQueues.delete(k);
    }
    if (this.#inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.#idleWaiters.push(() => resolve(true)));
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
    this.#closed = true;
    this.#abortReason = reason;
    for (const d of this.#ready.splice(0)) this.#settleUnstarted(d);
    for (const [k, q] of this.#keyQueues) {
      for (const d of q) this.#settleUnstarted(d);
      this.#keyQueues.delete(k);
    }
    for (const c of this.#contexts) c.abort(reason);
  }

  #settleUnstarted(d: Delivery<M>): void {
    this.#safe(() => d.reject(new ClosedError("listener stopped before the message was handled")));
    this.#finished(d, false);
  }

  #start(d: Delivery<M>): void {
    this.#running++;
    const ctx = new Context(d.coordinates, this.#logger);
    if (this.#abortReason !== undefined) ctx.abort(this.#abortReason);
    this.#contexts.add(ctx);
    const traced =
      this.#observe && telemetryActive()
        ? { ...startProcessSpan(this.#o.telemetry, d.destination, d.headers), started: performance.now() }
        : undefined;
    // Fast path: no promise of our own unless the handler or the ack returns one.
    let result: unknown;
    try {
      result = traced === undefined ? this.#o.invoke(d, ctx) : withContext(traced.ctx, () => this.#o.invoke(d, ctx));
    } catch (first) {
      void this.#recover(d, ctx, first, traced);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => this.#succeeded(d, ctx, value, traced),
        (first: unknown) => void this.#recover(d, ctx, first, traced),
      );
    } else {
      this.#succeeded(d, ctx, result, traced);
    }
  }

  #succeeded(d: Delivery<M>, ctx: Context, result: unknown, traced: Traced | undefined): void {
    let r: unknown;
    try {
      r = d.ack(result);
    } catch (e) {
      void this.#ackFailed(d, e).then(() => this.#done(d, ctx, traced, false, undefined));
      return;
    }
    if (r instanceof Promise) {
      r.then(
        () => this.#done(d, ctx, traced, false, undefined),
        (e: unknown) => void this.#ackFailed(d, e).then(() => this.#done(d, ctx, traced, false, undefined)),
      );
    } else {
      this.#done(d, ctx, traced, false, undefined);
    }
  }

  /** Slow path: retries after a failed first attempt, then ack or the failure policy. */
  async #recover(d: Delivery<M>, ctx: Context, first: unknown, traced: Traced | undefined): Promise<void> {
    ctx.firstFailureAt = new Date().toISOString();
    let failed = false;
    let failure: unknown;
    try {
      if (isBindingError(first) || ctx.aborted !== undefined) throw first;
      const result = await retryAfterFailure(this.#retry, first, {
        signal: ctx.signal,
        attempt: (n) => {
          ctx.attempt = n;
          return Promise.resolve(this.#o.invoke(d, ctx));
        },
        onRetry: (error, n) => {
          ctx.logger.warn({ err: toError(error), attempt: n }, "handler failed; retrying");
          if (this.#observe && telemetryActive()) getInstruments().retried.add(1, { "messaging.system": this.#o.telemetry.system });
        },
      });
      await this.#ack(d, result);
    } catch (e) {
      failed = true;
      failure = e;
      await this.#settleFailure(d, e, ctx);
    } finally {
      this.#done(d, ctx, traced, failed, failure);
    }
  }

  #done(d: Delivery<M>, ctx: Context, traced: Traced | undefined, failed: boolean, failure: unknown): void {
    this.#contexts.delete(ctx);
    if (traced !== undefined) {
      endSpan(traced.span, failed ? failure : undefined);
      const attrs = { "messaging.system": this.#o.telemetry.system, "messaging.destination.name": d.destination };
      const inst = getInstruments();
      inst.duration.record((performance.now() - traced.started) / 1000, attrs);
      inst.consumed.add(1, attrs);
    }
    this.#running--;
    this.#finished(d, true);
  }

  async #ackFailed(d: Delivery<M>, e: unknown): Promise<void> {
    const err = new PirouetteError("ACK_FAILED", `acknowledging the message failed: ${toError(e).message}`, {
      cause: e,
      coordinates: d.coordinates,
    });
    this.#logger.error({ err, coordinates: d.coordinates }, "ack failed");
    await this.#report(err, d);
  }

  async #ack(d: Delivery<M>, result: unknown): Promise<void> {
    try {
      const r = d.ack(result);
      if (r instanceof Promise) await r;
    } catch (e) {
      await this.#ackFailed(d, e);
    }
  }

  async #settleFailure(d: Delivery<M>, e: unknown, ctx: Context): Promise<void> {
    const error = toError(e);
    if (this.#observe && telemetryActive()) getInstruments().failed.add(1, { "messaging.system": this.#o.telemetry.system });
    if (ctx.aborted !== undefined) {
      // Stopped: leave it for redelivery, do not dead-letter a message we did not finish.
      this.#safe(() => d.reject(error));
      return;
    }
    await this.#report(error, d);
    const action = isBindingError(e) ? this.#onBindingFailure : this.#onHandlerFailure;
    if (action === "skip") {
      ctx.logger.error({ err: error }, "handling failed; message skipped");
      await this.#ack(d, undefined);
      return;
    }
    if (action === "stop") {
      ctx.logger.error({ err: error }, "handling failed; stopping the listener");
      this.#safe(() => d.reject(error));
      this.#o.onStop?.(error);
      return;
    }
    const target = this.#o.deadLetter as DeadLetterTarget<M>;
    try {
      await target.send({
        message: d.message,
        coordinates: d.coordinates,
        error,
        attempts: ctx.attempt,
        firstFailureAt: ctx.firstFailureAt ?? new Date().toISOString(),
      });
      if (this.#observe && telemetryActive()) getInstruments().deadLettered.add(1, { "messaging.system": this.#o.telemetry.system });
      await this.#ack(d, undefined);
    } catch (dlError) {
      const err = new PirouetteError("DEAD_LETTER", `dead-lettering failed; the message is not acknowledged: ${toError(dlError).message}`, {
        cause: dlError,
        coordinates: d.coordinates,
      });
      ctx.logger.error({ err }, "dead-letter failed");
      await this.#report(err, d);
      this.#safe(() => d.reject(error));
    }
  }

  async #report(error: Error, d: Delivery<M>): Promise<void> {
    try {
      const r = this.#o.reportError(error, d);
      if (r instanceof Promise) await r;
    } catch (e) {
      this.#logger.error({ err: toError(e), original: error }, "onError threw");
    }
  }

  #safe(fn: () => unknown): void {
    try {
      const r = fn();
      if (r instanceof Promise) {
        r.catch((e: unknown) => this.#logger.error({ err: toError(e) }, "settling a message failed"));
      }
    } catch (e) {
      this.#logger.error({ err: toError(e) }, "settling a message failed");
    }
  }

  #finished(d: Delivery<M>, started: boolean): void {
    this.#inFlight--;
    if (this.#observe && telemetryActive()) getInstruments().inFlight.add(-1, { "messaging.system": this.#o.telemetry.system });
    if (started && d.key !== undefined) {
      const q = this.#keyQueues.get(d.key);
      const next = q?.shift();
      if (next === undefined) {
        this.#keyQueues.delete(d.key);
        this.#activeKeys.delete(d.key);
      } else {
        if (q !== undefined && q.length === 0) this.#keyQueues.delete(d.key);
        this.#ready.push(next);
      }
    } else if (!started && d.key !== undefined && !this.#keyQueues.has(d.key)) {
      this.#activeKeys.delete(d.key);
    }
    if (!this.#pumping) {
      // Handlers that finish synchronously would otherwise recurse through here.
      this.#pumping = true;
      try {
        while (this.#running < this.#concurrency && this.#ready.length > 0) this.#start(this.#ready.shift() as Delivery<M>);
      } finally {
        this.#pumping = false;
      }
    }
    if (this.#inFlight < this.#maxInFlight && this.#capacityWaiters.length > 0) {
      const waiters = this.#capacityWaiters;
      this.#capacityWaiters = [];
      for (const w of waiters) w();
    }
    if (this.#inFlight === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
