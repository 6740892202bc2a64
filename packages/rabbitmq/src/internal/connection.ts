/**
 * Connection recovery (amqplib's own, capped exponential backoff with jitter) and channels
 * that reopen themselves, re-running their setup (topology, prefetch, consumers), after a lost
 * connection or a channel error. Each channel has its own `error` listener, so a channel error
 * never reaches the connection or the other channels.
 * @internal
 * @module
 */
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type RecoveringChannelModel } from "amqplib";
import { toError, type Logger } from "@pirouette/core";
import { RabbitMqError } from "../errors.ts";
import { replyCodeOf, toRabbitMqError } from "./amqp-errors.ts";
import { coalescerOf, type WriteCoalescer } from "./coalesce.ts";
import { backoffDelay, type ConnectionParams } from "./params.ts";

/** One AMQP channel's lifetime. Delivery tags are only meaningful on their generation. */
export interface Generation<C extends Channel = Channel> {
  readonly id: number;
  readonly channel: C;
  /** The connection the channel belongs to. */
  readonly model: ChannelModel;
  /** False once the channel closed: acks for its deliveries are dropped (the broker requeued them). */
  open: boolean;
  /** Set up and handed out (before that, failures belong to whoever is opening it). */
  ready: boolean;
  /** The error the broker closed the channel with, if any. */
  closeError: Error | undefined;
  /** Delivery tags received with manual acknowledgement and not settled yet. */
  readonly unsettled: Set<number>;
  /** `publish` returned false: wait for `drain`. */
  blocked: boolean;
  drainWaiters: (() => void)[];
  /** Acks decided in this tick, sent together by `flushAcks` (see settle.ts). */
  pendingAcks: number[];
  flushScheduled: boolean;
  /** Writes of a tick in one system call (undefined if the socket cannot be corked). */
  readonly coalescer: WriteCoalescer | undefined;
}

interface ConnectionObserver {
  connected(model: ChannelModel): void;
}

let generationSeq = 0;

/**
 * One AMQP connection with amqplib's recovery: on loss it reconnects with capped exponential
 * backoff and jitter, and tells its channels, which reopen themselves.
 */
export class Connection {
  readonly params: ConnectionParams;
  readonly logger: Logger;
  #model: RecoveringChannelModel | undefined;
  #live: ChannelModel | undefined;
  readonly #observers = new Set<ConnectionObserver>();
  #waiters: { resolve: (m: ChannelModel) => void; reject: (e: Error) => void }[] = [];
  #closed = false;
  #fatal: RabbitMqError | undefined;
  #everConnected = false;
  /** Completed reconnections (for logs and tests). */
  reconnects = 0;
  /** Called once if the connection is lost for good (retries exhausted, credentials refused). */
  onFatal: ((error: RabbitMqError) => void) | undefined;

