/**
 * The Listener contract and the base class protocol listeners extend.
 *
 * @module
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { PirouetteError, toError } from "../errors.ts";
import { getPayloadSchema, getServiceConfig } from "./decorators.ts";
import { Dispatcher, type DispatcherOptions } from "./dispatcher.ts";
import { childLogger, type Logger } from "./logger.ts";
import { validateService, type ServiceSpec } from "./service-spec.ts";

/**
 * Ballerina's listener: owns a protocol's connections, subscriptions, acknowledgement,
 * retries and shutdown, and calls the attached services' methods by name.
 *
 * @example
 * ```ts
 * const listener: Listener<OrderService> = new memory.Listener({ groupId: "billing" });
 * await listener.attach(new OrderService(), "orders");
 * await listener.start();
 * // …
 * await listener.gracefulStop();
 * ```
 */
export interface Listener<S extends object = object> extends AsyncDisposable {
  /** Attach a service (validated now); on a started listener it starts receiving at once. */
  attach(service: S, options?: string | readonly string[] | AttachOptions): Promise<void>;
  /** Stop delivering to `service`. */
  detach(service: S): Promise<void>;
  start(): Promise<void>;
  /** Stop intake, let in-flight handlers finish (bounded), settle them, then close. */
  gracefulStop(): Promise<void>;
  /** Abort handlers through their `AbortSignal` and close now. */
  immediateStop(): Promise<void>;
}

/**
 * The decorator-free way to configure an attached service: the attach point (`name`), payload
 * schemas, and any of the protocol's `ServiceConfig` fields.
 *
 * @example
 * ```ts
 * await listener.attach(
 *   { onMessage: (order: Order) => save(order) },
 *   { name: "orders", payload: Order },
 * );
 * ```
 */
export interface AttachOptions {
  readonly name?: string | readonly string[];
  /** One schema for the protocol's main method, or one per method name. */
  readonly payload?: StandardSchemaV1 | Readonly<Record<string, StandardSchemaV1>>;
  readonly [config: string]: unknown;
}

/** Options every listener accepts. */
export interface ListenerOptions {
  /** A pino-compatible logger. Silent by default. */
  readonly logger?: Logger;
  /** How long `gracefulStop` waits for in-flight handlers before aborting them. Default 30 000 ms. */
  readonly gracefulStopTimeoutMs?: number;
}

/** One attached service, with its merged configuration. */
export interface Attachment<S extends object, C extends object> {
  readonly service: S;
  readonly name: string | readonly string[] | undefined;
  /** `ServiceConfig` decorator values overlaid with the attach options. */
  readonly config: Readonly<C>;
  /** The schema for a method: from `attach({ payload })` or `@payload`. */
  payloadSchema(method: string): StandardSchemaV1 | undefined;
  /** Whether the service has this method. */
  has(method: string): boolean;
}

type LifecycleState = "new" | "starting" | "started" | "stopping" | "stopped";

/**
 * How a listener is being stopped, as {@link AbstractListener}'s `stopIntake` hears it:
 * `"graceful"` (`gracefulStop`: let in-flight work finish, within `gracefulStopTimeoutMs`) or
 * `"immediate"` (`immediateStop`: abort in-flight work now). An `immediateStop` that interrupts
 * a `gracefulStop` calls `stopIntake("immediate")` while the graceful one is still running.
 *
 * @example
 * ```ts
 * protected async stopIntake(mode: StopMode) {
 *   if (mode === "immediate") this.#server.forceShutdown();
 *   else await this.#drainCalls(this.gracefulStopTimeoutMs);
 * }
 * ```
 */
export type StopMode = "graceful" | "immediate";

/**
 * The base every protocol listener extends: service validation and registry, the lifecycle
 * state machine, dispatcher tracking for graceful and immediate stops, and `onError` routing.
 * Subclasses implement the protocol-specific hooks.
 *
 * @example
 * ```ts
 * class TickListener extends AbstractListener<TickService, {}> {
 *   protected readonly spec = { protocol: "tick", methods: { onTick: { mandatory: true } } };
 *   protected async onStart() { this.#timer = setInterval(() => this.#tick(), 1000); }
 *   protected async stopIntake(_mode: StopMode) { clearInterval(this.#timer); }
 *   protected async onClose() {}
 * }
 * ```
 */
