/**
 * `HttpError`: the one error class of `@pirouette/http`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes an {@link HttpError} carries (`const c: HttpErrorCode = "NOT_FOUND"`). Status-named codes (`"NOT_FOUND"`, …) pick their
 * status by default when a handler throws them; the others describe client and listener
 * failures. The type stays open for the codes core builds (`HTTP_UNKNOWN_METHOD`, …).
 */
export type HttpErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "NOT_ACCEPTABLE"
  | "CONFLICT"
  | "GONE"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UNPROCESSABLE_ENTITY"
  | "TOO_MANY_REQUESTS"
  | "INTERNAL"
  | "NOT_IMPLEMENTED"
  | "UNAVAILABLE"
  | "GATEWAY_TIMEOUT"
  /** Client: the server answered with a status outside 2xx (see `status` and `body`). */
  | "HTTP_STATUS"
  /** Client: the connection failed or dropped. */
  | "CONNECTION"
  /** Client: no response in time. */
  | "TIMEOUT"
  /** Client: the response body is larger than `maxResponseBytes`. */
  | "RESPONSE_TOO_LARGE"
  /** Client: an SSE feed sent `event: error` (a failing server stream). */
  | "SSE_ERROR_EVENT"
  /** Client: the response is not `text/event-stream`. */
  | "SSE_CONTENT_TYPE"
  /** Listener: two resources claim the same method and path, or a path is invalid. */
  | "ROUTE"
  /** Listener: the server could not listen (port in use, permission). */
  | "LISTEN"
  | (string & {});

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  CONFLICT: 409,
  GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE_ENTITY: 422,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  NOT_IMPLEMENTED: 501,
  UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
  PAYLOAD_BINDING: 400,
  PAYLOAD_VALIDATION: 400,
};

/** @internal Codes the client raises: a handler that lets one escape answers 502, not the upstream status. */
export const CLIENT_CODES: ReadonlySet<string> = new Set([
  "HTTP_STATUS",
  "CONNECTION",
  "TIMEOUT",
  "RESPONSE_TOO_LARGE",
  "SSE_ERROR_EVENT",
  "SSE_CONTENT_TYPE",
  "BAD_RESPONSE",
  "ABORTED",
  "CLOSED",
]);

/**
 * Options of {@link HttpError}.
 *
 * @example
 * ```ts
 * throw new HttpError("TOO_MANY_REQUESTS", "slow down", { headers: { "retry-after": "5" } });
 * ```
 */
export interface HttpErrorOptions extends PirouetteErrorOptions {
  /**
   * The HTTP status. Default: from the code (`NOT_FOUND` → 404, …), 0 for client failures
   * without a response (`CONNECTION`, `TIMEOUT`, …), else 500.
   */
  readonly status?: number;
  /** Extra response headers (listener) or the response's headers (client). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Client: the decoded response body of a failed request. */
  readonly body?: unknown;
}

/**
 * The error `@pirouette/http` throws, and the one a resource handler throws to answer with a
 * status: `throw new HttpError("NOT_FOUND", "no order 7")` answers 404 with
 * `{"error":{"code":"NOT_FOUND","message":"no order 7"}}`. On the client, a non-2xx answer
 * rejects with code `"HTTP_STATUS"` and the `status` and decoded `body`.
 *
 * @example
 * ```ts
 * try {
 *   await client.get("/orders/7");
 * } catch (e) {
 *   if (HttpError.is(e) && e.status === 404) return undefined;
 *   throw e;
 * }
 * ```
 */
export class HttpError extends PirouetteError {
  override name = "HttpError";
  /** The HTTP status this error answers with (listener) or was answered with (client). */
  readonly status: number;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly body: unknown;

  constructor(code: HttpErrorCode, message: string, options: HttpErrorOptions = {}) {
    super(code, message, options);
    this.status = options.status ?? statusForCode(code);
    this.headers = options.headers;
    this.body = options.body;
  }

  /**
   * Whether `value` is an {@link HttpError} (by name and brand, not `instanceof`).
   *
   * @example
   * ```ts
   * if (HttpError.is(e)) console.log(e.status);
   * ```
   */
  static override is(value: unknown): value is HttpError {
    return PirouetteError.is(value) && value.name === "HttpError";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), status: this.status };
  }
}

/** @internal The status a code answers with. */
export function statusForCode(code: string): number {
  return STATUS_BY_CODE[code] ?? (CLIENT_CODES.has(code) ? 0 : 500);
}
