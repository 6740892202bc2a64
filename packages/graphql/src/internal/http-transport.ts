/**
 * GraphQL over HTTP (POST, and GET for queries) as a resource of an `http.Listener`.
 * @internal
 * @module
 */
import { json, toError, type Logger } from "@pirouette/core";
import * as http from "@pirouette/http";
import { execute, OperationTypeNode, type ExecutionResult, type GraphQLFormattedError } from "graphql";
import { codedError } from "./format.ts";
import { isPrepared } from "./operation.ts";
import { OperationContext, type ServiceRuntime } from "./runtime.ts";

const GRAPHQL_RESPONSE = "application/graphql-response+json";
const JSON_TYPE = "application/json";

/** What the HTTP transport needs from its listener. */
export interface HttpHost {
  readonly logger: Logger;
  /** False once the listener is stopping. */
  accepting(): boolean;
  /** Aborted when the listener stops immediately. */
  readonly stopSignal: AbortSignal;
  /** Count an operation as in flight while it runs. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

interface Params {
  readonly query: string;
  readonly variables: Record<string, unknown> | undefined;
  readonly operationName: string | undefined;
}

function mediaType(value: string | undefined): string {
  if (value === undefined) return "";
  const semi = value.indexOf(";");
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

/** The response media type the client accepts (GraphQL-over-HTTP), or undefined for none we serve. */
function responseType(accept: string | undefined): string | undefined {
  if (accept === undefined || accept.trim() === "") return JSON_TYPE;
  const types = accept.split(",").map((part) => {
    const [type = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    return { type, q: q === undefined ? 1 : Number(q.slice(2)) };
  });
  const accepted = (t: string): boolean => types.some((x) => x.type === t && x.q > 0);
  if (accepted(GRAPHQL_RESPONSE)) return GRAPHQL_RESPONSE;
  if (accepted(JSON_TYPE) || accepted("*/*") || accepted("application/*")) return JSON_TYPE;
  return undefined;
}

function reply(status: number, body: unknown, media: string, headers: Readonly<Record<string, string>> = {}): http.Response {
  return new http.Response(body, { status, headers: { "content-type": `${media}; charset=utf-8`, ...headers } });
}

function requestError(status: number, code: string, message: string, media: string, headers?: Readonly<Record<string, string>>): http.Response {
  return reply(status, { errors: [codedError(code, message).toJSON()] }, media, headers);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Check the request's `{ query, variables, operationName }`; a string is the problem. */
function readParams(raw: unknown): Params | string {
  if (!isRecord(raw)) return "the request must be a JSON object with a `query`";
  const { query, variables, operationName } = raw;
  if (typeof query !== "string" || query.trim() === "") return "`query` must be a non-empty string";
  if (variables !== undefined && variables !== null && !isRecord(variables)) return "`variables` must be an object";
  if (operationName !== undefined && operationName !== null && typeof operationName !== "string") return "`operationName` must be a string";
  return {
    query,
    variables: variables === null || variables === undefined ? undefined : variables,
    operationName: typeof operationName === "string" ? operationName : undefined,
  };
}

function firstString(v: string | readonly string[] | undefined): string | undefined {
  return typeof v === "string" ? v : v?.[0];
}

const jsonCodecs = new Map<number, ReturnType<typeof json>>();
function jsonCodec(maxBytes: number): ReturnType<typeof json> {
  let c = jsonCodecs.get(maxBytes);
  if (c === undefined) jsonCodecs.set(maxBytes, (c = json({ maxBytes })));
  return c;
}

/** Answer one GraphQL-over-HTTP request. Never throws: every failure is a GraphQL-shaped response. */
export async function handleHttp(rt: ServiceRuntime, host: HttpHost, req: http.Request): Promise<http.Response> {
  const media = responseType(req.headers.accept);
  if (media === undefined) {
    return requestError(406, "NOT_ACCEPTABLE", `answers are ${GRAPHQL_RESPONSE} or ${JSON_TYPE}`, JSON_TYPE);
  }
  if (!host.accepting()) return requestError(503, "UNAVAILABLE", "the server is stopping", media, { connection: "close" });
  let raw: unknown;
  if (req.method === "POST") {
    const type = mediaType(req.headers["content-type"]);
    if (type !== JSON_TYPE && !type.endsWith("+json")) {
      return requestError(415, "BAD_REQUEST", "a GraphQL POST needs content-type application/json", media);
    }
    if (!(req.body instanceof Uint8Array) || req.body.length === 0) return requestError(400, "BAD_REQUEST", "the request has no body", media);
    try {
      raw = jsonCodec(rt.limits.maxBodyBytes ?? Number.POSITIVE_INFINITY).decode(req.body);
    } catch (e) {
      return requestError(400, "BAD_REQUEST", `the body is not valid JSON: ${toError(e).message}`, media);
    }
  } else {
    const q = req.query;
    let variables: unknown;
    const v = firstString(q["variables"]);
    if (v !== undefined && v !== "") {
      try {
        variables = jsonCodec(64 * 1024).decode(Buffer.from(v, "utf8"));
      } catch (e) {
        return requestError(400, "BAD_REQUEST", `\`variables\` is not valid JSON: ${toError(e).message}`, media);
      }
    }
    raw = { query: firstString(q["query"]), variables, operationName: firstString(q["operationName"]) };
  }
  const params = readParams(raw);
  if (typeof params === "string") return requestError(400, "BAD_REQUEST", params, media);
  return host.run(() => run(rt, host, req, params, media));
}

async function run(rt: ServiceRuntime, host: HttpHost, req: http.Request, params: Params, media: string): Promise<http.Response> {
  const remoteAddress = req.raw.socket.remoteAddress;
  const outcome = await rt.authorize({ transport: "http", headers: req.headers, connectionParams: undefined, remoteAddress });
  if (!outcome.ok) {
    const status = outcome.internal ? 500 : outcome.error.code === "FORBIDDEN" ? 403 : 401;
    return requestError(status, outcome.error.code, outcome.error.message, media);
  }
  const prepared = rt.preparer.prepare(params.query, params.operationName);
  if (!isPrepared(prepared)) {
    return reply(media === GRAPHQL_RESPONSE ? 400 : 200, { errors: rt.formatErrors(prepared, undefined) }, media);
  }
  const { document, operation } = prepared;
  if (operation === OperationTypeNode.SUBSCRIPTION) {
    return requestError(400, "BAD_REQUEST", "subscriptions are served over WebSocket (graphql-transport-ws) at this path", media);
  }
  if (operation === OperationTypeNode.MUTATION && req.method !== "POST") {
    return requestError(405, "BAD_REQUEST", "mutations need POST", media, { allow: "POST" });
  }
  const context = new OperationContext({
    transport: "http",
    auth: outcome.auth,
    headers: req.headers,
    connectionParams: undefined,
    operationName: params.operationName,
    remoteAddress,
    signal: AbortSignal.any([req.signal, host.stopSignal]),
    logger: host.logger,
  });
  const result: ExecutionResult = await execute({
    schema: rt.schema,
    document,
    variableValues: params.variables,
    operationName: params.operationName,
    contextValue: context,
  });
  if (!("data" in result)) {
    // Variables that do not coerce: a request error.
    const errors: GraphQLFormattedError[] = rt.formatErrors(result.errors ?? [], context);
    return reply(media === GRAPHQL_RESPONSE ? 400 : 200, { errors }, media);
  }
  return reply(200, rt.formatResult(result, context), media);
}
