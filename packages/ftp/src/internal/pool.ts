/**
 * A small connection pool: SFTP shares one connection between every operation (capacity
 * ∞, at most one connection); FTP gives each operation a connection of its own (capacity 1,
 * up to `maxConnections`) and queues the rest in arrival order. Dead connections are dropped
 * and replaced on the next lease.
 *
 * @internal
 * @module
 */
import { toError, type Logger } from "@pirouette/core";
import { FtpError } from "../errors.ts";
import type { Connection, ConnectionFactory } from "./port.ts";

/** One operation's hold on a connection. */
export interface Lease {
  readonly conn: Connection;
  /** Give the connection back; `discard` drops it (after a connection failure or an aborted transfer). */
  release(discard?: boolean): void;
}

interface Slot {
  readonly conn: Connection;
  active: number;
}

export class Pool {
  readonly #factory: ConnectionFactory;
  readonly #max: number;
  readonly #logger: Logger;
  #slots: Slot[] = [];
  #opening = 0;
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor(factory: ConnectionFactory, max: number, logger: Logger) {
    this.#factory = factory;
    this.#max = max;
    this.#logger = logger;
  }

  /** Connections open now. */
  get size(): number {
    return this.#slots.filter((s) => s.conn.alive).length;
  }

  async lease(): Promise<Lease> {
    for (;;) {
      if (this.#closed) throw new FtpError("FTP_CLOSED", "the client is closed");
      this.#prune();
      const free = this.#slots.find((s) => s.conn.alive && s.active < s.conn.capacity);
      if (free !== undefined) return this.#take(free);
      if (this.#slots.length + this.#opening < this.#max) {
        this.#opening++;
        let conn: Connection;
        try {
          conn = await this.#factory();
        } catch (e) {
          this.#wake();
          throw e;
        } finally {
          this.#opening--;
        }
        if (this.#closed) {
          conn.destroy();
          throw new FtpError("FTP_CLOSED", "the client is closed");
        }
        const slot: Slot = { conn, active: 0 };
        this.#slots.push(slot);
        const lease = this.#take(slot);
        this.#wake(); // SFTP: everyone waiting can share the new connection
        return lease;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #take(slot: Slot): Lease {
    slot.active++;
    let released = false;
    return {
      conn: slot.conn,
      release: (discard = false) => {
        if (released) return;
        released = true;
        slot.active--;
        if (discard && slot.conn.alive) slot.conn.destroy();
        this.#prune();
        this.#wake();
      },
    };
  }

  /** Drop dead connections (an operation still holding one keeps its own reference). */
  #prune(): void {
    if (this.#slots.every((s) => s.conn.alive)) return;
    this.#slots = this.#slots.filter((s) => {
      if (s.conn.alive) return true;
      s.conn.destroy();
      return false;
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake();
    const slots = this.#slots;
    this.#slots = [];
    await Promise.all(
      slots.map(async (s) => {
        try {
          if (s.active > 0) s.conn.destroy();
          else await s.conn.close();
        } catch (e) {
          this.#logger.debug({ err: toError(e) }, "closing a connection failed");
          s.conn.destroy();
        }
      }),
    );
  }
}
