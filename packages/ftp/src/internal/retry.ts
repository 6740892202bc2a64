/**
 * Retries of non-streaming client calls: only transient failures (connection lost, timeout),
 * on core's capped exponential backoff.
 *
 * @internal
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay, defaultRetryPolicy, type RetryPolicy } from "@pirouette/core";
import { FtpError } from "../errors.ts";

/** A resolved policy: `undefined` means one attempt. */
export type ResolvedRetry = Required<RetryPolicy> | undefined;

export function resolveRetry(policy: RetryPolicy | false | undefined): ResolvedRetry {
  if (policy === false) return undefined;
  const merged = { ...defaultRetryPolicy, ...policy };
  if (!Number.isInteger(merged.maxAttempts) || merged.maxAttempts < 1) {
    throw new FtpError("FTP_INVALID_CONFIG", "retry.maxAttempts must be an integer >= 1");
  }
  const userRetryOn = policy?.retryOn;
  // Whatever the user's policy says, only a transient FtpError is worth another attempt.
  return { ...merged, retryOn: (e) => FtpError.isFtpError(e) && e.transient && (userRetryOn === undefined || userRetryOn(e)) };
}

/** Run `attempt` until it succeeds, the error is not retryable, or the attempts are used up. */
export async function withRetry<T>(
  policy: ResolvedRetry,
  attempt: (n: number) => Promise<T>,
  onRetry: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      if (policy === undefined || n >= policy.maxAttempts || !policy.retryOn(e)) throw e;
      const delay = backoffDelay(
        { initialDelayMs: policy.initialDelayMs, maxDelayMs: policy.maxDelayMs, multiplier: policy.multiplier, jitter: policy.jitter ? 0.5 : 0 },
        n,
      );
      onRetry(e, n, delay);
      await sleep(delay);
    }
  }
}
