/**
 * Turning driver errors into `KafkaError`s.
 *
 * @internal
 * @module
 */
import { PirouetteError } from "@pirouette/core";
import { KafkaError, type KafkaErrorCode } from "../errors.ts";

interface DriverErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly type?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
}

/** The error and its causes, outermost first (at most 8 deep). */
function chain(e: unknown): DriverErrorLike[] {
  const out: DriverErrorLike[] = [];
  let cur: unknown = e;
  while (typeof cur === "object" && cur !== null && out.length < 8) {
    out.push(cur);
    cur = (cur as DriverErrorLike).cause;
  }
  return out;
}

/** The broker error name somewhere in the chain (`REBALANCE_IN_PROGRESS` …). */
export function errorType(e: unknown): string | undefined {
  for (const c of chain(e)) if (typeof c.type === "string") return c.type;
  return undefined;
}

function classify(e: unknown): KafkaErrorCode | undefined {
  for (const c of chain(e)) {
    const name = typeof c.name === "string" ? c.name : "";
    const type = typeof c.type === "string" ? c.type : "";
    if (name === "KafkaJSSASLAuthenticationError" || type === "SASL_AUTHENTICATION_FAILED" || type === "ILLEGAL_SASL_STATE") {
      return "KAFKA_AUTHENTICATION";
    }
    if (type.endsWith("AUTHORIZATION_FAILED")) return "KAFKA_AUTHORIZATION";
  }
  for (const c of chain(e)) {
    const name = typeof c.name === "string" ? c.name : "";
    if (name === "KafkaJSRequestTimeoutError" || name === "KafkaJSTimeout" || name === "KafkaJSLockTimeout") return "KAFKA_TIMEOUT";
    if (
      name === "KafkaJSConnectionError" ||
      name === "KafkaJSConnectionClosedError" ||
      name === "KafkaJSNoBrokerAvailableError" ||
      name === "KafkaJSBrokerNotFound"
    ) {
      return "KAFKA_CONNECTION";
    }
  }
  return undefined;
}

function rootMessage(e: unknown): string {
  const c = chain(e);
  // The innermost error with a message says what actually happened.
  for (let i = c.length - 1; i >= 0; i--) {
    const m = c[i]?.message;
    if (typeof m === "string" && m.length > 0) return m;
  }
  return String(e);
}

function isRetriable(e: unknown): boolean {
  for (const c of chain(e)) {
    if (c.name === "KafkaJSNonRetriableError") continue;
    if (c.retriable === true) return true;
  }
  return false;
}

/**
 * Wrap any error from the driver in a `KafkaError`: authentication and authorization failures
 * keep their own codes, others take `code` (the operation: send, commit, …) or, without one,
 * connection / timeout / protocol. A `PirouetteError` passes through unchanged.
 */
export function toKafkaError(
  e: unknown,
  context: string,
  code?: KafkaErrorCode,
  coordinates?: Readonly<Record<string, unknown>>,
): PirouetteError {
  if (PirouetteError.is(e)) return e;
  const kind = classify(e);
  const type = errorType(e);
  const chosen: KafkaErrorCode =
    kind === "KAFKA_AUTHENTICATION" || kind === "KAFKA_AUTHORIZATION"
      ? kind
      : (code ?? kind ?? (type === undefined ? "KAFKA_CONNECTION" : "KAFKA_PROTOCOL"));
  const hint = type === "UNKNOWN_TOPIC_OR_PARTITION" ? " (does the topic exist? consumers do not create topics)" : "";
  return new KafkaError(chosen, `${context}: ${rootMessage(e)}${hint}`, {
    cause: e,
    kafkaErrorType: type,
    retriable: isRetriable(e),
    ...(coordinates === undefined ? {} : { coordinates }),
  });
}
