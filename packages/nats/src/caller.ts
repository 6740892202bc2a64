/**
 * `nats.Caller`: what a service method gets besides the message.
 *
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import { NatsError } from "./errors.ts";
import type { Headers, Message } from "./options.ts";

/** @internal The settlement state of one JetStream message, shared by the caller and the listener. */
export class Settlement {
  readonly js: JsMsg | undefined;
  state: "open" | "ack" | "nak" | "term" = "open";
  constructor(js: JsMsg | undefined) {
    this.js = js;
  }
  get open(): boolean {
    return this.state === "open";
  }
  ack(): boolean {
    if (this.js === undefined || this.state !== "open") return false;
    this.state = "ack";
    this.js.ack();
    return true;
  }
  nak(delayMs?: number): boolean {
    if (this.js === undefined || this.state !== "open") return false;
    this.state = "nak";
    this.js.nak(delayMs);
    return true;
  }
  term(reason?: string): boolean {
    if (this.js === undefined || this.state !== "open") return false;
    this.state = "term";
    this.js.term(reason);
    return true;
  }
}

/** @internal What the listener gives a caller. */
export interface CallerContext {
  readonly message: Message<unknown>;
  readonly settlement: Settlement;
  respond(data: unknown, headers: Headers | undefined): void;
}

/**
 * Answers requests and, for JetStream services, settles the message by hand. You rarely need
 * the settling methods: the listener acks after the handler succeeded, naks (with a delay) after
 * a failure, and terminates a message that failed on its last delivery. A message settled here
 * is left alone by the listener.
 *
 * @example
 * ```ts
 * async onMessage(order: Order, caller: nats.Caller) {
 *   if (order.test) {
 *     caller.term("test order"); // never redelivered
 *     return;
 *   }
 *   await save(order); // acked by the listener afterwards
 * }
 * ```
 */
export class Caller {
  readonly #ctx: CallerContext;
  #responded = false;

  /** @internal */
  constructor(ctx: CallerContext) {
    this.#ctx = ctx;
  }

  get subject(): string {
    return this.#ctx.message.subject;
  }

  /** The reply subject of a request (core NATS). */
  get replyTo(): string | undefined {
    return this.#ctx.message.replyTo;
  }

  /** True once the JetStream message was acked, nak'ed or terminated. */
  get isSettled(): boolean {
    return !this.#ctx.settlement.open;
  }

  /** True once `respond` was called. */
  get hasResponded(): boolean {
    return this.#responded;
  }

  /**
   * Publish a reply to the request's reply subject (Ballerina's `respond`). `onRequest` does it
   * with its return value; use this from `onMessage`, or to answer early.
   *
   * @throws {NatsError} `NATS_INVALID_CONFIG` when the message has no reply subject
   */
  respond(data: unknown, options: { readonly headers?: Headers } = {}): void {
    if (this.#ctx.message.replyTo === undefined) {
      throw new NatsError("NATS_INVALID_CONFIG", `the message on "${this.subject}" has no reply subject`);
    }
    this.#responded = true;
    this.#ctx.respond(data, options.headers);
  }

  /**
   * JetStream: acknowledge now.
   *
   * @throws {NatsError} `NATS_NOT_JETSTREAM`, `NATS_ALREADY_SETTLED`
   */
  ack(): void {
    this.#settle("ack", (s) => s.ack());
  }

  /**
   * JetStream: ask for a redelivery, after `delayMs` if given.
   *
   * @throws {NatsError} `NATS_NOT_JETSTREAM`, `NATS_ALREADY_SETTLED`
   */
  nak(delayMs?: number): void {
    this.#settle("nak", (s) => s.nak(delayMs));
  }

  /**
   * JetStream: stop redelivering this message (it will not be handled again).
   *
   * @throws {NatsError} `NATS_NOT_JETSTREAM`, `NATS_ALREADY_SETTLED`
   */
  term(reason?: string): void {
    this.#settle("term", (s) => s.term(reason));
  }

  /** JetStream: reset the server's ack timer ("working"). The listener does it for long handlers. */
  inProgress(): void {
    const s = this.#ctx.settlement;
    if (s.js === undefined) throw new NatsError("NATS_NOT_JETSTREAM", "inProgress() is for JetStream messages");
    if (s.open) s.js.working();
  }

  #settle(what: string, fn: (s: Settlement) => boolean): void {
    const s = this.#ctx.settlement;
    if (s.js === undefined) throw new NatsError("NATS_NOT_JETSTREAM", `${what}() is for JetStream messages; core NATS has no acknowledgements`);
    if (!fn(s)) throw new NatsError("NATS_ALREADY_SETTLED", `the message was settled already (${s.state})`);
  }

  /** @internal Whether the listener may still send the returned value as the reply. */
  get canAutoRespond(): boolean {
    return !this.#responded && this.#ctx.message.replyTo !== undefined;
  }
}
