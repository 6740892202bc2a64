/**
 * The request a resource handler receives.
 *
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { ResourceOptions } from "./options.ts";

/**
 * The parsed query: one value per key, or an array when the key repeats.
 *
 * @example
 * ```ts
 * // GET /orders?status=open&tag=a&tag=b
 * req.query; // { status: "open", tag: ["a", "b"] }
 * ```
 */
export type Query = Readonly<Record<string, string | readonly string[]>>;

/**
 * What a resource handler gets first: the bound path parameters, query, body and headers.
 * With schemas in the resource's options, `params`, `query` and `body` are their outputs.
 *
 * @example
 * ```ts
 * @http.get("/orders/:id")
 * getOrder(req: http.Request<{ id: string }>) {
 *   return orders.get(req.params.id) ?? notFound();
 * }
 * ```
 */
export interface Request<TParams = Readonly<Record<string, string>>, TQuery = Query, TBody = unknown> {
  readonly method: string;
  /** The path, without the query string. */
  readonly path: string;
  /** The request target as sent (path and query). */
  readonly url: string;
  readonly params: TParams;
  readonly query: TQuery;
  /** The decoded body: JSON, text (`text/*`), an object (form) or bytes; `undefined` without a body. */
  readonly body: TBody;
  /** Header names are lower-case. */
  readonly headers: IncomingHttpHeaders;
  /** The `Last-Event-ID` header: where a reconnecting SSE client wants to resume. */
  readonly lastEventId: string | undefined;
  /** Aborted when the client goes away before the response is finished. */
  readonly signal: AbortSignal;
  /** The underlying Node request (its body is already read). */
  readonly raw: IncomingMessage;
}

type Trim<S extends string> = S extends `${infer Name}(${string}` ? Name : S;
type SegmentParams<S extends string> = S extends `:${infer Rest}`
  ? Rest extends `${infer A}-:${infer B}`
    ? Trim<A> | SegmentParams<`:${B}`>
    : Rest extends `${infer A}.:${infer B}`
      ? Trim<A> | SegmentParams<`:${B}`>
      : Trim<Rest>
  : S extends "*"
    ? "*"
    : never;
type ParamNames<P extends string> = P extends `${infer Head}/${infer Tail}` ? SegmentParams<Head> | ParamNames<Tail> : SegmentParams<P>;

/**
 * The path parameters of a find-my-way route, as an object type:
 * `PathParams<"/orders/:id/items/:item">` is `{ id: string; item: string }`.
 *
 * @example
 * ```ts
 * type P = PathParams<"/files/*">; // { "*": string }
 * ```
 */
export type PathParams<P extends string> = string extends P
  ? Readonly<Record<string, string>>
  : { readonly [K in ParamNames<P>]: string };

type Out<O, K extends string, Fallback> = O extends { readonly [k in K]: infer S extends StandardSchemaV1 } ? StandardSchemaV1.InferOutput<S> : Fallback;

/**
 * The request type of a resource declared with `path` and `options`: schema outputs where
 * schemas are given, else the path's parameters, the raw query and an unknown body.
 *
 * @example
 * ```ts
 * type R = RequestFor<"/orders/:id", { body: typeof Order }>; // Request<{ id: string }, Query, Order>
 * ```
 */
export type RequestFor<P extends string, O extends ResourceOptions = Record<never, never>> = Request<
  Out<O, "params", PathParams<P>>,
  Out<O, "query", Query>,
  Out<O, "body", unknown>
>;
