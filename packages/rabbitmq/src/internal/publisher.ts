/**
 * Publishing with publisher confirms on a self-reopening confirm channel: a publish resolves
 * once the broker confirmed it, and rejects with a typed error when the broker returned it
 * (mandatory, unroutable), nacked it, or the channel closed before the confirm, or when no
 * confirm came within the operation timeout.
 * @internal
 * @module
 */
import type { ConfirmChannel, Message as AmqpMessage, Options } from "amqplib";
import { RabbitMqError } from "../errors.ts";
import { isClosedChannelError, toRabbitMqError } from "./amqp-errors.ts";
import { ManagedChannel, waitDrain, type Connection, type Generation } from "./connection.ts";

let capturedResolve: (() => void) | undefined;
let capturedReject: ((e: Error) => void) | undefined;
/** A promise executor that allocates no closure per publish. */
function capture(resolve: () => void, reject: (e: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** One unconfirmed publish. */
class Pending {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly mandatory: boolean;
  readonly deadline: number;
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  returned: { replyCode: number; replyText: string } | undefined = undefined;
  done = false;
  /** Neighbours in the publisher's list of unconfirmed publishes. */
  prev: Pending | undefined = undefined;
  next: Pending | undefined = undefined;

  constructor(exchange: string, routingKey: string, content: Buffer, mandatory: boolean, deadline: number) {
    this.exchange = exchange;
    this.routingKey = routingKey;
    this.content = content;
    this.mandatory = mandatory;
    this.deadline = deadline;
    this.promise = new Promise<void>(capture);
    this.resolve = capturedResolve as () => void;
    this.reject = capturedReject as (e: Error) => void;
  }
}

/**
 * The confirm window of one channel: publish sequence numbers are the broker's confirm
 * delivery tags (1, 2, …); `window[i]` is the publish with tag `lwm + i` (undefined once settled).
 */
interface ConfirmWindow {
  lwm: number;
  window: (Pending | undefined)[];
}

/** A confirm channel shared by a client's (or a listener's) publishes. */
export class Publisher {
  readonly channel: ManagedChannel<ConfirmChannel>;
  readonly #timeoutMs: number;
  readonly #windows = new WeakMap<Generation<ConfirmChannel>, ConfirmWindow>();
  /**
   * Every unconfirmed publish, in publish order (so deadlines are in order; one timer for all),
   * as a list through the publishes themselves: a Set's add/delete churn on a long-lived Set
   * reallocates its table in the old generation and makes V8 run mark-compacts under load.
   */
  #first: Pending | undefined;
  #last: Pending | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(conn: Connection, name: string) {
    this.#timeoutMs = conn.params.operationTimeoutMs;
    this.channel = new ManagedChannel<ConfirmChannel>(conn, {
      name,
      confirm: true,
      wire: (gen) => {
        const w: ConfirmWindow = { lwm: 1, window: [] };
        this.#windows.set(gen, w);
        const ch = gen.channel;
        ch.on("ack", (f: { deliveryTag: number; multiple: boolean }) => this.#confirm(gen, w, f.deliveryTag, f.multiple, false));
        ch.on("nack", (f: { deliveryTag: number; multiple: boolean }) => this.#confirm(gen, w, f.deliveryTag, f.multiple, true));
        ch.on("close", () => {
          const left = w.window;
          w.window = [];
          for (const p of left) if (p !== undefined) this.#settle(p, this.#failure(gen, new Error("channel closed"), p.exchange, p.routingKey));
        });
        ch.on("return", (msg: AmqpMessage) => {
          // basic.return precedes the confirm of the same message: mark the oldest matching publish.
          for (const p of w.window) {
            if (
              p !== undefined &&
              p.mandatory &&
              p.returned === undefined &&
              p.exchange === msg.fields.exchange &&
              p.routingKey === msg.fields.routingKey &&
              p.content.equals(msg.content)
            ) {
              const f = msg.fields as unknown as { replyCode?: number; replyText?: string };
              p.returned = { replyCode: f.replyCode ?? 312, replyText: f.replyText ?? "NO_ROUTE" };
              return;
            }
          }
        });
      },
    });
  }

  start(): Promise<unknown> {
    return this.channel.start();
  }

  /**
   * Publish and wait for the broker's confirm. The whole operation (waiting for a lost
   * connection, for the socket to drain, and for the confirm) is bounded by the connection's
   * `operationTimeoutMs`.
   */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    const gen = this.channel.current;
    const deadline = Date.now() + this.#timeoutMs;
    if (gen !== undefined && !gen.blocked) return this.#send(gen, exchange, routingKey, content, options, deadline);
    return this.#slow(exchange, routingKey, content, options, deadline);
  }

  async #slow(exchange: string, routingKey: string, content: Buffer, options: Options.Publish, deadline: number): Promise<void> {
    let gen = this.channel.current ?? (await this.channel.acquire(Math.max(1, deadline - Date.now())));
    while (gen.blocked) {
      await waitDrain(gen);
      if (!gen.open) gen = await this.channel.acquire(Math.max(1, deadline - Date.now()));
    }
    return this.#send(gen, exchange, routingKey, content, options, deadline);
  }

  #send(gen: Generation<ConfirmChannel>, exchange: string, routingKey: string, content: Buffer, options: Options.Publish, deadline: number): Promise<void> {
    const p = new Pending(exchange, routingKey, content, options.mandatory === true, deadline);
    const w = this.#windows.get(gen);
    if (w === undefined || !gen.open) {
      this.#settle(p, new RabbitMqError("RABBITMQ_NOT_CONFIRMED", `publish to exchange "${exchange}" failed: the channel closed`, { coordinates: { exchange, routingKey } }));
      return p.promise;
    }
    this.#link(p);
    this.#arm();
    try {
      if (!gen.channel.publish(exchange, routingKey, content, options)) gen.blocked = true;
      w.window.push(p);
      gen.coalescer?.hold();
    } catch (e) {
      // Not sent: it takes no confirm sequence number.
      this.#settle(
        p,
        isClosedChannelError(e)
          ? new RabbitMqError("RABBITMQ_NOT_CONFIRMED", `publish to exchange "${exchange}" failed: the channel closed`, {
              cause: e,
              coordinates: { exchange, routingKey },
            })
          : toRabbitMqError(e, `publish to exchange "${exchange}" failed`, { exchange, routingKey }),
      );
    }
    return p.promise;
  }

  /** basic.ack / basic.nack for `tag` (and, with `multiple`, every earlier publish). */
  #confirm(gen: Generation<ConfirmChannel>, w: ConfirmWindow, tag: number, multiple: boolean, nacked: boolean): void {
    if (multiple) {
      const n = tag - w.lwm + 1;
      if (n <= 0) return;
      const done = w.window.splice(0, n);
      w.lwm = tag + 1;
      for (const p of done) if (p !== undefined) this.#confirmed(gen, p, nacked);
      return;
    }
    const i = tag - w.lwm;
    if (i < 0 || i >= w.window.length) return;
    const p = w.window[i];
    w.window[i] = undefined;
    while (w.window.length > 0 && w.window[0] === undefined) {
      w.window.shift();
      w.lwm++;
    }
    if (p !== undefined) this.#confirmed(gen, p, nacked);
  }

  #confirmed(gen: Generation<ConfirmChannel>, p: Pending, nacked: boolean): void {
    if (p.done) return;
    if (nacked) {
      this.#settle(p, this.#failure(gen, new Error("message nacked"), p.exchange, p.routingKey));
    } else if (p.returned !== undefined) {
      this.#settle(
        p,
        new RabbitMqError(
          "RABBITMQ_UNROUTABLE",
          `message to exchange "${p.exchange}" with routing key "${p.routingKey}" was returned: ${p.returned.replyCode} ${p.returned.replyText}`,
          { replyCode: p.returned.replyCode, coordinates: { exchange: p.exchange, routingKey: p.routingKey } },
        ),
      );
    } else {
      this.#settle(p, undefined);
    }
  }

  #settle(p: Pending, error: Error | undefined): void {
    if (p.done) return;
    p.done = true;
    this.#unlink(p);
    if (error === undefined) p.resolve();
    else p.reject(error);
  }

  #link(p: Pending): void {
    const last = this.#last;
    p.prev = last;
    if (last === undefined) this.#first = p;
    else last.next = p;
    this.#last = p;
  }

  /** Idempotent: a publish settled before it was linked is not in the list. */
  #unlink(p: Pending): void {
    const { prev, next } = p;
    if (prev === undefined) {
      if (this.#first !== p) return;
      this.#first = next;
    } else {
      prev.next = next;
    }
    if (next === undefined) this.#last = prev;
    else next.prev = prev;
    p.prev = undefined;
    p.next = undefined;
  }

  /** One timer for every unconfirmed publish, armed for the oldest deadline. */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const first = this.#first;
    if (first === undefined) return;
    this.#timer = setTimeout(() => this.#sweep(), Math.max(1, first.deadline - Date.now()));
    this.#timer.unref();
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (let p = this.#first, next: Pending | undefined; p !== undefined && p.deadline <= now; p = next) {
      next = p.next;
      this.#settle(
        p,
        new RabbitMqError(
          "RABBITMQ_TIMEOUT",
          `publish to exchange "${p.exchange}" was not confirmed within ${this.#timeoutMs} ms (it may still be delivered)`,
          { coordinates: { exchange: p.exchange, routingKey: p.routingKey } },
        ),
      );
    }
    this.#arm();
  }

  #failure(gen: Generation, err: unknown, exchange: string, routingKey: string): RabbitMqError {
    const where = { exchange, routingKey };
    const message = err instanceof Error ? err.message : String(err);
    if (message === "message nacked") {
      return new RabbitMqError("RABBITMQ_NACKED", `the broker refused the message to exchange "${exchange}" (basic.nack)`, { coordinates: where });
    }
    const closeError = gen.closeError;
    if (closeError !== undefined) {
      const wrapped = toRabbitMqError(closeError, `publish to exchange "${exchange}" failed`, where);
      // A missing exchange closes the channel: blame only the publishes to that exchange.
      if (wrapped.code !== "RABBITMQ_NOT_FOUND" || closeError.message.includes(`exchange '${exchange}'`)) return wrapped;
    }
    return new RabbitMqError(
      "RABBITMQ_NOT_CONFIRMED",
      `publish to exchange "${exchange}" was not confirmed: the channel closed (${closeError?.message ?? message}); it may or may not have been delivered`,
      { cause: closeError ?? err, coordinates: where },
    );
  }

  async close(): Promise<void> {
    await this.channel.close();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // amqplib fails the callbacks of a closing channel; anything left (never sent) fails here.
    for (let p = this.#first, next: Pending | undefined; p !== undefined; p = next) {
      next = p.next;
      this.#settle(p, new RabbitMqError("RABBITMQ_CLOSED", `publish to exchange "${p.exchange}" was not confirmed: the publisher closed`));
    }
  }
}
