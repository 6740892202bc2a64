/**
 * Field decorators (`@query`, `@mutation`, `@subscription`), `@ServiceConfig` and the typed
 * `resolver` helper. Each decorator works with legacy `experimentalDecorators` and with
 * standard decorators; none reads `design:*` metadata.
 *
 * @module
 */
import { createServiceConfigDecorator, type DualClassDecorator } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { GraphQLResolveInfo } from "graphql";
import { GraphqlError } from "./errors.ts";
import type { Context, GraphqlServiceConfig, ResolverDefinition, RootResolver } from "./options.ts";
import type { SdlArgs, SdlResult } from "./sdl-types.ts";

/**
 * The root type a field belongs to.
 *
 * @example
 * ```ts
 * const root: graphql.RootType = "Subscription";
 * ```
 */
export type RootType = "Query" | "Mutation" | "Subscription";

/**
 * Options of a decorated field.
 *
 * @example
 * ```ts
 * const opts: graphql.FieldOptions = { args: { name: "String!" }, schema: z.object({ name: z.string().min(1) }), description: "Says hello" };
 * ```
 */
export interface FieldOptions {
  /** The field's name. Default: the method's name. */
  readonly name?: string;
  /** The arguments, as SDL types by name: `{ name: "String!", limit: "Int = 10" }`. */
  readonly args?: Readonly<Record<string, string>>;
  /** Validates (and may transform) the arguments object; a failure is a `BAD_USER_INPUT` GraphQL error. */
  readonly schema?: StandardSchemaV1;
  readonly description?: string;
  /** Marks the field `@deprecated(reason: ...)`. */
  readonly deprecated?: string;
}

/** @internal One field recorded on a method. */
export interface FieldSpec {
  readonly root: RootType;
  readonly type: string;
  readonly options: FieldOptions;
}

// The registry: field specs keyed by the decorated method function.
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
const registry = new WeakMap<Function, FieldSpec[]>();

/** @internal The fields recorded on a method. */
export function getFieldSpecs(fn: unknown): readonly FieldSpec[] | undefined {
  return typeof fn === "function" ? registry.get(fn) : undefined;
}

/**
 * The arguments type a field's method takes: the schema's output when the field has a
 * schema, else the SDL argument types, else no arguments.
 *
 * @example
 * ```ts
 * type A = ArgsOf<{ args: { name: "String!" } }>; // { name: string }
 * ```
 */
export type ArgsOf<O> = O extends { readonly schema: infer S extends StandardSchemaV1 }
  ? StandardSchemaV1.InferOutput<S>
  : O extends { readonly args: infer A extends Readonly<Record<string, string>> }
    ? SdlArgs<A>
    : Readonly<Record<string, never>>;

/**
 * What a subscription method may return: a `Stream` (or any async iterable or iterable) of
 * the field's values, or of errors (each sent as `next` with `errors`), maybe in a promise.
 *
 * @example
 * ```ts
 * const out: SubscriptionResult<string> = Stream.from(["Walter", "Skyler"]);
 * ```
 */
export type SubscriptionResult<T> =
  | AsyncIterable<T | Error>
  | Iterable<T | Error>
  | Promise<AsyncIterable<T | Error> | Iterable<T | Error>>;

/**
 * A method decorator for a field whose method takes `TArgs` first and returns `TResult`, usable
 * in legacy and standard decorator modes; tsc checks the method against both (error TS1241 or
 * TS1270 when it does not fit).
 *
 * @example
 * ```ts
 * const d: FieldDecorator<{ name: string }, string | Promise<string>> = graphql.query("String!", { args: { name: "String!" } });
 * ```
 */
export interface FieldDecorator<TArgs, TResult> {
  <F extends (args: TArgs, context: Context<never>, info: GraphQLResolveInfo) => TResult>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<F>,
  ): void;
  <F extends (args: TArgs, context: Context<never>, info: GraphQLResolveInfo) => TResult>(value: F, context: ClassMethodDecoratorContext): void;
}

function isMethodContext(x: unknown): x is ClassMethodDecoratorContext {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "method";
}

