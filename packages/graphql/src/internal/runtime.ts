/**
 * One attached service, ready to serve: its schema, limits, auth hook, resolver wiring, live
 * subscriptions, and the error formatting both transports share.
 * @internal
 * @module
 */
import type { IncomingHttpHeaders } from "node:http";
import { PayloadValidationError, PirouetteError, Stream, toError, validate, type Attachment, type Logger } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { type GraphQLError, type ExecutionResult, type FormattedExecutionResult, type GraphQLFieldResolver, type GraphQLFormattedError, type GraphQLSchema } from "graphql";
import { GraphqlError } from "../errors.ts";
import type { AuthHook, AuthRequest, Context, GraphqlLimits, GraphqlServiceConfig } from "../options.ts";
import { formatError, isGraphQLError } from "./format.ts";
import { Preparer } from "./operation.ts";
import { buildServiceSchema, type Binding, type Wiring } from "./schema.ts";
import { SubscriptionSource } from "./subscription-source.ts";

/** Limits with every default filled in. */
export interface ResolvedLimits {
  readonly maxDepth: number;
  readonly maxComplexity: number;
  readonly maxTokens: number;
  readonly introspection: boolean;
  readonly maxBodyBytes: number | undefined;
  readonly maxMessageBytes: number;
  readonly maxSubscriptionsPerSocket: number;
  readonly connectionInitWaitTimeoutMs: number;
  readonly keepAliveMs: number;
}

/** Service config over listener defaults over the package defaults. */
export function resolveLimits(service: GraphqlLimits, listener: GraphqlLimits): ResolvedLimits {
  const pick = <K extends keyof GraphqlLimits>(k: K): GraphqlLimits[K] => service[k] ?? listener[k];
  return {
    maxDepth: pick("maxDepth") ?? 15,
    maxComplexity: pick("maxComplexity") ?? 1000,
    maxTokens: pick("maxTokens") ?? 10_000,
    introspection: pick("introspection") ?? true,
    maxBodyBytes: pick("maxBodyBytes"),
    maxMessageBytes: pick("maxMessageBytes") ?? 1024 * 1024,
    maxSubscriptionsPerSocket: pick("maxSubscriptionsPerSocket") ?? 100,
    connectionInitWaitTimeoutMs: pick("connectionInitWaitTimeoutMs") ?? 3_000,
    keepAliveMs: pick("keepAliveMs") ?? 15_000,
  };
}

/** The outcome of the auth hook. */
export type AuthOutcome = { readonly ok: true; readonly auth: unknown } | { readonly ok: false; readonly error: GraphqlError; readonly internal: boolean };

/** What a runtime needs from its listener. */
export interface RuntimeHost {
  readonly logger: Logger;
  /** False once the listener is stopping: no new subscriptions. */
  accepting(): boolean;
  /** The service's onError (or the logger). */
  notify(att: Attachment<object, GraphqlServiceConfig>, error: Error, context: Context | undefined): void;
}

/** Per-operation context, as resolvers see it. */
export class OperationContext implements Context {
  readonly transport: "http" | "ws";
  readonly auth: unknown;
  readonly headers: IncomingHttpHeaders;
  readonly connectionParams: Readonly<Record<string, unknown>> | undefined;
  readonly operationName: string | undefined;
  readonly remoteAddress: string | undefined;
  readonly signal: AbortSignal;
  readonly logger: Logger;

  constructor(init: Context) {
    this.transport = init.transport;
    this.auth = init.auth;
    this.headers = init.headers;
    this.connectionParams = init.connectionParams;
    this.operationName = init.operationName;
    this.remoteAddress = init.remoteAddress;
    this.signal = init.signal;
    this.logger = init.logger;
  }
}

function issuesText(e: PayloadValidationError): string {
  return e.issues.map((i) => `${i.path.length === 0 ? "(arguments)" : i.path.map(String).join(".")}: ${i.message}`).join("; ");
}

