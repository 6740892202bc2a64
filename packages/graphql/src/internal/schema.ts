/**
 * The executable schema of a service: SDL (given, or derived from the decorated methods) with
 * the root fields wired to the service's resolvers.
 * @internal
 * @module
 */
import { serviceMethodNames, toError } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import {
  buildSchema,
  GraphQLInterfaceType,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLUnionType,
  validateSchema,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from "graphql";
import { getFieldSpecs, type FieldSpec, type RootType } from "../decorators.ts";
import { GraphqlError } from "../errors.ts";
import type { GraphqlServiceConfig, ResolverDefinition, RootResolver } from "../options.ts";

/** One root field's resolver, ready to wrap. */
export interface Binding {
  /** `Query.greeting`. */
  readonly coordinate: string;
  readonly call: RootResolver;
  readonly schema: StandardSchemaV1 | undefined;
}

/** How the listener turns bindings into graphql-js resolvers. */
export interface Wiring {
  /** A Query or Mutation field's `resolve`. */
  resolve(binding: Binding): GraphQLFieldResolver<unknown, unknown>;
  /** A Subscription field's `subscribe` (returns the source event stream). */
  subscribe(binding: Binding): GraphQLFieldResolver<unknown, unknown>;
  /** A Subscription field's `resolve`: the event is the field's value (an Error element is thrown). */
  readonly event: GraphQLFieldResolver<unknown, unknown>;
}

interface DecoratedField {
  readonly root: RootType;
  readonly field: string;
  readonly method: string;
  readonly spec: FieldSpec;
}

const ROOTS: readonly RootType[] = ["Query", "Mutation", "Subscription"];

function invalid(message: string, cause?: unknown): GraphqlError {
  return new GraphqlError("INVALID_SCHEMA", message, cause === undefined ? {} : { cause });
}

function decoratedFields(service: object): DecoratedField[] {
  const out: DecoratedField[] = [];
  const seen = new Set<string>();
  for (const method of serviceMethodNames(service)) {
    for (const spec of getFieldSpecs((service as Record<string, unknown>)[method]) ?? []) {
      const field = spec.options.name ?? method;
      const key = `${spec.root}.${field}`;
      if (seen.has(key)) throw invalid(`two methods declare ${key}`);
      seen.add(key);
      out.push({ root: spec.root, field, method, spec });
    }
  }
  return out;
}

function blockString(text: string): string {
  return `"""${text.replace(/"""/g, '\\"""')}"""`;
}

/** The SDL of the decorated fields (Ballerina derives the schema from the service's resource and remote methods). */
function deriveSdl(fields: readonly DecoratedField[], types: string | undefined): string {
  const parts: string[] = types === undefined ? [] : [types];
  for (const root of ROOTS) {
    const mine = fields.filter((f) => f.root === root);
    if (mine.length === 0) {
      if (root === "Query") {
        throw invalid(
          "a GraphQL service needs at least one Query field (Ballerina's `resource function get`): decorate a method with @graphql.query, or give the SDL in `schema`",
        );
      }
      continue;
    }
    const lines = mine.map(({ field, spec }) => {
      const o = spec.options;
      const args = Object.entries(o.args ?? {});
      const argList = args.length === 0 ? "" : `(${args.map(([n, t]) => `${n}: ${t}`).join(", ")})`;
      const deprecated = o.deprecated === undefined ? "" : ` @deprecated(reason: ${JSON.stringify(o.deprecated)})`;
      const doc = o.description === undefined ? "" : `  ${blockString(o.description)}\n`;
      return `${doc}  ${field}${argList}: ${spec.type}${deprecated}`;
    });
    parts.push(`type ${root} {\n${lines.join("\n")}\n}`);
  }
  return parts.join("\n\n");
}

/** A GraphQLScalarType by tag (it may come from graphql's other build). */
function isScalar(x: unknown): x is GraphQLScalarType {
  return typeof x === "object" && x !== null && Object.prototype.toString.call(x) === "[object GraphQLScalarType]";
}

function isDefinition(x: unknown): x is ResolverDefinition {
  return typeof x === "object" && x !== null && "resolve" in x;
}

/**
 * Build the service's schema and wire its resolvers. Every root field must have a resolver:
 * from the resolver map, a decorated method, or a service method named like the field.
 */
export function buildServiceSchema(
  service: object,
  config: GraphqlServiceConfig,
  payloadSchema: (method: string) => StandardSchemaV1 | undefined,
  wiring: Wiring,
): GraphQLSchema {
  const svc = service as Record<string, unknown>;
  const decorated = decoratedFields(service);
  const sdl = config.schema ?? deriveSdl(decorated, config.types);
  let schema: GraphQLSchema;
  try {
    schema = buildSchema(sdl);
  } catch (e) {
    throw invalid(`the schema is not valid SDL: ${toError(e).message}`, e);
  }
  const problems = validateSchema(schema);
  if (problems.length > 0) throw invalid(`the schema is not valid: ${problems.map((p) => p.message).join("; ")}`);
  const resolvers = config.resolvers ?? {};
  const methodFn = (name: string, coordinate: string): RootResolver => {
    const fn = svc[name];
    if (typeof fn !== "function") throw invalid(`${coordinate} names a method "${name}" the service does not have`);
    return (args, ctx, info) => (fn as RootResolver).call(service, args, ctx, info);
  };
  const rootTypes: Record<RootType, GraphQLObjectType | null | undefined> = {
    Query: schema.getQueryType(),
    Mutation: schema.getMutationType(),
    Subscription: schema.getSubscriptionType(),
  };
  const wiredTypes = new Set<string>();
  for (const root of ROOTS) {
    const type = rootTypes[root];
    const map = resolvers[root] ?? (type === null || type === undefined ? undefined : (resolvers[type.name] as typeof resolvers.Query));
    for (const d of decorated.filter((f) => f.root === root)) {
      if (type?.getFields()[d.field] === undefined) throw invalid(`${d.method}() is declared as ${root}.${d.field}, which the schema does not have`);
    }
    if (type === null || type === undefined) {
      if (map !== undefined && Object.keys(map).length > 0) throw invalid(`resolvers are given for ${root}, which the schema does not have`);
      continue;
    }
    wiredTypes.add(type.name);
    const fields = type.getFields();
    for (const key of Object.keys(map ?? {})) {
      if (fields[key] === undefined) throw invalid(`a resolver is given for ${type.name}.${key}, which the schema does not have`);
    }
    for (const [name, field] of Object.entries(fields)) {
      const coordinate = `${type.name}.${name}`;
      const entry = map?.[name];
      let binding: Binding;
      if (entry !== undefined) {
        const def: ResolverDefinition = isDefinition(entry) ? entry : { resolve: entry };
        const call = typeof def.resolve === "string" ? methodFn(def.resolve, coordinate) : def.resolve;
        const schemaFromMethod = typeof def.resolve === "string" ? payloadSchema(def.resolve) : undefined;
        binding = { coordinate, call, schema: def.schema ?? schemaFromMethod };
      } else {
        const d = decorated.find((f) => f.root === root && f.field === name);
        const method = d?.method ?? (typeof svc[name] === "function" ? name : undefined);
        if (method === undefined) throw invalid(`no resolver for ${coordinate}: give the service a method "${name}" or a resolver in \`resolvers.${root}\``);
        binding = { coordinate, call: methodFn(method, coordinate), schema: d?.spec.options.schema ?? payloadSchema(method) };
      }
      if (root === "Subscription") {
        field.subscribe = wiring.subscribe(binding);
        field.resolve = wiring.event;
      } else {
        field.resolve = wiring.resolve(binding);
      }
    }
  }
  for (const [typeName, value] of Object.entries(resolvers)) {
    if (value === undefined || wiredTypes.has(typeName) || (ROOTS as readonly string[]).includes(typeName)) continue;
    const type = schema.getType(typeName);
    if (type === undefined || type === null) throw invalid(`resolvers are given for ${typeName}, which the schema does not have`);
    if (isScalar(value)) {
      if (!(type instanceof GraphQLScalarType)) throw invalid(`${typeName} is not a scalar`);
      Object.assign(type, { serialize: value.serialize, parseValue: value.parseValue, parseLiteral: value.parseLiteral });
      continue;
    }
    const entries = Object.entries(value as Readonly<Record<string, unknown>>);
    if (type instanceof GraphQLInterfaceType || type instanceof GraphQLUnionType) {
      for (const [k, fn] of entries) {
        if (k !== "__resolveType") continue;
        if (typeof fn !== "function") throw invalid(`${typeName}.__resolveType must be a function`);
        type.resolveType = fn as typeof type.resolveType;
      }
    }
    if (type instanceof GraphQLObjectType && entries.some(([k]) => k === "__isTypeOf")) {
      type.isTypeOf = (value as { __isTypeOf: typeof type.isTypeOf }).__isTypeOf;
    }
    if (!(type instanceof GraphQLObjectType || type instanceof GraphQLInterfaceType)) {
      if (entries.some(([k]) => !k.startsWith("__"))) throw invalid(`${typeName} has no fields to resolve`);
      continue;
    }
    const fields = type.getFields();
    for (const [k, fn] of entries) {
      if (k.startsWith("__")) continue;
      const f = fields[k];
      if (f === undefined) throw invalid(`a resolver is given for ${typeName}.${k}, which the schema does not have`);
      if (typeof fn !== "function") throw invalid(`the resolver for ${typeName}.${k} must be a function`);
      f.resolve = fn as GraphQLFieldResolver<unknown, unknown>;
    }
  }
  return schema;
}
