/**
 * Error formatting: what clients see of a GraphQL error.
 * @internal
 * @module
 */
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { GraphqlError } from "../errors.ts";

/**
 * Whether `x` is a graphql-js `GraphQLError`, by its tag: graphql 16 ships a CommonJS and an
 * ES build, and a process can load both (vite-node, bundlers), so `instanceof` is not enough.
 */
export function isGraphQLError(x: unknown): x is GraphQLError {
  return x instanceof GraphQLError || (x instanceof Error && Object.prototype.toString.call(x) === "[object GraphQLError]");
}

/** The message every unexpected error is sent with. */
export const INTERNAL_MESSAGE = "Internal server error";

/**
 * Format one error for the wire. Request errors (syntax, validation, coercion) and errors whose
 * original is a {@link GraphqlError} or a `GraphQLError` keep their message; any other original
 * is masked as "Internal server error" (code INTERNAL) and handed to `onInternal`. Locations and
 * path are kept either way.
 */
export function formatError(e: GraphQLError, onInternal: (original: Error, e: GraphQLError) => void): GraphQLFormattedError {
  const original = e.originalError;
  if (original === undefined || original === null || isGraphQLError(original)) return e.toJSON();
  const where: { -readonly [K in "locations" | "path"]?: NonNullable<GraphQLFormattedError[K]> } = {};
  if (e.locations !== undefined) where.locations = e.locations;
  if (e.path !== undefined) where.path = e.path;
  if (GraphqlError.is(original)) {
    return { message: original.message, ...where, extensions: { ...original.extensions, code: original.code } };
  }
  onInternal(original, e);
  return { message: INTERNAL_MESSAGE, ...where, extensions: { code: "INTERNAL" } };
}

/** A GraphQLError for the wire, with `extensions.code`. */
export function codedError(code: string, message: string, extensions: Readonly<Record<string, unknown>> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

/** The same error with `extensions.code` set when it has none. */
export function withCode(e: GraphQLError, code: string): GraphQLError {
  if (e.extensions["code"] !== undefined) return e;
  return new GraphQLError(e.message, {
    ...(e.nodes === undefined ? {} : { nodes: e.nodes }),
    ...(e.source === undefined ? {} : { source: e.source }),
    ...(e.positions === undefined ? {} : { positions: e.positions }),
    ...(e.path === undefined ? {} : { path: e.path }),
    ...(e.originalError === undefined ? {} : { originalError: e.originalError }),
    extensions: { ...e.extensions, code },
  });
}
