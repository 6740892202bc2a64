/**
 * Public option, configuration and context types of `@pirouette/graphql`.
 *
 * @module
 */
import type { IncomingHttpHeaders } from "node:http";
import type { ListenerOptions, Logger } from "@pirouette/core";
import type * as http from "@pirouette/http";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { GraphQLResolveInfo, GraphQLScalarType } from "graphql";

/**
 * What a resolver gets second (Ballerina's `graphql:Context`): the transport, what the auth
 * hook returned, the request headers, the `connection_init` payload, and a signal aborted when
 * the client goes away or the listener stops immediately.
 *
 * @example
 * ```ts
 * @graphql.query("[Order!]!")
 * orders(_args: {}, ctx: graphql.Context<User>) {
 *   return db.ordersOf(ctx.auth.id, { signal: ctx.signal });
 * }
 * ```
 */
export interface Context<TAuth = unknown> {
  /** `"http"` for POST/GET requests, `"ws"` for operations on a graphql-transport-ws socket. */
  readonly transport: "http" | "ws";
  /** What the service's `auth` hook returned (`undefined` without one). */
  readonly auth: TAuth;
  /** The HTTP request's headers, or the WebSocket upgrade request's. */
  readonly headers: IncomingHttpHeaders;
  /** The `connection_init` payload (WebSocket only). */
  readonly connectionParams: Readonly<Record<string, unknown>> | undefined;
  /** The operation's name, if the request named one. */
  readonly operationName: string | undefined;
  readonly remoteAddress: string | undefined;
  /** Aborted when the client goes away (the request or the socket) or the listener stops immediately. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/**
 * What the `auth` hook sees: called once per HTTP request and once per WebSocket connection
 * (on `connection_init`, before any operation).
 *
 * @example
 * ```ts
 * const auth = (req: graphql.AuthRequest) => verify(req.connectionParams?.["token"] ?? req.headers.authorization);
 * ```
 */
export interface AuthRequest {
  readonly transport: "http" | "ws";
  readonly headers: IncomingHttpHeaders;
  /** The `connection_init` payload (WebSocket only). */
  readonly connectionParams: Readonly<Record<string, unknown>> | undefined;
  readonly remoteAddress: string | undefined;
}

/**
 * The auth hook: return `false` (or throw a {@link GraphqlError}) to refuse, anything else to
 * accept; the value becomes `context.auth`. A refused socket is closed with 4403, a refused HTTP
 * request answered 401 (403 for a `FORBIDDEN` error).
 *
 * @example
 * ```ts
 * const auth: graphql.AuthHook = async ({ connectionParams, headers }) =>
 *   (await users.byToken(String(connectionParams?.["token"] ?? headers.authorization ?? ""))) ?? false;
 * ```
 */
export type AuthHook = (request: AuthRequest) => unknown;

/**
 * Limits of a listener (defaults) or of one service (overrides). Defaults follow
 * reliability.md §3: they are on unless turned off.
 *
 * @example
 * ```ts
 * const limits: graphql.GraphqlLimits = { maxDepth: 8, maxComplexity: 500, introspection: false };
 * ```
 */
export interface GraphqlLimits {
  /** Deepest field nesting of an operation (fragments expanded). Default 15; 0 turns it off. */
  readonly maxDepth?: number;
  /** Most fields an operation selects (fragments expanded, each spread counted). Default 1000; 0 turns it off. */
  readonly maxComplexity?: number;
  /** Most lexical tokens in a document (checked while parsing). Default 10 000. */
  readonly maxTokens?: number;
  /** Whether `__schema`/`__type` queries are answered. Default true. */
  readonly introspection?: boolean;
  /** Largest HTTP request body, in bytes (413 beyond). Default the HTTP listener's, 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Largest WebSocket message, in bytes (the socket is closed with 1009 beyond). Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Active subscriptions one socket may hold; the next one gets an `error` (TOO_MANY_SUBSCRIPTIONS). Default 100. */
  readonly maxSubscriptionsPerSocket?: number;
  /** A socket that sends no `connection_init` within this is closed with 4408. Default 3000 ms. */
  readonly connectionInitWaitTimeoutMs?: number;
  /** The server pings every socket this often and terminates one that did not answer the previous ping. Default 15 000 ms; 0 turns it off. */
  readonly keepAliveMs?: number;
}

/**
 * Options of `new graphql.Listener(port | httpListener, options)`. With a port, the listener
 * owns an `http.Listener` built with the HTTP fields here; given an `http.Listener`, it shares
 * that listener's port (HTTP fields are then ignored).
 *
 * @example
 * ```ts
 * const listener = new graphql.Listener(9000, { host: "127.0.0.1", maxDepth: 10, keepAliveMs: 20_000 });
 * ```
 */
export interface GraphqlListenerOptions extends ListenerOptions, GraphqlLimits {
  /** Interface to listen on (own HTTP listener only). */
  readonly host?: string;
  /** Serve HTTPS/WSS (own HTTP listener only). */
  readonly tls?: http.HttpTlsOptions;
  /** Time allowed to receive request headers (own HTTP listener only). Default 10 000 ms. */
  readonly headersTimeoutMs?: number;
  /** Time allowed to receive a whole request (own HTTP listener only). Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Connections beyond this are refused (own HTTP listener only). */
  readonly maxConnections?: number;
}

/**
 * A root field's resolver (Query, Mutation, Subscription): the arguments first (validated by
 * the field's schema when it has one), the context second, graphql-js's info third. A
 * subscription resolver returns a `Stream` (or any async iterable).
 *
 * @example
 * ```ts
 * const greeting: graphql.RootResolver = (args) => `Hello, ${String(args["name"])}`;
 * ```
 */
export type RootResolver = (
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  args: any,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  context: Context<any>,
  info: GraphQLResolveInfo,
) => unknown;

/**
 * A field resolver of an object type, with graphql-js's signature: the parent value first.
 *
 * @example
 * ```ts
 * const customer: graphql.FieldResolver = (order: Order) => customers.get(order.customerId);
 * ```
 */
export type FieldResolver = (
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  parent: any,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  args: any,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  context: Context<any>,
  info: GraphQLResolveInfo,
) => unknown;

/**
 * A root resolver with its argument schema, as {@link resolver} builds it.
 *
 * @example
 * ```ts
 * const def: graphql.ResolverDefinition = { resolve: "greeting", schema: z.object({ name: z.string().min(1) }) };
 * ```
 */
export interface ResolverDefinition {
  /** The resolver, or the name of a service method. */
  readonly resolve: RootResolver | string;
  /** Validates (and may transform) the arguments; a failure is a `BAD_USER_INPUT` error. */
  readonly schema?: StandardSchemaV1;
}

/**
 * Root resolvers by field name: a function, the name of a service method, or a
 * {@link ResolverDefinition}.
 *
 * @example
 * ```ts
 * const Query: graphql.RootResolvers = { greeting: "greeting", now: () => new Date().toISOString() };
 * ```
 */
export type RootResolvers = Readonly<Record<string, RootResolver | string | ResolverDefinition>>;

/**
 * The decorator-free resolver map for an SDL schema: root types take {@link RootResolvers};
 * other object types take graphql-js field resolvers; a custom scalar takes a
 * `GraphQLScalarType` whose serialize/parse functions are used.
 *
 * @example
 * ```ts
 * const resolvers: graphql.ResolverMap = {
 *   Query: { order: graphql.resolver(z.object({ id: z.string() }), ({ id }) => orders.get(id)) },
 *   Subscription: { names: () => Stream.from(["Walter", "Skyler", "Jesse"]) },
 *   Order: { customer: (order: Order) => customers.get(order.customerId) },
 * };
 * ```
 */
export interface ResolverMap {
  readonly Query?: RootResolvers;
  readonly Mutation?: RootResolvers;
  readonly Subscription?: RootResolvers;
  readonly [typeName: string]: RootResolvers | Readonly<Record<string, FieldResolver>> | GraphQLScalarType | undefined;
}

/**
 * Per-service configuration: `@graphql.ServiceConfig({...})` or the attach options. The
 * schema is the SDL in `schema`, or, without it, derived from the service's decorated methods
 * (plus the object types in `types`).
 *
 * @example
 * ```ts
 * await listener.attach(service, {
 *   name: "/graphql",
 *   schema: `type Query { greeting(name: String!): String! } type Subscription { names: String! }`,
 *   auth: ({ connectionParams }) => connectionParams?.["token"] === secret,
 * });
 * ```
 */
export interface GraphqlServiceConfig extends GraphqlLimits {
  /** Where the service answers (HTTP and WebSocket). Default: the attach name, else `/graphql`. */
  readonly path?: string;
  /** The schema in SDL. Without it the schema is derived from `@graphql.query`/`mutation`/`subscription` methods. */
  readonly schema?: string;
  /** Extra SDL (object types, enums, inputs, scalars) the derived schema's fields refer to. */
  readonly types?: string;
  /** Resolvers without decorators; they take precedence over methods of the same field. */
  readonly resolvers?: ResolverMap;
  /** Authenticate each HTTP request and each WebSocket connection (`connection_init`). */
  readonly auth?: AuthHook;
}

/**
 * Options of `new graphql.Client(url, options)`.
 *
 * @example
 * ```ts
 * const client = new graphql.Client("http://127.0.0.1:9000/graphql", { connectionParams: { token }, timeoutMs: 5000 });
 * ```
 */
export interface GraphqlClientOptions {
  /** Headers sent with every HTTP request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Time allowed for a query or mutation. Default 30 000 ms; 0 turns it off. */
  readonly timeoutMs?: number;
  /** Largest HTTP response read. Default 10 MiB. */
  readonly maxResponseBytes?: number;
  /** The WebSocket URL for subscriptions. Default: the URL with `ws:`/`wss:`. */
  readonly wsUrl?: string;
  /** Sent in `connection_init` (a function is called for each connection). */
  readonly connectionParams?: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>> | Promise<Readonly<Record<string, unknown>>>);
  /** Reconnect attempts (with graphql-ws's backoff, re-subscribing) after the socket drops. Default 0: the subscriptions fail with `CONNECTION`. */
  readonly retryAttempts?: number;
  /** Send a protocol `ping` this often. Default 0 (the server's pings keep the socket alive). */
  readonly keepAliveMs?: number;
  /** Give up when the server does not acknowledge `connection_init` within this. Default 10 000 ms. */
  readonly connectionAckWaitTimeoutMs?: number;
}

/**
 * Options of one `query`/`mutate` call.
 *
 * @example
 * ```ts
 * await client.query(DOC, { id: "7" }, { operationName: "Order", timeoutMs: 2000 });
 * ```
 */
export interface OperationOptions {
  readonly operationName?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Overrides the client's `timeoutMs`. */
  readonly timeoutMs?: number;
}

/**
 * Options of `client.subscribe(...)`.
 *
 * @example
 * ```ts
 * client.subscribe(`subscription { prices { sku px } }`, {}, { errors: "element", maxBufferedEvents: 1000 });
 * ```
 */
export interface SubscribeOptions {
  readonly operationName?: string;
  /**
   * What a `next` message carrying `errors` becomes: `"fail"` (default) ends the stream with a
   * {@link GraphqlError} (and completes the subscription); `"element"` yields the GraphqlError as
   * an element and keeps going, as the server does.
   */
  readonly errors?: "fail" | "element";
  /** Events buffered for a slow consumer before the stream fails with `BACKPRESSURE`. Default 10 000. */
  readonly maxBufferedEvents?: number;
}
