/**
 * The state of one server-side call: cancellation, deadline, writes with backpressure, and
 * settling the status exactly once.
 * @internal
 * @module
 */
import { once, type EventEmitter } from "node:events";
import type { Metadata, sendUnaryData, ServerDuplexStream, ServerReadableStream, ServerUnaryCall, ServerWritableStream } from "@grpc/grpc-js";
import { PushSource, type Stream } from "@pirouette/core";
import { GrpcError } from "../errors.ts";
import type { CallKind } from "../proto.ts";
import { fromServiceError, toMetadata, toStatus } from "./wire.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCall = ServerUnaryCall<any, any> | ServerReadableStream<any, any> | ServerWritableStream<any, any> | ServerDuplexStream<any, any>;
type WritableCall = ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>;

/** @internal */
export class ServerCallState {
  readonly kind: CallKind;
  readonly call: AnyCall;
  #controller: AbortController | undefined;
  #abortReason: GrpcError | undefined;
  readonly path: string;
  /** Set once the status went out (or the call was cancelled). */
  done = false;
  cancelled = false;
  readonly #callback: sendUnaryData<unknown> | undefined;
  #trailer: Metadata | undefined;
  #pendingResponse: { value: unknown } | undefined;
  #incoming: PushSource<unknown, GrpcError> | undefined;
  #outgoing: Stream<unknown, unknown> | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #headersSent = false;
  readonly #onDone: (s: ServerCallState) => void;
  readonly finished: Promise<void>;
  #resolveFinished!: () => void;

  constructor(kind: CallKind, path: string, call: AnyCall, callback: sendUnaryData<unknown> | undefined, onDone: (s: ServerCallState) => void) {
    this.kind = kind;
    this.path = path;
    this.call = call;
    this.#callback = callback;
    this.#onDone = onDone;
    this.finished = new Promise((resolve) => {
      this.#resolveFinished = resolve;
    });
    const deadline = call.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    // A client resets the stream at its own deadline, which comes a little before ours (ours
    // starts when the request arrives): a reset late in the deadline window is the deadline.
    const created = Date.now();
    (call as unknown as EventEmitter).on("cancelled", () =>
      this.cancel(
        Number.isFinite(at) && Date.now() >= at - Math.min(1000, (at - created) / 2)
          ? new GrpcError("DEADLINE_EXCEEDED", "the call's deadline passed")
          : new GrpcError("CANCELLED", "the client cancelled the call"),
      ),
    );
    if (Number.isFinite(at)) {
      this.#deadlineTimer = setTimeout(() => this.cancel(new GrpcError("DEADLINE_EXCEEDED", "the call's deadline passed")), Math.max(0, at - Date.now()));
      this.#deadlineTimer.unref();
    }
  }

  /** The handler's signal (created on first use: most unary handlers never read it). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  #abort(reason: GrpcError): void {
    this.#abortReason ??= reason;
    this.#controller?.abort(reason);
  }

  get isWritable(): boolean {
    return this.kind === "serverStreaming" || this.kind === "bidiStreaming";
  }

  /** The requests of a client-streaming or bidi call, as a Stream with flow control. */
  incoming(): Stream<unknown, GrpcError> {
    if (this.#incoming !== undefined) return this.#incoming.stream;
    const call = this.call as ServerReadableStream<unknown, unknown>;
    const src = new PushSource<unknown, GrpcError>({
      highWaterMark: 64,
      onPause: () => call.pause(),
      onResume: () => call.resume(),
    });
    this.#incoming = src;
    call.on("data", (v: unknown) => src.push(v));
    // A client's cancellation can show up as the end of its requests just before grpc-js reports
    // it ("cancelled" comes on the next tick): end the requests only once that had its chance.
    // A client's cancel half-closes before it resets the stream, so the handler may see the end
    // of the requests first; the reset then aborts its signal if it is still running.
    call.on("end", () => src.end());
    call.on("error", (e: unknown) => src.fail(fromServiceError(e)));
    return src.stream;
  }

  /** Send response headers now (before the first message). */
  sendHeaders(md: Metadata): void {
    if (this.done || this.#headersSent) return;
    this.#headersSent = true;
    this.call.sendMetadata(md);
  }

  addTrailer(md: Metadata): void {
    if (this.#trailer === undefined) this.#trailer = md;
    else this.#trailer.merge(md);
  }

  /** Write one response. Returns a promise only when the transport wants the writer to wait. */
  write(value: unknown): void | Promise<void> {
    if (this.done) {
      if (this.cancelled) throw this.#abortReason as Error;
      throw new GrpcError("STATE", "the call is already complete");
    }
    if (!this.isWritable) {
      if (this.#pendingResponse !== undefined) throw new GrpcError("STATE", `a ${this.kind} call has one response`);
      this.#pendingResponse = { value };
      return;
    }
    this.#headersSent = true;
    const call = this.call as WritableCall;
    if (call.write(value)) return;
    return this.#drain(call);
  }

  async #drain(call: WritableCall): Promise<void> {
    await once(call, "drain", { signal: this.signal }).catch(() => undefined);
    if (this.cancelled) throw this.#abortReason as Error;
  }

  /** Pump a returned stream out, then complete. */
  async pump(out: Stream<unknown, unknown>): Promise<void> {
    this.#outgoing = out;
    if (this.done) {
      await out.close();
      return;
    }
    const signal = this.signal;
    await out
      .pipeTo(
        {
          write: (v) => (this.done ? undefined : this.write(v)),
          close: () => undefined,
        },
        { signal, preventClose: true },
      )
      .catch((e: unknown) => {
        if (!signal.aborted) throw e;
      });
  }

  /** Settle OK: the unary response (or the one recorded by `caller.send`), or the end of the stream. */
  complete(response?: unknown): void {
    if (this.done) return;
    if (this.isWritable) {
      this.#finish();
      (this.call as WritableCall).end(this.#trailer);
      return;
    }
    const value = response !== undefined ? response : this.#pendingResponse?.value;
    if (value === undefined) {
      this.fail(new GrpcError("INTERNAL", `the ${this.kind} handler returned no response`));
      return;
    }
    this.#finish();
    this.#callback?.(null, value, this.#trailer);
  }

  /** Settle with the status for `error` (its own for a status GrpcError, else INTERNAL). */
  fail(error: unknown): void {
    if (this.done) return;
    this.#finish();
    const status = toStatus(error);
    if (this.#trailer !== undefined) status.metadata.merge(this.#trailer);
    if (this.isWritable) (this.call as unknown as EventEmitter).emit("error", status);
    else this.#callback?.(status);
  }

  /** The client cancelled, the deadline passed or the listener stopped: abort the handler and close its streams. */
  cancel(reason: GrpcError): void {
    if (this.done) return;
    this.cancelled = true;
    this.#finish();
    this.#abort(reason);
    this.#incoming?.fail(reason);
    if (this.#outgoing !== undefined) void this.#outgoing.close().catch(() => undefined);
  }

  /** Stop the call from the server side (listener stop): abort the handler and send `reason`'s status. */
  abort(reason: GrpcError): void {
    if (this.done) return;
    this.fail(reason);
    this.cancelled = true;
    this.#abort(reason);
    this.#incoming?.fail(reason);
    if (this.#outgoing !== undefined) void this.#outgoing.close().catch(() => undefined);
  }

  #finish(): void {
    this.done = true;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#resolveFinished();
    this.#onDone(this);
  }
}

export { toMetadata };
