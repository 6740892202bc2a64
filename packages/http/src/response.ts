/**
 * An explicit response: status, headers and body.
 *
 * @module
 */

/**
 * Options of {@link HttpResponse}.
 *
 * @example
 * ```ts
 * const init: ResponseInit = { status: 202, headers: { location: "/jobs/7" } };
 * ```
 */
export interface ResponseInit {
  /** Default 200 (201 for POST with a body, 204 without a body). */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
}

/**
 * A handler's answer when the defaults are not enough. The body follows the same rules as a
 * returned value: `undefined` → no body, a string → `text/plain`, bytes →
 * `application/octet-stream`, a `Stream` → server-sent events, anything else → JSON. A
 * `content-type` header overrides the default.
 *
 * @example
 * ```ts
 * @http.post("/orders")
 * create(req: http.Request) {
 *   const order = save(req.body);
 *   return new http.Response(order, { status: 202, headers: { location: `/orders/${order.id}` } });
 * }
 * ```
 */
export class HttpResponse {
  readonly body: unknown;
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;

  constructor(body?: unknown, init: ResponseInit = {}) {
    this.body = body;
    this.status = init.status;
    this.headers = init.headers ?? {};
  }
}