  constructor(params: ConnectionParams, logger: Logger) {
    this.params = params;
    this.logger = logger;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Connect (retrying `connectRetries` times). Rejects with a RabbitMqError. */
  async open(): Promise<void> {
    if (this.#model !== undefined) throw new RabbitMqError("RABBITMQ_INVALID_CONFIG", "connection already opened");
    const r = this.params.reconnect;
    let model: RecoveringChannelModel;
    try {
      model = await connect(this.params.connect, {
        ...this.params.socket,
        recovery: {
          initialDelay: r.initialDelayMs,
          maxDelay: r.maxDelayMs,
          factor: r.multiplier,
          jitter: r.jitter,
          maxRetries: r.maxRetries,
          initialMaxRetries: r.connectRetries,
          waitForConnect: false,
        },
      });
    } catch (e) {
      throw toRabbitMqError(e, `cannot connect to ${this.params.display}`);
    }
    this.#model = model;
    this.#wire(model);
    try {
      await model.waitForConnect();
    } catch (e) {
      const err = toRabbitMqError(e, `cannot connect to ${this.params.display}`);
      this.#closed = true;
      await model.close().catch(() => undefined);
      throw err;
    }
  }

  #wire(model: RecoveringChannelModel): void {
    model.on("connect", (live: ChannelModel) => {
      if (this.#closed) return;
      const again = this.#everConnected;
      this.#everConnected = true;
      this.#live = live;
      if (again) {
        this.reconnects++;
        this.logger.info({ broker: this.params.display, reconnects: this.reconnects }, "rabbitmq connection recovered");
      }
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.resolve(live);
      for (const o of this.#observers) {
        try {
          o.connected(live);
        } catch (e) {
          this.logger.error({ err: toError(e) }, "channel recovery failed");
        }
      }
    });
    model.on("disconnect", (err: Error) => {
      this.#live = undefined;
      if (this.#closed) return;
      this.logger.warn({ err: toRabbitMqError(err, "connection lost"), broker: this.params.display }, "rabbitmq connection lost; reconnecting");
    });
    model.on("connect-failed", (err: Error) => {
      if (this.#closed || !this.#everConnected) return;
      const code = replyCodeOf(err);
      this.logger.warn({ err: toRabbitMqError(err, "reconnect failed") }, "rabbitmq reconnect failed");
      // Credentials or vhost refused: retrying will not help (a restart loop is worse than failing).
      if (code === 403 || code === 530 || /ACCESS.REFUSED|NOT.ALLOWED/i.test(err.message)) {
        this.#fail(toRabbitMqError(err, `reconnecting to ${this.params.display} was refused`));
      }
    });
    model.on("reconnect-scheduled", (info: { attempt: number; delay: number }) => {
      this.logger.debug({ attempt: info.attempt, delayMs: info.delay }, "rabbitmq reconnect scheduled");
    });
    model.on("reconnect-failed", (err: Error) => {
      this.#fail(new RabbitMqError("RABBITMQ_CONNECTION", `gave up reconnecting to ${this.params.display}: ${err.message}`, { cause: err }));
    });
    model.on("error", (err: Error) => {
      if (!this.#closed) this.logger.warn({ err: toRabbitMqError(err, "connection error") }, "rabbitmq connection error");
    });
    model.on("blocked", (reason: string) => this.logger.warn({ reason }, "rabbitmq broker blocked publishing (resource alarm)"));
    model.on("unblocked", () => this.logger.info("rabbitmq broker unblocked publishing"));
    model.on("handler-error", (err: Error, event: string) => this.logger.error({ err, event }, "rabbitmq event handler threw"));
  }

  #fail(err: RabbitMqError): void {
    if (this.#fatal !== undefined || this.#closed) return;
    this.#fatal = err;
    this.logger.error({ err }, "rabbitmq connection lost for good");
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(err);
    void this.#model?.close().catch(() => undefined);
    this.onFatal?.(err);
  }

  /** The connection's error, if it was lost for good. */
  get fatal(): RabbitMqError | undefined {
    return this.#fatal;
  }

  /** The live connection, or undefined while reconnecting. */
  live(): ChannelModel | undefined {
    return this.#live;
  }

  /** The live connection, waiting up to `timeoutMs` for a reconnection. */
  waitLive(timeoutMs: number): Promise<ChannelModel> {
    if (this.#live !== undefined) return Promise.resolve(this.#live);
    if (this.#closed) return Promise.reject(new RabbitMqError("RABBITMQ_CLOSED", "the rabbitmq connection is closed"));
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (m: ChannelModel) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new RabbitMqError("RABBITMQ_TIMEOUT", `no connection to ${this.params.display} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  observe(o: ConnectionObserver): () => void {
    this.#observers.add(o);
    return () => this.#observers.delete(o);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#live = undefined;
    const err = new RabbitMqError("RABBITMQ_CLOSED", "the rabbitmq connection is closed");
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(err);
    await this.#model?.close().catch((e: unknown) => this.logger.debug({ err: toError(e) }, "closing the connection failed"));
  }
}

/** Options of {@link ManagedChannel}. */
export interface ManagedChannelOptions<C extends Channel> {
  readonly name: string;
  readonly confirm: boolean;
  /** Run on every new channel before it is handed out: topology, prefetch, consumers. */
  readonly setup?: (gen: Generation<C>) => Promise<void>;
  /** Attach extra listeners (return, drain) to every new channel. */
  readonly wire?: (gen: Generation<C>) => void;
  /** The broker closed the channel with an error, or reopening it failed. */
  readonly onError?: (error: RabbitMqError) => void;
  /** The channel closed (for any reason). */
  readonly onClosed?: (gen: Generation<C>) => void;
}

/**
 * A channel that reopens itself: after the connection is recovered, or (with backoff) after
 * the broker closed it with an error, running `setup` again each time.
 */
export class ManagedChannel<C extends Channel = Channel> {
  readonly #conn: Connection;
  readonly #o: ManagedChannelOptions<C>;
  #gen: Generation<C> | undefined;
  #opening: Promise<Generation<C>> | undefined;
  #started = false;
  #closed = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #waiters: { resolve: (g: Generation<C>) => void; reject: (e: Error) => void }[] = [];
  readonly #unobserve: () => void;

  constructor(conn: Connection, options: ManagedChannelOptions<C>) {
    this.#conn = conn;
    this.#o = options;
    this.#unobserve = conn.observe({
      connected: () => {
        if (!this.#started || this.#closed || this.#gen !== undefined) return;
        this.#attempt = 0;
        clearTimeout(this.#timer);
        this.#timer = undefined;
        void this.#reopen();
      },
    });
  }

  /** The open generation, if any. */
  get current(): Generation<C> | undefined {
    return this.#gen;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Open the channel the first time; setup errors reject (typed). */
  async start(): Promise<Generation<C>> {
    if (this.#closed) throw new RabbitMqError("RABBITMQ_CLOSED", `channel ${this.#o.name} is closed`);
    const model = await this.#conn.waitLive(this.#conn.params.operationTimeoutMs);
    const opening = this.#open(model);
    this.#opening = opening;
    try {
      const gen = await opening;
      this.#started = true;
      return gen;
    } catch (e) {
      throw toRabbitMqError(e, `opening channel ${this.#o.name}`);
    } finally {
      if (this.#opening === opening) this.#opening = undefined;
    }
  }

  /** The open generation, waiting (up to `timeoutMs`) for the channel to come back. */
  acquire(timeoutMs = this.#conn.params.operationTimeoutMs): Promise<Generation<C>> {
    if (this.#gen !== undefined) return Promise.resolve(this.#gen);
    if (this.#closed) return Promise.reject(new RabbitMqError("RABBITMQ_CLOSED", `channel ${this.#o.name} is closed`));
    if (this.#conn.fatal !== undefined) return Promise.reject(this.#conn.fatal);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (g: Generation<C>) => {
          clearTimeout(timer);
          resolve(g);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new RabbitMqError("RABBITMQ_TIMEOUT", `channel ${this.#o.name} not available within ${timeoutMs} ms (connection to ${this.#conn.params.display} lost)`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Fail everyone waiting for the channel (the connection is lost for good). */
  failWaiters(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
  }

  async #open(model: ChannelModel): Promise<Generation<C>> {
    const channel = (this.#o.confirm ? await model.createConfirmChannel() : await model.createChannel()) as C;
    const gen: Generation<C> = {
      id: ++generationSeq,
      channel,
      model,
      open: true,
      ready: false,
      closeError: undefined,
      unsettled: new Set(),
      blocked: false,
      drainWaiters: [],
      pendingAcks: [],
      flushScheduled: false,
      coalescer: coalescerOf(model),
    };
    channel.on("error", (err: Error) => {
      gen.closeError = err;
    });
    channel.on("close", () => this.#onClose(gen));
    channel.on("drain", () => {
      gen.blocked = false;
      const ws = gen.drainWaiters;
      gen.drainWaiters = [];
      for (const w of ws) w();
    });
    this.#o.wire?.(gen);
    try {
      await this.#o.setup?.(gen);
    } catch (e) {
      gen.open = false;
      await closeQuietly(channel);
      throw gen.closeError !== undefined && replyCodeOf(e) === undefined ? gen.closeError : e;
    }
    if (this.#closed || !gen.open) {
      await closeQuietly(channel);
      throw gen.closeError ?? new RabbitMqError("RABBITMQ_CLOSED", `channel ${this.#o.name} closed while opening`);
    }
    gen.ready = true;
    this.#gen = gen;
    this.#attempt = 0;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(gen);
    return gen;
  }

  #onClose(gen: Generation<C>): void {
    gen.open = false;
    const ws = gen.drainWaiters;
    gen.drainWaiters = [];
    for (const w of ws) w();
    if (!gen.ready) return; // the opener reports it
    if (this.#gen === gen) this.#gen = undefined;
    try {
      this.#o.onClosed?.(gen);
    } catch (e) {
      this.#conn.logger.error({ err: toError(e) }, "channel close handler threw");
    }
    if (this.#closed) return;
    if (gen.closeError !== undefined) {
      const err = toRabbitMqError(gen.closeError, `channel ${this.#o.name} closed by the broker`);
      this.#conn.logger.warn({ err, channel: this.#o.name }, "rabbitmq channel closed by the broker; reopening");
      this.#o.onError?.(err);
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#opening !== undefined || this.#gen !== undefined) return;
    const delay = backoffDelay(this.#conn.params.reconnect, ++this.#attempt);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#reopen();
    }, delay);
  }

  async #reopen(): Promise<void> {
    if (this.#closed || this.#gen !== undefined || this.#opening !== undefined) return;
    const model = this.#conn.live();
    if (model === undefined) return; // the connection's recovery will call us back
    const opening = this.#open(model);
    this.#opening = opening;
    try {
      await opening;
      this.#opening = undefined;
    } catch (e) {
      this.#opening = undefined;
      if (this.#closed) return;
      const err = toRabbitMqError(e, `reopening channel ${this.#o.name}`);
      this.#conn.logger.warn({ err, channel: this.#o.name, attempt: this.#attempt }, "rabbitmq channel reopen failed; retrying");
      // Only broker refusals are worth telling the service about; a connection that is
      // still recovering is not news.
      if (replyCodeOf(e) !== undefined) this.#o.onError?.(err);
      this.#schedule();
    }
  }

  /** Close the current channel to have it reopened (with setup) after the backoff delay. */
  recycle(): void {
    const gen = this.#gen;
    if (gen === undefined) return;
    void closeQuietly(gen.channel);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unobserve();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.failWaiters(new RabbitMqError("RABBITMQ_CLOSED", `channel ${this.#o.name} is closed`));
    const gen = this.#gen;
    this.#gen = undefined;
    if (gen !== undefined && gen.open) await closeQuietly(gen.channel);
  }
}

/** Close a channel, ignoring "already closed". */
export async function closeQuietly(channel: Channel | ConfirmChannel): Promise<void> {
  try {
    await channel.close();
  } catch {
    // already closed or the connection is gone
  }
}

/** Wait until a blocked channel drains (or closes). */
export function waitDrain(gen: Generation): Promise<void> {
  if (!gen.blocked || !gen.open) return Promise.resolve();
  return new Promise((resolve) => gen.drainWaiters.push(resolve));
}
