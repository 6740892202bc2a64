/**
 * Retry policy: how often and how fast a failed handler is tried again.
 *
 * @module
 */
import pRetry, { AbortError } from "p-retry";
import { PirouetteError, toError } from "../errors.ts";

/**
 * How a failing handler is retried before the message goes to the dead-letter target.
 * Delays grow as `initialDelayMs × multiplier^(retry − 1)`, capped at `maxDelayMs`; with
 * `jitter` each delay is multiplied by a random factor in [1, 2).
 *
 * @example
 * ```ts
 * const policy: RetryPolicy = {
 *   maxAttempts: 3,              // 1 try + 2 retries: 100 ms, then 200 ms (× jitter)
 *   initialDelayMs: 100,
 *   retryOn: (err) => !(err instanceof ValidationError),
 * };
 * ```
 */
export interface RetryPolicy {
  /** Total attempts including the first. Default 3. `1` disables retries. */
  readonly maxAttempts?: number;
  /** Delay before the first retry. Default 100 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound for one delay. Default 10 000 ms. */
  readonly maxDelayMs?: number;
  /** Growth factor between delays. Default 2. */
  readonly multiplier?: number;
  /** Randomise delays (× [1, 2)) to spread retries of many consumers. Default true. */
  readonly jitter?: boolean;
  /**
   * Which errors are retried. Default: every error except payload binding/validation errors
   * (a bad payload does not get better by waiting).
   */
  readonly retryOn?: (error: unknown) => boolean;
}

/** The policy used when a listener is given none. */
export const defaultRetryPolicy: Required<RetryPolicy> = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  multiplier: 2,
  jitter: true,
  retryOn: (error: unknown) => !isBindingError(error),
});

/** @internal */
export function isBindingError(error: unknown): boolean {
  return PirouetteError.is(error) && (error.code === "PAYLOAD_BINDING" || error.code === "PAYLOAD_VALIDATION");
}

/** @internal Merge a user policy over the defaults. */
export function resolveRetryPolicy(policy: RetryPolicy | false | undefined): Required<RetryPolicy> {
  if (policy === false) return { ...defaultRetryPolicy, maxAttempts: 1 };
  const merged = { ...defaultRetryPolicy, ...policy };
  if (!Number.isInteger(merged.maxAttempts) || merged.maxAttempts < 1) {
    throw new PirouetteError("INVALID_ARGUMENT", "retry.maxAttempts must be an integer >= 1");
  }
  return merged;
}

/** @internal Hooks the dispatcher passes to {@link retryAfterFailure}. */
export interface RetryHooks<R> {
  readonly signal: AbortSignal;
  /** Run one more attempt; `attempt` counts from 2. */
  attempt(attempt: number): Promise<R>;
  /** Called after each failed attempt that will be retried. */
  onRetry(error: unknown, attempt: number): void;
}

/**
 * @internal Continue after the first attempt failed with `firstError`: wait, retry per policy,
 * and resolve with the first success or reject with the last error.
 */
export function retryAfterFailure<R>(policy: Required<RetryPolicy>, firstError: unknown, hooks: RetryHooks<R>): Promise<R> {
  if (policy.maxAttempts <= 1 || !policy.retryOn(firstError)) return Promise.reject(firstError);
  return pRetry(
    async (attemptNumber) => {
      if (attemptNumber === 1) throw new AttemptFailure(toError(firstError));
      try {
        return await hooks.attempt(attemptNumber);
      } catch (e) {
        if (!policy.retryOn(e)) throw new AbortError(toError(e));
        throw new AttemptFailure(toError(e));
      }
    },
    {
      retries: policy.maxAttempts - 1,
      factor: policy.multiplier,
      minTimeout: policy.initialDelayMs,
      maxTimeout: policy.maxDelayMs,
      randomize: policy.jitter,
      signal: hooks.signal,
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0) hooks.onRetry(attemptNumber === 1 ? firstError : unwrapAttempt(error), attemptNumber);
      },
    },
  ).catch((e: unknown) => {
    throw unwrapAttempt(e);
  });
}

/**
 * p-retry never retries a `TypeError` (it takes it for a programming error), but a handler's
 * TypeError is as retryable as any other error: each failed attempt is carried in this wrapper
 * and unwrapped afterwards.
 */
class AttemptFailure extends Error {
  readonly original: Error;
  constructor(original: Error) {
    super(original.message);
    this.original = original;
  }
}

function unwrapAttempt(e: unknown): unknown {
  return e instanceof AttemptFailure ? e.original : e;
}

/** The shape {@link backoffDelay} reads: a reconnect or retry schedule. */
export interface BackoffSchedule {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** Spread each delay by ± this fraction (0 = none). */
  readonly jitter: number;
}

/**
 * The n-th delay (n ≥ 1) of a capped exponential schedule spread by ± jitter: the one shared
 * reconnect-delay rule of the protocol packages.
 *
 * @example
 * ```ts
 * const ms = backoffDelay({ initialDelayMs: 200, maxDelayMs: 5000, multiplier: 2, jitter: 0.2 }, attempt);
 * ```
 */
export function backoffDelay(r: BackoffSchedule, n: number): number {
  const base = Math.min(r.maxDelayMs, r.initialDelayMs * r.multiplier ** Math.max(0, n - 1));
  const spread = 1 + r.jitter * (2 * Math.random() - 1);
  return Math.max(0, Math.round(Math.min(r.maxDelayMs, base * spread)));
}
