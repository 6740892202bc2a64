/**
 * `@pirouette/graphql`: Ballerina's GraphQL listener/service model. Query fields are resolver
 * methods, mutations run one after the other, subscription fields return a `Stream`, served
 * over HTTP (POST/GET) and graphql-transport-ws (graphql-ws) on one port, with the schema from
 * SDL or derived from decorated methods, arguments validated by any Standard Schema, limits
 * (depth, complexity, body, subscriptions per socket) and masked internal errors; and a client
 * whose `subscribe` returns a `Stream`.
 *
 * @example
 * ```ts
 * import { service, Stream } from "@pirouette/core";
 * import * as graphql from "@pirouette/graphql";
 *
 * const listener = new graphql.Listener(9000);
 *
 * @service(listener, "/graphql")
 * class Names {
 *   @graphql.query("String!", { args: { name: "String!" } })
 *   greeting({ name }: { name: string }) { return `Hello, ${name}`; }
 *
 *   @graphql.subscription("String!")
 *   names(): Stream<string> { return Stream.from(["Walter", "Skyler", "Jesse"]); }
 * }
 *
 * await listener.start();
 * const client = new graphql.Client(`http://127.0.0.1:${listener.port}/graphql`);
 * console.log(await client.subscribe<{ names: string }>(`subscription { names }`).map((d) => d.names).toArray());
 * ```
 *
 * @module
 */
export { GraphqlListener as Listener, GraphqlListener } from "./listener.ts";
export type { GraphqlService as Service, GraphqlService } from "./listener.ts";
export { GraphqlClient as Client, GraphqlClient } from "./client.ts";
export type { Document, Variables } from "./client.ts";
export { GraphqlError } from "./errors.ts";
export type { GraphqlErrorCode, GraphqlErrorOptions } from "./errors.ts";
export { query, mutation, subscription, resolver, ServiceConfig } from "./decorators.ts";
export type { FieldOptions, FieldDecorator, ArgsOf, SubscriptionResult, RootType } from "./decorators.ts";
export type { SdlValue, SdlResult, SdlArgs } from "./sdl-types.ts";
export type {
  Context,
  AuthRequest,
  AuthHook,
  GraphqlLimits,
  GraphqlListenerOptions,
  GraphqlServiceConfig,
  GraphqlClientOptions,
  OperationOptions,
  SubscribeOptions,
  RootResolver,
  RootResolvers,
  FieldResolver,
  ResolverDefinition,
  ResolverMap,
} from "./options.ts";
