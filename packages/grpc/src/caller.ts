/**
 * The Caller a gRPC service method receives: request metadata, deadline, cancellation, and
 * `send`/`complete`/`sendError` for answering through the caller (Ballerina's `grpc:Caller`).
 *
 * @module
 */
import type { GrpcError, GrpcMetadata } from "./errors.ts";
import type { ServerCallState } from "./internal/server-call.ts";
import { fromMetadata, toMetadata } from "./internal/wire.ts";
import type { CallKind } from "./proto.ts";

/**
 * One server-side call. Streaming handlers may answer through it instead of returning a
 * `Stream`: `await caller.send(msg)` (awaits flow control), then `caller.complete()` or
 * `caller.sendError(new GrpcError(...))`. When the handler returns without completing, the call
 * is completed for it. `signal` aborts when the client cancels, the deadline passes or the
 * listener stops.
 *
 * @example
 * ```ts
 * async chat(messages: Stream<Msg, GrpcError>, caller: grpc.Caller<Msg>) {
 *   for await (const m of messages) {
 *     if (caller.isCancelled()) break;
 *     await caller.send({ text: `echo ${m.text}` });
 *   }
 *   caller.complete();
 * }
 * ```
 */
export class GrpcCaller<TRes = unknown> {
  readonly #state: ServerCallState;
  #metadata: GrpcMetadata | undefined;
  /** `package.Service` of the call. */
  readonly service: string;
  /** The RPC name as in the proto. */
  readonly method: string;
  /** The call kind. */
  readonly kind: CallKind;

  /** @internal */
  constructor(state: ServerCallState, service: string, method: string) {
    this.#state = state;
    this.service = service;
    this.method = method;
    this.kind = state.kind;
  }

  /** The request metadata (headers) the client sent. */
  get metadata(): GrpcMetadata {
    return (this.#metadata ??= fromMetadata(this.#state.call.metadata));
  }

  /** The call's deadline, or `undefined` when the client set none. */
  get deadline(): Date | undefined {
    const d = this.#state.call.getDeadline();
    const at = d instanceof Date ? d.getTime() : d;
    return Number.isFinite(at) ? new Date(at) : undefined;
  }

  /** Aborted (with a `GrpcError` CANCELLED / DEADLINE_EXCEEDED / UNAVAILABLE) when the call ends early. */
  get signal(): AbortSignal {
    return this.#state.signal;
  }

  /** The client's address. */
  get peer(): string {
    return this.#state.call.getPeer();
  }

  /** Whether the client cancelled, the deadline passed or the listener stopped the call. */
  isCancelled(): boolean {
    return this.#state.cancelled;
  }

  /** Whether the status has been sent (completed, failed or cancelled). */
  isDone(): boolean {
    return this.#state.done;
  }

  /** Send response headers now; otherwise they go with the first response. */
  sendHeaders(metadata: GrpcMetadata): void {
    this.#state.sendHeaders(toMetadata(metadata));
  }

  /** Add trailing metadata, sent with the status. */
  setTrailers(metadata: GrpcMetadata): void {
    this.#state.addTrailer(toMetadata(metadata));
  }

  /**
   * Send one response: for streaming responses, awaits flow control (rejects with the
   * cancellation reason once the call was cancelled); for unary and client streaming, records
   * the one response sent when the handler returns or `complete()` is called.
   */
  async send(response: TRes): Promise<void> {
    await this.#state.write(response);
  }

  /** End the call with status OK. */
  complete(): void {
    this.#state.complete();
  }

  /** End the call with `error`'s status (a non-GrpcError is sent as INTERNAL). */
  sendError(error: GrpcError | Error): void {
    this.#state.fail(error);
  }
}
