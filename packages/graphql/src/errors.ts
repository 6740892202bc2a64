/**
 * `GraphqlError`: the one error class of `@pirouette/graphql`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";
import type { GraphQLFormattedError } from "graphql";

/**
 * The codes a {@link GraphqlError} carries (`const c: GraphqlErrorCode = "BAD_USER_INPUT"`).
 * On the server the code is sent to clients as the error's `extensions.code`; on the client a
 * failed operation takes the first GraphQL error's `extensions.code` when the server set one.
 * The type stays open for the codes core builds (`GRAPHQL_UNKNOWN_METHOD`, …) and for codes of
 * other servers.
 */
export type GraphqlErrorCode =
  /** Client: the server answered with GraphQL errors that carry no `extensions.code` (see `errors`). */
  | "GRAPHQL_ERRORS"
  /** The request is not a GraphQL request (not JSON, no `query`, wrong variables). */
  | "BAD_REQUEST"
  /** A syntax or validation error in the document. */
  | "GRAPHQL_VALIDATION_FAILED"
  /** The arguments did not satisfy the field's Standard Schema (`extensions.issues` lists why). */
  | "BAD_USER_INPUT"
  /** The auth hook refused the request or connection. */
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  /** A socket asked for more subscriptions than `maxSubscriptionsPerSocket`. */
  | "TOO_MANY_SUBSCRIPTIONS"
  /** The operation nests deeper than `maxDepth`. */
  | "QUERY_TOO_DEEP"
  /** The operation selects more fields than `maxComplexity`. */
  | "QUERY_TOO_COMPLEX"
  /** The listener is stopping. */
  | "UNAVAILABLE"
  /** An unexpected failure; its message is never sent to clients ("Internal server error"). */
  | "INTERNAL"
  /** Listener: the SDL is invalid, or a root field has no resolver. */
  | "INVALID_SCHEMA"
  | "INVALID_ARGUMENT"
  /** Listener: the server could not listen. */
  | "LISTEN"
  /** Client: the connection failed or dropped (see `closeCode`). */
  | "CONNECTION"
  /** Client: no answer in time. */
  | "TIMEOUT"
  /** Client: the client was closed. */
  | "CLOSED"
  /** Client: the server answered with something that is not a GraphQL response (see `status`). */
  | "BAD_RESPONSE"
  /** Client: a subscription's consumer fell more than `maxBufferedEvents` behind. */
  | "BACKPRESSURE"
  | (string & {});

/**
 * Options of {@link GraphqlError}.
 *
 * @example
 * ```ts
 * throw new GraphqlError("FORBIDDEN", "orders of other users are private", { extensions: { orderId } });
 * ```
 */
export interface GraphqlErrorOptions extends PirouetteErrorOptions {
  /** Sent to clients in the error's `extensions`, next to `code`. */
  readonly extensions?: Readonly<Record<string, unknown>>;
  /** Client: the GraphQL errors the server answered with. */
  readonly errors?: readonly GraphQLFormattedError[];
  /** Client: the partial `data` that came with the errors, if any. */
  readonly data?: unknown;
  /** Client: the HTTP status of the answer, else 0. */
  readonly status?: number;
  /** Client: the WebSocket close code, when the connection closed. */
  readonly closeCode?: number;
}

/**
 * The error `@pirouette/graphql` throws, and the one resolvers throw to send a message to
 * clients: a `GraphqlError` (or a graphql-js `GraphQLError`) reaches the client with its message
 * and `extensions.code`; any other error is sent as "Internal server error" and logged (and
 * given to the service's `onError`). On the client, a failed operation rejects with one, its
 * `errors` holding what the server sent.
 *
 * @example
 * ```ts
 * // server
 * @graphql.query("Order!", { args: { id: "ID!" } })
 * order({ id }: { id: string }) {
 *   return orders.get(id) ?? Promise.reject(new graphql.GraphqlError("NOT_FOUND", `no order ${id}`));
 * }
 * // client
 * try { await client.query(`{ order(id: "x") { id } }`); }
 * catch (e) { if (graphql.GraphqlError.is(e) && e.code === "NOT_FOUND") show404(); }
 * ```
 */
export class GraphqlError extends PirouetteError {
  override name = "GraphqlError";
  /** Sent to clients in `extensions` (with `code`). */
  readonly extensions: Readonly<Record<string, unknown>> | undefined;
  /** Client: the GraphQL errors of the answer (empty when there were none). */
  readonly errors: readonly GraphQLFormattedError[];
  /** Client: partial data that came with the errors. */
  readonly data: unknown;
  /** Client: the HTTP status of the answer, else 0. */
  readonly status: number;
  /** Client: the WebSocket close code, when the connection closed. */
  readonly closeCode: number | undefined;

  constructor(code: GraphqlErrorCode, message: string, options: GraphqlErrorOptions = {}) {
    super(code, message, options);
    this.extensions = options.extensions;
    this.errors = options.errors ?? [];
    this.data = options.data;
    this.status = options.status ?? 0;
    this.closeCode = options.closeCode;
  }

  /**
   * Whether `value` is a {@link GraphqlError} (by name and brand, not `instanceof`).
   *
   * @example
   * ```ts
   * if (GraphqlError.is(e) && e.code === "BAD_USER_INPUT") console.log(e.errors[0]?.extensions);
   * ```
   */
  static override is(value: unknown): value is GraphqlError {
    return PirouetteError.is(value) && value.name === "GraphqlError";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), extensions: this.extensions, errors: this.errors, status: this.status, closeCode: this.closeCode };
  }
}
