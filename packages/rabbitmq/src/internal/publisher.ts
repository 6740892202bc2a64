/**
 * Publishing with publisher confirms on a self-reopening confirm channel: a publish resolves
 * once the broker confirmed it, and rejects with a typed error when the broker returned it
 * (mandatory, unroutable), nacked it, or the channel closed before the confirm.
 * @internal
 * @module
 */
import type { ConfirmChannel, Message as AmqpMessage, Options } from "amqplib";
import { RabbitMqError } from "../errors.ts";
import { isClosedChannelError, toRabbitMqError } from "./amqp-errors.ts";
import { ManagedChannel, waitDrain, type Connection, type Generation } from "./connection.ts";

interface Pending {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  returned: { replyCode: number; replyText: string } | undefined;
}

/** A confirm channel shared by a client's (or a listener's) publishes. */
export class Publisher {
  readonly channel: ManagedChannel<ConfirmChannel>;
  readonly #conn: Connection;
  /** Unconfirmed mandatory publishes per channel generation, in publish order. */
  readonly #pending = new WeakMap<Generation, Set<Pending>>();

  constructor(conn: Connection, name: string) {
    this.#conn = conn;
    this.channel = new ManagedChannel<ConfirmChannel>(conn, {
      name,
      confirm: true,
      wire: (gen) => {
        const set = new Set<Pending>();
        this.#pending.set(gen, set);
        gen.channel.on("return", (msg: AmqpMessage) => {
          // basic.return precedes the confirm of the same message: mark the oldest matching publish.
          for (const p of set) {
            if (
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
   * connection, for the socket to drain, and for the confirm) is bounded by `timeoutMs`.
   */
  async publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    timeoutMs = this.#conn.params.operationTimeoutMs,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let gen = this.channel.current ?? (await this.channel.acquire(timeoutMs));
    while (gen.blocked) {
      await waitDrain(gen);
      if (!gen.open) gen = await this.channel.acquire(Math.max(1, deadline - Date.now()));
    }
    const set = this.#pending.get(gen);
    const where = { exchange, routingKey };
    return new Promise<void>((resolve, reject) => {
      const entry: Pending | undefined =
        options.mandatory === true ? { exchange, routingKey, content, returned: undefined } : undefined;
      let done = false;
      const timer = setTimeout(
        () => {
          if (done) return;
          done = true;
          if (entry !== undefined) set?.delete(entry);
          reject(
            new RabbitMqError(
              "RABBITMQ_TIMEOUT",
              `publish to exchange "${exchange}" was not confirmed within ${timeoutMs} ms (it may still be delivered)`,
              { coordinates: where },
            ),
          );
        },
        Math.max(1, deadline - Date.now()),
      );
      const callback = (err: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (entry !== undefined) set?.delete(entry);
        if (err !== null && err !== undefined) {
          reject(this.#failure(gen, err, exchange, routingKey));
        } else if (entry?.returned !== undefined) {
          reject(
            new RabbitMqError(
              "RABBITMQ_UNROUTABLE",
              `message to exchange "${exchange}" with routing key "${routingKey}" was returned: ${entry.returned.replyCode} ${entry.returned.replyText}`,
              { replyCode: entry.returned.replyCode, coordinates: where },
            ),
          );
        } else {
          resolve();
        }
      };
      if (entry !== undefined) set?.add(entry);
      try {
        if (!gen.channel.publish(exchange, routingKey, content, options, callback)) gen.blocked = true;
      } catch (e) {
        done = true;
        clearTimeout(timer);
        if (entry !== undefined) set?.delete(entry);
        reject(
          isClosedChannelError(e)
            ? new RabbitMqError("RABBITMQ_NOT_CONFIRMED", `publish to exchange "${exchange}" failed: the channel closed`, { cause: e, coordinates: where })
            : toRabbitMqError(e, `publish to exchange "${exchange}" failed`, where),
        );
      }
    });
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

  close(): Promise<void> {
    return this.channel.close();
  }
}