/** Validate a field's arguments; failures are BAD_USER_INPUT errors listing the issues. */
async function validArgs(schema: StandardSchemaV1, args: unknown, coordinate: string): Promise<unknown> {
  try {
    return await validate(schema, args, { field: coordinate });
  } catch (e) {
    if (e instanceof PayloadValidationError) {
      throw new GraphqlError("BAD_USER_INPUT", `invalid arguments for ${coordinate}: ${issuesText(e)}`, {
        cause: e,
        extensions: { issues: e.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
      });
    }
    if (PirouetteError.is(e) && e.code === "PAYLOAD_BINDING") {
      throw new GraphqlError("BAD_USER_INPUT", `invalid arguments for ${coordinate}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

function isIterable(x: unknown): x is Iterable<unknown> | AsyncIterable<unknown> {
  if (typeof x !== "object" || x === null) return false;
  return typeof (x as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === "function" || typeof (x as Partial<Iterable<unknown>>)[Symbol.iterator] === "function";
}

/** An attached service's runtime. */
export class ServiceRuntime {
  readonly att: Attachment<object, GraphqlServiceConfig>;
  readonly path: string;
  readonly limits: ResolvedLimits;
  readonly schema: GraphQLSchema;
  readonly preparer: Preparer;
  readonly #auth: AuthHook | undefined;
  readonly #host: RuntimeHost;
  /** Subscriptions being served now. */
  readonly sources = new Set<SubscriptionSource>();

  constructor(att: Attachment<object, GraphqlServiceConfig>, path: string, limits: ResolvedLimits, host: RuntimeHost) {
    this.att = att;
    this.path = path;
    this.limits = limits;
    this.#auth = att.config.auth;
    this.#host = host;
    this.schema = buildServiceSchema(att.service, att.config, (m) => att.payloadSchema(m), this.#wiring());
    this.preparer = new Preparer(this.schema, limits);
  }

  #wiring(): Wiring {
    const event: GraphQLFieldResolver<unknown, unknown> = (value) => {
      if (value instanceof Error) throw value;
      return value;
    };
    return {
      event,
      resolve: ({ call, schema, coordinate }: Binding): GraphQLFieldResolver<unknown, unknown> => {
        if (schema === undefined) return (_root, args, ctx, info) => call(args, ctx as Context, info);
        return async (_root, args, ctx, info) => call(await validArgs(schema, args, coordinate), ctx as Context, info);
      },
      subscribe: ({ call, schema, coordinate }: Binding): GraphQLFieldResolver<unknown, unknown> => {
        return async (_root, args: Readonly<Record<string, unknown>>, ctx, info) => {
          const input = schema === undefined ? args : await validArgs(schema, args, coordinate);
          const out = await call(input, ctx as Context, info);
          if (out instanceof Error) throw out;
          let stream: Stream<unknown, unknown>;
          if (out instanceof Stream) stream = out as Stream<unknown, unknown>;
          else if (isIterable(out)) stream = Stream.from(out);
          else throw new TypeError(`${coordinate} must return a Stream (or an async iterable), got ${out === null ? "null" : typeof out}`);
          const source = new SubscriptionSource(
            stream,
            (s) => this.sources.delete(s),
            (err) => this.#host.logger.warn({ err, field: coordinate }, "closing a subscription's source stream failed"),
          );
          if (!this.#host.accepting()) {
            source.end();
            throw new GraphqlError("UNAVAILABLE", "the server is stopping");
          }
          this.sources.add(source);
          return source;
        };
      },
    };
  }

  /** Run the auth hook (if any). */
  async authorize(request: AuthRequest): Promise<AuthOutcome> {
    if (this.#auth === undefined) return { ok: true, auth: undefined };
    try {
      const auth: unknown = await this.#auth(request);
      if (auth === false) return { ok: false, error: new GraphqlError("UNAUTHENTICATED", "not authorized"), internal: false };
      return { ok: true, auth };
    } catch (e) {
      if (GraphqlError.is(e)) return { ok: false, error: e, internal: false };
      if (isGraphQLError(e)) return { ok: false, error: new GraphqlError("UNAUTHENTICATED", e.message, { cause: e }), internal: false };
      const err = toError(e);
      this.#host.notify(this.att, err, undefined);
      return { ok: false, error: new GraphqlError("INTERNAL", "Internal server error", { cause: err }), internal: true };
    }
  }

  /** Errors as sent to clients: unexpected ones masked and reported. */
  formatErrors(errors: readonly GraphQLError[], context: Context | undefined): GraphQLFormattedError[] {
    return errors.map((e) => formatError(e, (original) => this.#host.notify(this.att, original, context)));
  }

  /** A result as sent to clients. */
  formatResult(result: ExecutionResult, context: Context | undefined): FormattedExecutionResult {
    const out: { data?: unknown; errors?: GraphQLFormattedError[]; extensions?: unknown } = {};
    if (result.errors !== undefined && result.errors.length > 0) out.errors = this.formatErrors(result.errors, context);
    if ("data" in result) out.data = result.data;
    if (result.extensions !== undefined) out.extensions = result.extensions;
    return out as FormattedExecutionResult;
  }

  /** End every subscription now (each client gets `complete`; the source streams are closed). */
  endSubscriptions(): void {
    for (const s of [...this.sources]) s.end();
  }
}