export abstract class AbstractListener<S extends object, C extends object> implements Listener<S> {
  protected abstract readonly spec: ServiceSpec;
  protected readonly logger: Logger;
  protected readonly gracefulStopTimeoutMs: number;
  readonly #attachments = new Map<S, Attachment<S, C>>();
  readonly #dispatchers = new Set<Dispatcher<never>>();
  #state: LifecycleState = "new";
  readonly #attachErrors: unknown[] = [];
  #closed: Promise<void> | undefined;

  constructor(options: ListenerOptions & { readonly protocol: string }) {
    this.logger = childLogger(options.logger, { listener: options.protocol });
    this.gracefulStopTimeoutMs = options.gracefulStopTimeoutMs ?? 30_000;
  }

  /** The lifecycle state: new, starting, started, stopping, stopped. */
  get state(): LifecycleState {
    return this.#state;
  }

  attach(service: S, options?: string | readonly string[] | AttachOptions): Promise<void> {
    try {
      const att = this.#makeAttachment(service, options);
      this.#attachments.set(service, att);
      if (this.#state === "started") {
        return this.onAttach(att).catch((e: unknown) => {
          this.#attachments.delete(service);
          throw e;
        });
      }
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #makeAttachment(service: S, options: string | readonly string[] | AttachOptions | undefined): Attachment<S, C> {
    if (this.#state === "stopping" || this.#state === "stopped") {
      throw new PirouetteError("STATE", `cannot attach to a ${this.#state} listener`);
    }
    validateService(service, this.spec);
    if (this.#attachments.has(service)) throw new PirouetteError("STATE", "this service is already attached");
    const opts: AttachOptions = typeof options === "string" || isStringArray(options) ? { name: options } : (options ?? {});
    const { name, payload, ...rest } = opts;
    const decorated = getServiceConfig<C>(service) ?? ({} as C);
    const config = { ...decorated, ...rest } as C;
    const methodSchemas = new Map<string, StandardSchemaV1>();
    if (payload !== undefined) {
      if (isSchema(payload)) methodSchemas.set("*", payload);
      else for (const [k, v] of Object.entries(payload)) methodSchemas.set(k, v);
    }
    const validated = this.validateConfig(config, name);
    return {
      service,
      name,
      config: validated,
      payloadSchema: (method) => methodSchemas.get(method) ?? getPayloadSchema(service, method) ?? methodSchemas.get("*"),
      has: (method) => typeof (service as Record<string, unknown>)[method] === "function",
    };
  }

  /** Check (and complete) a service's configuration; throw a coded error if it is invalid. */
  protected validateConfig(config: C, _name: string | readonly string[] | undefined): C {
    return config;
  }

  async detach(service: S): Promise<void> {
    const att = this.#attachments.get(service);
    if (att === undefined) return;
    this.#attachments.delete(service);
    if (this.#state === "started") await this.onDetach(att);
  }

  /** An attach made by `@service` failed: `start()` fails with it (logged if already started). */
  reportAttachError(error: unknown): void {
    if (this.#state === "new") this.#attachErrors.push(error);
    else this.logger.error({ err: toError(error) }, "attaching a @service failed");
  }

  async start(): Promise<void> {
    // Let rejections of decorator attaches made in this same tick arrive first.
    await Promise.resolve();
    if (this.#attachErrors.length > 0) {
      const errors = this.#attachErrors.splice(0);
      throw errors.length === 1 ? errors[0] : new AggregateError(errors, "several @service attaches failed");
    }
    if (this.#state !== "new") throw new PirouetteError("STATE", `cannot start a ${this.#state} listener`);
    this.#state = "starting";
    try {
      await this.onStart([...this.#attachments.values()]);
      this.#state = "started";
    } catch (e) {
      this.#state = "stopped";
      await this.#close().catch((closeError: unknown) => this.logger.warn({ err: toError(closeError) }, "close after failed start"));
      throw e;
    }
  }

  async gracefulStop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "stopping") return;
    const wasStarted = this.#state === "started";
    this.#state = "stopping";
    try {
      if (wasStarted) {
        await this.stopIntake("graceful");
        const results = await Promise.all([...this.#dispatchers].map((d) => d.drain(this.gracefulStopTimeoutMs)));
        if (results.includes(false)) {
          this.logger.warn({ timeoutMs: this.gracefulStopTimeoutMs }, "graceful stop timed out; aborting handlers");
          for (const d of this.#dispatchers) d.abortAll(new PirouetteError("TIMEOUT", "graceful stop timed out"));
        }
      }
    } finally {
      this.#state = "stopped";
      await this.#close();
    }
  }

  async immediateStop(): Promise<void> {
    if (this.#state === "stopped") return;
    const wasStarted = this.#state === "started" || this.#state === "stopping";
    this.#state = "stopping";
    try {
      for (const d of this.#dispatchers) d.abortAll();
      if (wasStarted) await this.stopIntake("immediate");
    } finally {
      this.#state = "stopped";
      await this.#close();
    }
  }

  /** `onClose` runs once, even when immediateStop interrupts a gracefulStop. */
  #close(): Promise<void> {
    return (this.#closed ??= this.onClose());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.gracefulStop();
  }

  /** The services attached now. */
  protected attachments(): Attachment<S, C>[] {
    return [...this.#attachments.values()];
  }

  /** A dispatcher whose in-flight work gracefulStop drains and immediateStop aborts. */
  protected createDispatcher<M>(options: Omit<DispatcherOptions<M>, "logger"> & { readonly logger?: Logger }): Dispatcher<M> {
    const d = new Dispatcher<M>({ logger: this.logger, ...options });
    this.#dispatchers.add(d as Dispatcher<never>);
    return d;
  }

  /** Forget a dispatcher (after it has drained). */
  protected releaseDispatcher(d: Dispatcher<unknown>): void {
    this.#dispatchers.delete(d as Dispatcher<never>);
  }

  /**
   * Call the service's `onError(...args)` if it has one, else log. Never throws.
   */
  protected async notifyError(att: Attachment<S, C>, error: Error, ...extra: unknown[]): Promise<void> {
    const fn = (att.service as Record<string, unknown>)["onError"];
    if (typeof fn !== "function") {
      this.logger.error({ err: error, coordinates: (error as { coordinates?: unknown }).coordinates }, "unhandled service error");
      return;
    }
    try {
      await (fn as (...a: unknown[]) => unknown).call(att.service, error, ...extra);
    } catch (e) {
      this.logger.error({ err: toError(e), original: error }, "onError threw");
    }
  }

  /** Start receiving for the services attached before `start()`. */
  protected abstract onStart(attachments: Attachment<S, C>[]): Promise<void>;
  /** Start receiving for a service attached after `start()`. Default: nothing. */
  protected onAttach(_attachment: Attachment<S, C>): Promise<void> {
    return Promise.resolve();
  }
  /** Stop receiving for a detached service. Default: nothing. */
  protected onDetach(_attachment: Attachment<S, C>): Promise<void> {
    return Promise.resolve();
  }
  /**
   * Stop taking new messages (unsubscribe, pause, stop accepting connections). `mode` tells
   * whether the stop is graceful or immediate, for listeners that run work outside a
   * {@link Dispatcher} (which the base class drains or aborts itself): a graceful stop lets that
   * work finish within `gracefulStopTimeoutMs` before resolving, an immediate one aborts it.
   * Implementations may ignore it (`stopIntake()`).
   */
  protected abstract stopIntake(mode: StopMode): Promise<void>;
  /** Settle what finished (commit, ack) and release connections. Called once. */
  protected abstract onClose(): Promise<void>;
}

function isStringArray(x: unknown): x is readonly string[] {
  return Array.isArray(x) && x.every((v) => typeof v === "string");
}

function isSchema(x: unknown): x is StandardSchemaV1 {
  return typeof x === "object" && x !== null && "~standard" in x;
}
