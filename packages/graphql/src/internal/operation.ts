/**
 * Preparing an operation: parse (token cap), validate (spec rules, limits, introspection),
 * pick the operation. Shared by HTTP and WebSocket; validated documents are cached by text.
 * @internal
 * @module
 */
import {
  getOperationAST,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationTypeNode,
  type ValidationRule,
} from "graphql";
import { codedError, withCode } from "./format.ts";
import { limitsRule } from "./limits.ts";

/** A document ready to execute. */
export interface Prepared {
  readonly document: DocumentNode;
  readonly operation: OperationTypeNode;
}

/** Limits that shape preparation. */
export interface PrepareLimits {
  readonly maxDepth: number;
  readonly maxComplexity: number;
  readonly maxTokens: number;
  readonly introspection: boolean;
}

const CACHE_SIZE = 512;

/** Parses and validates documents against one schema, caching the outcome per document text. */
export class Preparer {
  readonly #schema: GraphQLSchema;
  readonly #rules: readonly ValidationRule[];
  readonly #maxTokens: number;
  readonly #cache = new Map<string, DocumentNode | readonly GraphQLError[]>();

  constructor(schema: GraphQLSchema, limits: PrepareLimits) {
    this.#schema = schema;
    this.#maxTokens = limits.maxTokens;
    const rules: ValidationRule[] = [...specifiedRules];
    if (!limits.introspection) rules.push(NoSchemaIntrospectionCustomRule);
    if (limits.maxDepth > 0 || limits.maxComplexity > 0) rules.push(limitsRule(limits.maxDepth, limits.maxComplexity));
    this.#rules = rules;
  }

  /** The document and operation to run, or the errors to answer with (a request error: no `data`). */
  prepare(query: string, operationName: string | null | undefined): Prepared | readonly GraphQLError[] {
    let doc = this.#cache.get(query);
    if (doc === undefined) {
      doc = this.#check(query);
      if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(query, doc);
    }
    if (!isDocument(doc)) return doc;
    const op = getOperationAST(doc, operationName);
    if (op === null || op === undefined) {
      const msg =
        operationName === null || operationName === undefined
          ? "the document has several operations: say which one with operationName"
          : `the document has no operation named "${operationName}"`;
      return [codedError("BAD_REQUEST", msg)];
    }
    return { document: doc, operation: op.operation };
  }

  #check(query: string): DocumentNode | readonly GraphQLError[] {
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: this.#maxTokens });
    } catch (e) {
      if (e instanceof GraphQLError) return [withCode(e, "GRAPHQL_VALIDATION_FAILED")];
      throw e;
    }
    const errors = validate(this.#schema, document, this.#rules);
    if (errors.length > 0) return errors.map((e) => withCode(e, "GRAPHQL_VALIDATION_FAILED"));
    return document;
  }
}

/** Whether `prepare` gave a runnable document (not errors). */
export function isPrepared(x: Prepared | readonly GraphQLError[]): x is Prepared {
  return !Array.isArray(x);
}

function isDocument(x: DocumentNode | readonly GraphQLError[]): x is DocumentNode {
  return !Array.isArray(x);
}
