/**
 * Error types shared by every Pirouette package.
 *
 * @module
 */

const brand: unique symbol = Symbol.for("@pirouette/core/PirouetteError");

/**
 * The codes Pirouette errors carry. Protocol packages add their own string codes
 * (for example `"KAFKA_UNKNOWN_METHOD"`), so the type stays open.
 */
export type PirouetteErrorCode =
  | "INVALID_ARGUMENT"
  | "INVALID_SERVICE"
  | "PAYLOAD_BINDING"
  | "PAYLOAD_VALIDATION"
  | "TIMEOUT"
  | "CLOSED"
  | "BACKPRESSURE"
  | "CONNECTION"
  | "HANDLER"
  | "DEAD_LETTER"
  | "ABORTED"
  | "STATE"
  | (string & {});

/** Options accepted by every Pirouette error constructor. */
export interface PirouetteErrorOptions {
  /** The underlying error, kept as `error.cause`. */
  readonly cause?: unknown;
  /** Protocol coordinates of the message concerned (topic/partition/offset, delivery tag, path…). */
  readonly coordinates?: Readonly<Record<string, unknown>>;
}

/**
 * Base class of every error Pirouette throws. Each package has one subclass named after
 * its protocol (`KafkaError`, `RabbitMqError`, …). Use {@link PirouetteError.is} rather than
 * `instanceof`: the brand survives duplicate installs of the package.
 *
 * @example
 * ```ts
 * try {
 *   await stream.toArray();
 * } catch (e) {
 *   if (PirouetteError.is(e) && e.code === "TIMEOUT") retryLater();
 * }
 * ```
 */
export class PirouetteError extends Error {
  override name = "PirouetteError";
  /** A stable, machine-readable code, e.g. `"TIMEOUT"`. */
  readonly code: PirouetteErrorCode;
  /** Protocol coordinates of the message the error concerns, when there is one. */
  readonly coordinates: Readonly<Record<string, unknown>> | undefined;
  declare readonly [brand]: true;

  constructor(code: PirouetteErrorCode, message: string, options: PirouetteErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.coordinates = options.coordinates;
    Object.defineProperty(this, brand, { value: true, enumerable: false });
  }

  /**
   * Whether `value` is a Pirouette error (of any package), without relying on `instanceof`.
   *
   * @example
   * ```ts
   * if (PirouetteError.is(err)) console.log(err.code);
   * ```
   */
  static is(value: unknown): value is PirouetteError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /** A JSON view that never includes secrets held by the cause. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, coordinates: this.coordinates };
  }
}

/**
 * A payload could not be decoded into the shape the service asked for (bad JSON, wrong
 * encoding, oversize or too deep). Carries the protocol coordinates of the message.
 *
 * @example
 * ```ts
 * onError(err) {
 *   if (err instanceof PayloadBindingError) log.warn(err.coordinates, "bad payload");
 * }
 * ```
 */
export class PayloadBindingError extends PirouetteError {
  override name = "PayloadBindingError";
  constructor(message: string, options: PirouetteErrorOptions & { code?: PirouetteErrorCode } = {}) {
    super(options.code ?? "PAYLOAD_BINDING", message, options);
  }
}

/** One problem found by a schema, as `path: message`. */
export interface ValidationIssue {
  readonly message: string;
  readonly path: readonly (string | number | symbol)[];
}

/**
 * A decoded payload did not satisfy its Standard Schema (zod, valibot, arktype…).
 * `issues` lists every problem; the message joins them as `path: message` lines.
 *
 * @example
 * ```ts
 * try { await validate(Order, input); }
 * catch (e) { if (e instanceof PayloadValidationError) console.log(e.issues); }
 * ```
 */
export class PayloadValidationError extends PayloadBindingError {
  override name = "PayloadValidationError";
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[], options: PirouetteErrorOptions = {}) {
    super(
      `payload validation failed:\n${issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`).join("\n")}`,
      { ...options, code: "PAYLOAD_VALIDATION" },
    );
    this.issues = issues;
  }
}

/**
 * An operation did not finish in time.
 *
 * @example
 * ```ts
 * throw new TimeoutError("no reply within 5000 ms", { coordinates: { subject: "orders" } });
 * ```
 */
export class TimeoutError extends PirouetteError {
  override name = "TimeoutError";
  constructor(message: string, options: PirouetteErrorOptions = {}) {
    super("TIMEOUT", message, options);
  }
}

/**
 * An operation was attempted on a stream, client or listener that is already closed.
 *
 * @example
 * ```ts
 * if (closed) throw new ClosedError("client is closed");
 * ```
 */
export class ClosedError extends PirouetteError {
  override name = "ClosedError";
  constructor(message = "closed", options: PirouetteErrorOptions = {}) {
    super("CLOSED", message, options);
  }
}

function formatPath(path: readonly (string | number | symbol)[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out;
}

/**
 * Turn any thrown value into an `Error` (a non-error value becomes the message).
 *
 * @example
 * ```ts
 * catch (e) { logger.error({ err: toError(e) }); }
 * ```
 */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === "string" ? value : safeString(value));
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