function field<TArgs, TResult>(root: RootType, type: string, options: FieldOptions | undefined): FieldDecorator<TArgs, TResult> {
  if (typeof type !== "string" || type.trim() === "") throw new GraphqlError("INVALID_ARGUMENT", `@graphql.${root.toLowerCase()} needs the field's SDL type, e.g. "String!"`);
  const spec: FieldSpec = { root, type: type.trim(), options: options ?? {} };
  return ((target: unknown, keyOrContext: unknown, descriptor?: PropertyDescriptor): void => {
    const fn: unknown = isMethodContext(keyOrContext) ? target : descriptor?.value;
    if (typeof fn !== "function") throw new GraphqlError("INVALID_SERVICE", `@graphql.${root.toLowerCase()}("${type}") can only decorate methods`);
    const list = registry.get(fn);
    if (list === undefined) registry.set(fn, [spec]);
    else list.push(spec);
  }) as FieldDecorator<TArgs, TResult>;
}

/**
 * A Query field (Ballerina's `resource function get`): the method resolves it. `type` is the
 * field's SDL type; `options.args` its arguments.
 *
 * @example
 * ```ts
 * class Greeter {
 *   @graphql.query("String!", { args: { name: "String!" } })
 *   greeting({ name }: { name: string }) { return `Hello, ${name}`; }
 * }
 * ```
 */
export function query<const T extends string, const O extends FieldOptions = Record<never, never>>(
  type: T,
  options?: O,
): FieldDecorator<ArgsOf<O>, SdlResult<T> | Promise<SdlResult<T>>> {
  return field("Query", type, options);
}

/**
 * A Mutation field (Ballerina's `remote function`). The mutation fields of one operation run
 * one after the other, in document order.
 *
 * @example
 * ```ts
 * class Names {
 *   @graphql.mutation("Int!", { args: { name: "String!" } })
 *   addName({ name }: { name: string }) { return names.push(name); }
 * }
 * ```
 */
export function mutation<const T extends string, const O extends FieldOptions = Record<never, never>>(
  type: T,
  options?: O,
): FieldDecorator<ArgsOf<O>, SdlResult<T> | Promise<SdlResult<T>>> {
  return field("Mutation", type, options);
}

/**
 * A Subscription field (Ballerina's `resource function subscribe`): the method returns a
 * `Stream` of the field's values. Each element is sent as `next`; an `Error` element as `next`
 * with `errors` (the subscription continues); the stream's end as `complete`. A method that
 * throws sends `error`. The stream is closed when the client completes or goes away.
 *
 * @example
 * ```ts
 * class Names {
 *   @graphql.subscription("String!")
 *   names(): Stream<string> { return Stream.from(["Walter", "Skyler", "Jesse"]); }
 * }
 * ```
 */
export function subscription<const T extends string, const O extends FieldOptions = Record<never, never>>(
  type: T,
  options?: O,
): FieldDecorator<ArgsOf<O>, SubscriptionResult<SdlResult<T>>> {
  return field("Subscription", type, options);
}

/**
 * Per-service configuration (path, SDL, extra types, resolver map, auth, limits), the same
 * fields `listener.attach(service, { ... })` accepts.
 *
 * @example
 * ```ts
 * @service(listener, "/graphql")
 * @graphql.ServiceConfig({ types: "type Order { id: ID! total: Float! }", maxDepth: 8, introspection: false })
 * class Orders {
 *   @graphql.query("[Order!]!") orders() { return db.orders(); }
 * }
 * ```
 */
export const ServiceConfig: (config: GraphqlServiceConfig) => DualClassDecorator = createServiceConfigDecorator<GraphqlServiceConfig>();

/**
 * A typed root resolver for a resolver map: the arguments are validated by `schema` and the
 * resolver gets its output.
 *
 * @example
 * ```ts
 * const resolvers: graphql.ResolverMap = {
 *   Query: { greeting: graphql.resolver(z.object({ name: z.string().min(1) }), ({ name }) => `Hello, ${name}`) },
 * };
 * ```
 */
export function resolver<S extends StandardSchemaV1, TAuth = unknown>(
  schema: S,
  resolve: (args: StandardSchemaV1.InferOutput<S>, context: Context<TAuth>, info: GraphQLResolveInfo) => unknown,
): ResolverDefinition {
  return { schema, resolve: resolve as RootResolver };
}
