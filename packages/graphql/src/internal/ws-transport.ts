/**
 * GraphQL over WebSocket: graphql-ws's `useServer` (graphql-transport-ws) on a `ws` server that
 * takes upgrades from the HTTP listener, with auth on `connection_init`, a cap on
 * subscriptions per socket, keep-alive pings, error masking and graceful completion.
 * @internal
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { toError, type Logger } from "@pirouette/core";
import { execute, OperationTypeNode, parse, subscribe, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLError, type GraphQLFormattedError } from "graphql";
import type { Context as WsContext, SubscribePayload } from "graphql-ws";
import { useServer, type Extra } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import type { Context } from "../options.ts";
import { codedError, INTERNAL_MESSAGE } from "./format.ts";
import { isPrepared } from "./operation.ts";
import { OperationContext, type ServiceRuntime } from "./runtime.ts";

/** What the WebSocket transport needs from its listener. */
export interface WsHost {
  readonly logger: Logger;
  /** False once the listener is stopping. */
  accepting(): boolean;
  /** Count an operation as in flight while it runs. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

/** One initialised connection. */
interface Conn {
  readonly auth: unknown;
  readonly controller: AbortController;
  /** Ids of the subscriptions it holds now. */
  readonly subIds: Set<string>;
  readonly headers: IncomingHttpHeaders;
  readonly remoteAddress: string | undefined;
  readonly connectionParams: Readonly<Record<string, unknown>> | undefined;
}

type Ctx = WsContext<Record<string, unknown> | undefined, Extra>;

/** WebSocket close reasons are at most 123 bytes. */
function closeReason(message: string): string {
  const b = Buffer.from(message, "utf8");
  return b.length <= 123 ? message : `${b.subarray(0, 120).toString("utf8").replace(/\uFFFD+$/, "")}...`;
}

function isAsyncIterable<T>(x: unknown): x is AsyncIterable<T> {
  return typeof x === "object" && x !== null && typeof (x as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === "function";
}

/** Carries a refused operation's formatted errors through graphql-ws to `onError`. */
class Rejection extends Error {
  readonly errors: readonly GraphQLFormattedError[];
  constructor(errors: readonly GraphQLFormattedError[]) {
    super(errors[0]?.message ?? "the operation was refused");
    this.errors = errors;
  }
}

/** A stand-in document for refused operations (graphql-ws looks up its operation before "executing" it). */
const REJECTED: DocumentNode = parse("query Rejected { __typename }");

/** An operation "result" that fails at once: graphql-ws answers `error`. */
function failing(rejection: Rejection): AsyncGenerator<ExecutionResult> {
  // eslint-disable-next-line require-yield
  return (async function* () {
    throw rejection;
  })();
}

/** The graphql-transport-ws endpoint of one service. */
export class WsTransport {
  readonly #rt: ServiceRuntime;
  readonly #host: WsHost;
  readonly #wss: WebSocketServer;
  readonly #conns = new Map<Ctx, Conn>();
  readonly #sockets = new Set<WebSocket>();
  /** Source streams created in onSubscribe, handed to graphql-ws's `subscribe`. */
  readonly #prepared = new WeakMap<ExecutionArgs, AsyncIterable<ExecutionResult>>();

  constructor(rt: ServiceRuntime, host: WsHost) {
    this.#rt = rt;
    this.#host = host;
    const limits = rt.limits;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, perMessageDeflate: false });
    this.#wss.on("error", (e: Error) => host.logger.error({ err: e, path: rt.path }, "graphql websocket server error"));
    const onSocketError = (e: Error): void => host.logger.warn({ err: e, path: rt.path }, "graphql websocket error");
    // Before useServer's own listener: every socket has an 'error' listener for its whole life.
    this.#wss.on("connection", (socket: WebSocket) => {
      this.#sockets.add(socket);
      socket.on("error", onSocketError);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    useServer<Record<string, unknown> | undefined>(
      {
        schema: rt.schema,
        isProd: true,
        connectionInitWaitTimeout: limits.connectionInitWaitTimeoutMs > 0 ? limits.connectionInitWaitTimeoutMs : Number.POSITIVE_INFINITY,
        onConnect: (ctx) => this.#onConnect(ctx),
        onSubscribe: (ctx, id, payload) => this.#onSubscribe(ctx, id, payload),
        execute: (args) => this.#prepared.get(args) ?? host.run(async () => execute(args)),
        subscribe: (args) => this.#prepared.get(args) ?? subscribe(args),
        onNext: (_ctx, _id, _payload, args, result) =>
          result.errors === undefined || result.errors.length === 0 ? undefined : rt.formatResult(result as ExecutionResult, args.contextValue as Context),
        onError: (_ctx, _id, _payload, errors) => {
          const original = errors[0]?.originalError;
          return original instanceof Rejection ? original.errors : rt.formatErrors(errors, undefined);
        },
        onComplete: (ctx, id) => {
          this.#conns.get(ctx)?.subIds.delete(id);
        },
        onClose: (ctx) => {
          const conn = this.#conns.get(ctx);
          this.#conns.delete(ctx);
          conn?.controller.abort();
        },
      },
      this.#wss,
      limits.keepAliveMs > 0 ? limits.keepAliveMs : 0,
    );
    // After useServer's listener: drop its socket 'error' handler, which writes to console.error
    // (ws closes the socket itself, e.g. 1009 for an oversize message); ours logs to the logger.
    this.#wss.on("connection", (socket: WebSocket) => {
      for (const l of socket.listeners("error")) if (l !== onSocketError) socket.removeListener("error", l as (e: Error) => void);
    });
  }

  /** Open sockets. */
  get socketCount(): number {
    return this.#sockets.size;
  }

  /** Subscriptions still registered on some socket. */
  get activeSubscriptions(): number {
    let n = 0;
    for (const c of this.#conns.values()) n += c.subIds.size;
    return n;
  }

  /** Take an upgrade request for this path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit("connection", ws, req));
  }

  async #onConnect(ctx: Ctx): Promise<boolean> {
    const { socket, request } = ctx.extra;
    if (!this.#host.accepting()) {
      socket.close(1001, "the server is stopping");
      return false;
    }
    const connectionParams = ctx.connectionParams ?? undefined;
    const remoteAddress = request.socket.remoteAddress;
    const outcome = await this.#rt.authorize({ transport: "ws", headers: request.headers, connectionParams, remoteAddress });
    if (!outcome.ok) {
      // graphql-ws closes with 4403 "Forbidden" on false; our reason says why.
      socket.close(outcome.internal ? 4500 : 4403, outcome.internal ? INTERNAL_MESSAGE : closeReason(outcome.error.message));
      return false;
    }
    this.#conns.set(ctx, {
      auth: outcome.auth,
      controller: new AbortController(),
      subIds: new Set(),
      headers: request.headers,
      remoteAddress,
      connectionParams,
    });
    return true;
  }

  /**
   * Check and prepare an operation. Always returns execution arguments: a refused operation
   * gets arguments whose "result" fails with its formatted errors, so graphql-ws sends them as
   * `error` without comparing GraphQLError classes (graphql 16's two builds can both be loaded).
   */
  async #onSubscribe(ctx: Ctx, id: string, payload: SubscribePayload): Promise<ExecutionArgs> {
    const conn = this.#conns.get(ctx);
    if (conn === undefined) return this.#reject([codedError("UNAUTHENTICATED", "the connection is not initialised")], undefined);
    if (!this.#host.accepting()) return this.#reject([codedError("UNAVAILABLE", "the server is stopping")], undefined);
    const rt = this.#rt;
    const prepared = rt.preparer.prepare(payload.query, payload.operationName);
    if (!isPrepared(prepared)) return this.#reject(prepared, undefined);
    const operationName = payload.operationName ?? undefined;
    const contextValue = new OperationContext({
      transport: "ws",
      auth: conn.auth,
      headers: conn.headers,
      connectionParams: conn.connectionParams,
      operationName,
      remoteAddress: conn.remoteAddress,
      signal: conn.controller.signal,
      logger: this.#host.logger,
    });
    const args: ExecutionArgs = {
      schema: rt.schema,
      document: prepared.document,
      operationName,
      variableValues: payload.variables ?? undefined,
      contextValue,
      rootValue: undefined,
    };
    if (prepared.operation !== OperationTypeNode.SUBSCRIPTION) return args;
    const max = rt.limits.maxSubscriptionsPerSocket;
    if (conn.subIds.size >= max) {
      return this.#reject([codedError("TOO_MANY_SUBSCRIPTIONS", `a socket may hold at most ${max} subscriptions`, { maxSubscriptionsPerSocket: max })], contextValue);
    }
    // Counted from now: subscriptions being set up count toward the cap too.
    conn.subIds.add(id);
    let result: AsyncIterable<ExecutionResult> | ExecutionResult;
    try {
      result = await subscribe(args);
    } catch (e) {
      this.#host.logger.error({ err: toError(e), path: rt.path }, "starting a subscription failed");
      result = { errors: [codedError("INTERNAL", INTERNAL_MESSAGE)] };
    }
    if (!isAsyncIterable<ExecutionResult>(result)) {
      // The resolver threw (or the variables are invalid): an `error` message, as Ballerina sends.
      // The id stays counted until graphql-ws completes the operation (onComplete).
      return this.#reject(result.errors ?? [codedError("INTERNAL", INTERNAL_MESSAGE)], contextValue);
    }
    this.#prepared.set(args, result);
    return args;
  }

  #reject(errors: readonly GraphQLError[], context: Context | undefined): ExecutionArgs {
    const rejection = new Rejection(this.#rt.formatErrors(errors, context));
    const args: ExecutionArgs = { schema: this.#rt.schema, document: REJECTED, contextValue: context, rootValue: undefined };
    this.#prepared.set(args, failing(rejection));
    return args;
  }

  /**
   * Close every socket: with 1001 after `graceMs` at most for their last messages to go (and then
   * terminated if they do not close), or at once when `immediate`.
   */
  async close(immediate: boolean, graceMs: number): Promise<void> {
    for (const conn of this.#conns.values()) if (immediate) conn.controller.abort();
    if (immediate) {
      for (const s of this.#sockets) s.terminate();
    } else {
      for (const s of this.#sockets) s.close(1001, "going away");
      const deadline = Date.now() + graceMs;
      while (this.#sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const s of this.#sockets) s.terminate();
    }
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}
