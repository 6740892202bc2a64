/**
 * `mqtt.Listener`: Ballerina's `mqtt:Listener` on mqtt.js, with at-least-once delivery (the
 * PUBACK waits for the handler), retries, dead-lettering and reconnection.
 *
 * @module
 */
import type { IPublishPacket } from "mqtt";
import {
  AbstractListener,
  bind,
  createServiceConfigDecorator,
  deadLetterHeaders,
  injectTraceContext,
  isStandardSchema,
  json,
  toError,
  type AckOutcome,
  type Attachment,
  type Codec,
  type DeadLetterTarget,
  type Delivery,
  type Dispatcher,
  type HandlerContext,
  type HeaderValue,
  type ServiceSpec,
} from "@pirouette/core";
import { Caller, type CallerContext } from "./caller.ts";
import { MqttError, type MqttErrorCode } from "./errors.ts";
import { Connection, resolveConnectionParams, type AckEntry, type ConnectionParams } from "./internal/connection.ts";
import { encodePayload, toMessage, toPacketProperties, traceHeaders } from "./internal/encode.ts";
import { checkTopicName, normalizeSubscriptions, topicMatches, type ResolvedSubscription } from "./internal/topic.ts";
import type {
  DeliveryToken,
  Message,
  MqttListenerOptions,
  MqttServiceConfig,
  PublishMessage,
  Subscriptions,
} from "./options.ts";

/**
 * The service shape:
 *
 * - `onMessage(payload | message, caller, context)` (mandatory): handle a message; a thrown
 *   error means the handling failed (retried, then dead-lettered or skipped). A returned value
 *   is published to the request's MQTT 5 response topic, unless `caller.respond` was used.
 * - `onError(error, message?)`: binding failures, handler failures after retries, and
 *   connection errors (`message` undefined).
 * - `onComplete(token)`: a response (from `caller.respond` or a returned value) reached the broker.
 *
 * @example
 * ```ts
 * const svc: mqtt.Service = {
 *   onMessage: (reading: Reading) => store(reading),
 *   onError: (err, msg) => log.warn({ topic: msg?.topic, err }),
 * };
 * ```
 */
export interface Service {
  onMessage(payload: never, caller: Caller, context: HandlerContext): unknown;
  onError?(error: Error, message: Message<unknown> | undefined): unknown;
  onComplete?(token: DeliveryToken): unknown;
}

const spec: ServiceSpec = {
  protocol: "mqtt",
  methods: { onMessage: { mandatory: true }, onError: {}, onComplete: {} },
  error: (code, message) => new MqttError(code as MqttErrorCode, message),
};

/**
 * `@mqtt.ServiceConfig({ subscriptions, mode })`: per-service configuration. Every field can
 * also be passed to `listener.attach(service, { … })`.
 *
 * @example
 * ```ts
 * @mqtt.ServiceConfig({ subscriptions: [{ topic: "sensors/+/temperature", qos: 1 }] })
 * class Temperatures {
 *   @payload(Reading)
 *   onMessage(r: Reading) { save(r); }
 * }
 * ```
 */
export const ServiceConfig = createServiceConfigDecorator<MqttServiceConfig>();

interface ResolvedConfig extends MqttServiceConfig {
  readonly filters: readonly ResolvedSubscription[] | undefined;
}

/** One message as shared by the services it was routed to. */
class Shared {
  readonly entry: AckEntry | undefined;
  remaining: number;
  rejected = false;
  reasonCode = 0;
  constructor(entry: AckEntry | undefined, remaining: number) {
    this.entry = entry;
    this.remaining = remaining;
  }
}

/** What a delivery needs from its listener (one per service, not per message). */
interface RouteOps {
  readonly manualAcks: boolean;
  /** Settle the message on the wire (PUBACK, or withhold it). */
  finish(shared: Shared, ok: boolean): boolean;
  respond(message: Message, response: PublishMessage): Promise<DeliveryToken>;
  warnNotCompleted(coordinates: Readonly<Record<string, unknown>>): void;
}

/**
 * A message delivered to one service: the dispatcher's {@link Delivery} and the context of its
 * {@link Caller}. A class (no closures per message): this is the hot path.
 */
class Inbound implements Delivery<Message>, CallerContext {
  readonly message: Message;
  readonly key: string | undefined;
  readonly destination: string;
  readonly coordinates: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, HeaderValue>> | undefined;
  readonly shared: Shared;
  readonly ops: RouteOps;
  readonly caller: Caller;
  settled = false;
  /** Acked after a failure (skipped or dead-lettered), not after a success. */
  failed = false;

  constructor(message: Message, key: string | undefined, shared: Shared, ops: RouteOps) {
    this.message = message;
    this.key = key;
    this.destination = message.topic;
    this.coordinates = {
      topic: message.topic,
      messageId: message.messageId,
      qos: message.qos,
      retained: message.retained,
      duplicate: message.duplicate,
    };
    this.headers = traceHeaders(message);
    this.shared = shared;
    this.ops = ops;
    this.caller = new Caller(this);
  }

  get manualAcks(): boolean {
    return this.ops.manualAcks;
  }

  complete(): boolean {
    return this.ops.finish(this.shared, true);
  }

  respond(response: PublishMessage): Promise<DeliveryToken> {
    return this.ops.respond(this.message, response);
  }

  ack(result: unknown, outcome: AckOutcome): unknown {
    if (outcome.kind !== "succeeded") {
      // Skipped or dead-lettered: acknowledged, with the failure's reason code (MQTT 5).
      this.failed = true;
      this.shared.reasonCode = isBindingFailure(outcome.error) ? REASON_PAYLOAD_FORMAT : REASON_UNSPECIFIED;
    } else if (result !== undefined && this.caller.canAutoRespond) {
      return this.caller.respond({ payload: result }).then(
        () => this.#settleSuccess(),
        (e: unknown) => {
          this.#settleSuccess();
          throw e;
        },
      );
    }
    this.#settleSuccess();
    return undefined;
  }

  reject(): void {
    if (this.settled) return;
    this.settled = true;
    this.shared.rejected = true;
    this.#serviceDone();
  }

  #settleSuccess(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.ops.manualAcks && !this.failed) {
      // The handler acknowledges with caller.complete(); one that did not leaves the message
      // for redelivery when the session resumes.
      if (!this.caller.isCompleted && this.message.qos === 1) this.ops.warnNotCompleted(this.coordinates);
      return;
    }
    this.#serviceDone();
  }

  /** One service finished with the message; the last one settles it on the wire. */
  #serviceDone(): void {
    const shared = this.shared;
    if (--shared.remaining > 0) return;
    this.ops.finish(shared, !shared.rejected);
  }
}

interface Route {
  readonly att: Attachment<object, ResolvedConfig>;
  readonly filters: readonly ResolvedSubscription[] | undefined;
  readonly dispatcher: Dispatcher<Message>;
  readonly ops: RouteOps;
  readonly orderBy: false | "topic" | ((message: Message) => string | undefined);
}

const REASON_UNSPECIFIED = 0x80;
const REASON_PAYLOAD_FORMAT = 0x99;

function isDeadLetterTarget(x: unknown): x is DeadLetterTarget<Message> {
  return typeof x === "object" && x !== null && typeof (x as { send?: unknown }).send === "function";
}

/**
 * Ballerina's `mqtt:Listener`: `new mqtt.Listener(serverUri, clientId, subscriptions, options?)`.
 * One MQTT connection receives for every attached service; each service gets the messages of
 * its own `subscriptions` (ServiceConfig), or all of the listener's.
 *
 * - **At least once**: the PUBACK of a QoS 1 message is sent after the handler succeeded (or
 *   after the message was dead-lettered or skipped), in arrival order. A message whose handler
 *   did not finish is redelivered when the session resumes: use `cleanStart: false`, a fixed
 *   clientId and QoS 1 (the listener warns when a persistent session cannot work).
 * - **Concurrency**: `concurrency` handlers at once, in order per topic; at most `maxInFlight`
 *   unacknowledged messages (also the MQTT 5 Receive Maximum), then reading pauses.
 * - **Failures**: retried in-process per `retry`, then published to the `deadLetter` topic (or
 *   given to `onError` and acknowledged).
 * - **Recovery**: a lost connection is re-established with capped exponential backoff and
 *   jitter; subscriptions are restored when the session was lost; another client taking the
 *   session over again and again ends in `MQTT_CLIENT_ID_CONFLICT` instead of flapping.
 *
 * @example
 * ```ts
 * const listener = new mqtt.Listener("mqtt://localhost:1883", "billing-1", { topic: "orders/#", qos: 1 }, { cleanStart: false });
 * await listener.attach({ onMessage: (order: Order) => bill(order) }, { payload: Order });
 * await listener.start();
 * // …
 * await listener.gracefulStop();
 * ```
 */
export class MqttListener extends AbstractListener<object, ResolvedConfig> {
  protected readonly spec = spec;
  readonly #o: MqttListenerOptions;
  readonly #params: ConnectionParams;
  readonly #subscriptions: readonly ResolvedSubscription[];
  readonly #codec: Codec<unknown>;
  readonly #manualAcks: boolean;
  readonly #concurrency: number;
  readonly #maxInFlight: number;
  readonly #routes = new Map<object, Route>();
  #conn: Connection | undefined;
  #out: Connection | undefined;
  #stopping = false;

  constructor(serverUri: string | undefined, clientId: string | undefined, subscriptions: Subscriptions, options: MqttListenerOptions = {}) {
    super({ ...options, protocol: "mqtt" });
    this.#o = options;
    this.#codec = options.codec ?? json();
    this.#manualAcks = options.manualAcks ?? false;
    this.#concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) throw new MqttError("MQTT_INVALID_CONFIG", "concurrency must be an integer >= 1");
    this.#maxInFlight = options.maxInFlight ?? Math.max(16, 2 * this.#concurrency);
    if (!Number.isInteger(this.#maxInFlight) || this.#maxInFlight < this.#concurrency || this.#maxInFlight > 65535) {
      throw new MqttError("MQTT_INVALID_CONFIG", "maxInFlight must be an integer in concurrency … 65535");
    }
    this.#params = resolveConnectionParams(serverUri, clientId, options, this.#codec, { receiveMaximum: this.#maxInFlight });
    this.#subscriptions = this.#normalize(subscriptions, "subscriptions");
    const dl = options.deadLetter;
    if (dl !== undefined && dl !== false && !isDeadLetterTarget(dl)) {
      const t = dl.topic;
      if (typeof t === "string") checkTopicName(t);
      else if (typeof t !== "function") throw new MqttError("MQTT_INVALID_CONFIG", "deadLetter.topic must be a topic name or a function");
    }
    if (options.orderBy !== undefined && options.orderBy !== false && options.orderBy !== "topic" && typeof options.orderBy !== "function") {
      throw new MqttError("MQTT_INVALID_CONFIG", 'orderBy must be "topic", false or a function');
    }
  }

  /** The client identifier (generated when none was given). */
  get clientId(): string {
    return this.#params.clientId;
  }

  /** Whether the listener's connection is up. */
  get isConnected(): boolean {
    return this.#conn?.connected ?? false;
  }

  /** Reconnections so far. */
  get reconnects(): number {
    return this.#conn?.reconnects ?? 0;
  }

  #normalize(subs: Subscriptions | undefined, what: string): ResolvedSubscription[] {
    const list = normalizeSubscriptions(subs, what);
    // A resumed session keeps its subscriptions: subscribing again must not replay retained messages.
    if (!this.#params.cleanStart && this.#params.protocolVersion === 5) {
      const raw = subs === undefined ? [] : typeof subs === "string" || !Array.isArray(subs) ? [subs] : (subs as readonly unknown[]);
      return list.map((s, i) => {
        const r = raw[i];
        const explicit = typeof r === "object" && r !== null && (r as { retainHandling?: unknown }).retainHandling !== undefined;
        return explicit ? s : { ...s, retainHandling: 1 };
      });
    }
    return list;
  }

  protected override validateConfig(config: ResolvedConfig): ResolvedConfig {
    if (config.mode !== undefined && config.mode !== "payload" && config.mode !== "message") {
      throw new MqttError("MQTT_INVALID_CONFIG", 'mode must be "payload" or "message"');
    }
    const filters = config.subscriptions === undefined ? undefined : this.#normalize(config.subscriptions, "ServiceConfig.subscriptions");
    if (filters === undefined && this.#subscriptions.length === 0) {
      throw new MqttError(
        "MQTT_INVALID_CONFIG",
        "the listener has no subscriptions and the service declares none: pass subscriptions to the Listener or ServiceConfig({ subscriptions })",
      );
    }
    return { ...config, filters };
  }

  protected async onStart(attachments: Attachment<object, ResolvedConfig>[]): Promise<void> {
    this.#warnUnsafeSession(attachments);
    const conn = new Connection(this.#params, this.logger, {
      onPublish: (packet) => this.#onPublish(packet),
      onError: (err) => this.#broadcastError(err),
      onFatal: (err) => {
        this.#stopping = true;
        this.#broadcastError(err);
      },
    }, { holdAcks: true });
    this.#conn = conn;
    for (const att of attachments) this.#addRoute(att);
    await conn.open();
    await conn.subscribe(this.#allSubscriptions());
  }

  protected override async onAttach(att: Attachment<object, ResolvedConfig>): Promise<void> {
    const conn = this.#conn;
    if (conn === undefined) throw new MqttError("MQTT_CLOSED", "the listener is not connected");
    const route = this.#addRoute(att);
    if (route.filters !== undefined) {
      try {
        await conn.subscribe(route.filters);
      } catch (e) {
        this.#routes.delete(att.service);
        this.releaseDispatcher(route.dispatcher);
        throw e;
      }
    }
  }

  protected override async onDetach(att: Attachment<object, ResolvedConfig>): Promise<void> {
    const route = this.#routes.get(att.service);
    if (route === undefined) return;
    this.#routes.delete(att.service);
    if (route.filters !== undefined && this.#conn !== undefined) {
      const still = new Set(this.#allSubscriptions().map((s) => s.topic));
      await this.#conn.unsubscribe(route.filters.map((f) => f.topic).filter((t) => !still.has(t)));
    }
    const drained = await route.dispatcher.drain(this.gracefulStopTimeoutMs);
    if (!drained) route.dispatcher.abortAll();
    this.releaseDispatcher(route.dispatcher);
  }

  protected stopIntake(): Promise<void> {
    // Subscriptions stay: a persistent session keeps queueing for the next start.
    this.#stopping = true;
    return Promise.resolve();
  }

  protected async onClose(): Promise<void> {
    this.#stopping = true;
    await Promise.all([this.#conn?.close(), this.#out?.close()]);
    for (const r of this.#routes.values()) this.releaseDispatcher(r.dispatcher);
    this.#routes.clear();
  }

  #allSubscriptions(): ResolvedSubscription[] {
    const all = new Map<string, ResolvedSubscription>();
    for (const s of this.#subscriptions) all.set(s.topic, s);
    for (const r of this.#routes.values()) {
      for (const s of r.filters ?? []) {
        const prev = all.get(s.topic);
        if (prev === undefined || prev.qos < s.qos) all.set(s.topic, s);
      }
    }
    return [...all.values()];
  }

  #warnUnsafeSession(attachments: Attachment<object, ResolvedConfig>[]): void {
    const p = this.#params;
    if (p.cleanStart) return;
    if (p.clientIdGenerated) {
      this.logger.warn(
        { clientId: p.clientId },
        "cleanStart: false with a generated clientId: the session can never be resumed (messages queued for it are lost); pass a fixed clientId",
      );
    }
    const subs = [...this.#subscriptions, ...attachments.flatMap((a) => a.config.filters ?? [])];
    const qos0 = subs.filter((s) => s.qos === 0).map((s) => s.topic);
    if (qos0.length > 0) {
      this.logger.warn({ topics: qos0 }, "cleanStart: false with QoS 0 subscriptions: the broker does not queue QoS 0 messages while the listener is offline");
    }
    if (p.protocolVersion === 5 && p.sessionExpiryInterval === 0) {
      this.logger.warn({}, "cleanStart: false with sessionExpiryInterval 0: the MQTT 5 session ends at disconnect");
    }
  }

  // ---------------------------------------------------------------- dispatch

  #addRoute(att: Attachment<object, ResolvedConfig>): Route {
    const o = this.#o;
    const schema = att.payloadSchema("onMessage");
    if (schema !== undefined && !isStandardSchema(schema)) throw new MqttError("MQTT_INVALID_CONFIG", "the payload schema is not a Standard Schema");
    const payloadMode = att.config.mode === undefined ? schema !== undefined : att.config.mode === "payload";
    const service = att.service as Service;
    const codec = this.#codec;
    const invoke = (delivery: Delivery<Message>, ctx: HandlerContext): unknown => {
      const d = delivery as Inbound;
      if (!payloadMode && schema === undefined) return service.onMessage(d.message as never, d.caller, ctx);
      return bind(d.message.payload, { codec, ...(schema === undefined ? {} : { schema }), coordinates: d.coordinates }).then((value) =>
        service.onMessage((payloadMode ? value : { ...d.message, payload: value }) as never, d.caller, ctx),
      );
    };
    const deadLetter = this.#deadLetterTarget();
    const dispatcher = this.createDispatcher<Message>({
      concurrency: this.#concurrency,
      maxInFlight: this.#maxInFlight,
      ...(o.retry === undefined ? {} : { retry: o.retry }),
      deadLetter,
      ...(o.onHandlerFailure === undefined ? {} : { onHandlerFailure: o.onHandlerFailure }),
      ...(o.onBindingFailure === undefined ? {} : { onBindingFailure: o.onBindingFailure }),
      telemetry: { system: "mqtt", consumerGroup: this.#params.clientId },
      invoke,
      reportError: (error, d) => this.notifyError(att, error, d.message),
      onStop: (error) => {
        this.logger.error({ err: error }, "mqtt service stopped after a failure (onHandlerFailure: stop)");
        route.dispatcher.close();
      },
    });
    const ops: RouteOps = {
      manualAcks: this.#manualAcks,
      finish: (shared, ok) => this.#finish(shared, ok),
      respond: (message, response) => this.#respond(route, message, response),
      warnNotCompleted: (coordinates) =>
        this.logger.warn(
          { coordinates },
          "manualAcks: the handler finished without caller.complete(); the message and those behind it stay unacknowledged until the session resumes",
        ),
    };
    // With one handler at a time the order is total already: no ordering keys to keep.
    const orderBy = o.orderBy ?? (this.#concurrency === 1 ? false : "topic");
    const route: Route = { att, filters: att.config.filters, dispatcher, ops, orderBy };
    this.#routes.set(att.service, route);
    return route;
  }

  #onPublish(packet: IPublishPacket): Promise<unknown> | undefined {
    const conn = this.#conn as Connection;
    const entry = conn.track(packet);
    if (this.#stopping) {
      // Not handled: no PUBACK, so the broker redelivers it to the next session.
      if (entry !== undefined) conn.settle(entry, false);
      return undefined;
    }
    const message = toMessage(packet);
    let routes: Route[] | undefined;
    for (const r of this.#routes.values()) {
      if (r.filters === undefined || r.filters.some((f) => topicMatches(f.topic, message.topic))) (routes ??= []).push(r);
    }
    if (routes === undefined) {
      this.logger.warn({ topic: message.topic }, "no service handles this topic; message acknowledged and dropped");
      if (entry !== undefined) conn.settle(entry, true);
      return undefined;
    }
    const shared = new Shared(entry, routes.length);
    let waits: Promise<void>[] | undefined;
    for (const r of routes) {
      const key = r.orderBy === false ? undefined : r.orderBy === "topic" ? message.topic : r.orderBy(message);
      void r.dispatcher.submit(new Inbound(message, key, shared, r.ops));
      if (r.dispatcher.saturated) (waits ??= []).push(r.dispatcher.whenReady());
    }
    return waits === undefined ? undefined : waits.length === 1 ? waits[0] : Promise.all(waits);
  }

  #finish(shared: Shared, ok: boolean): boolean {
    const entry = shared.entry;
    if (entry === undefined || this.#conn === undefined) return true;
    if (!this.#conn.isOpen(entry)) return false;
    const settled = this.#conn.settle(entry, ok, ok ? shared.reasonCode : 0);
    if (!settled) this.logger.debug({ messageId: entry.messageId }, "stale acknowledgement dropped (connection lost; the broker redelivers)");
    return settled;
  }

  // ---------------------------------------------------------------- publishing (responses, dead letters)

  /** A second connection for responses and dead letters: the receiving one may be paused. */
  #publisher(): Connection {
    if (this.#out === undefined) {
      const p = this.#params;
      this.#out = new Connection(
        { ...p, clientId: `${p.clientId}-out`, cleanStart: true, sessionExpiryInterval: 0, will: undefined, receiveMaximum: undefined },
        this.logger,
        { onPublish: () => undefined },
      );
      this.#out.open().catch((e: unknown) => this.logger.warn({ err: toError(e) }, "the mqtt publishing connection failed"));
    }
    return this.#out;
  }

  async #publish(topic: string, message: PublishMessage, extraProps?: Record<string, string>): Promise<DeliveryToken> {
    const out = this.#publisher();
    await out.ready();
    const qos = message.qos ?? 1;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttError("MQTT_INVALID_CONFIG", "qos must be 0, 1 or 2");
    const { bytes } = encodePayload(message.payload, this.#codec);
    const trace = injectTraceContext(extraProps === undefined ? {} : { ...extraProps });
    const props = out.v5 ? toPacketProperties(message.properties, undefined, trace) : undefined;
    return out.publish(checkTopicName(topic), bytes, qos, message.retained ?? false, props);
  }

  async #respond(route: Route, request: Message, response: PublishMessage): Promise<DeliveryToken> {
    const topic = request.properties?.responseTopic;
    if (topic === undefined) {
      throw new MqttError("MQTT_NO_RESPONSE_TOPIC", `the message on "${request.topic}" has no response topic (an MQTT 5 request property)`, {
        coordinates: { topic: request.topic, messageId: request.messageId },
      });
    }
    const correlationData = request.properties?.correlationData;
    const token = await this.#publish(topic, {
      ...response,
      properties: { ...response.properties, ...(correlationData === undefined ? {} : { correlationData }) },
    });
    const service = route.att.service as Service;
    if (typeof service.onComplete === "function") {
      try {
        await service.onComplete(token);
      } catch (e) {
        this.logger.error({ err: toError(e) }, "onComplete threw");
      }
    }
    return token;
  }

  #deadLetterTarget(): DeadLetterTarget<Message> | undefined {
    const dl = this.#o.deadLetter;
    if (dl === undefined || dl === false) return undefined;
    if (isDeadLetterTarget(dl)) return dl;
    const o = dl;
    return {
      send: async (rec) => {
        const m = rec.message;
        const topic = typeof o.topic === "string" ? o.topic : o.topic(m);
        const up = m.properties?.userProperties;
        const headers: Record<string, string> = {};
        if (up !== undefined) for (const [k, v] of Object.entries(up)) headers[k] = typeof v === "string" ? v : v.join(",");
        Object.assign(headers, deadLetterHeaders(rec));
        if (this.#conn?.v5 === false) this.logger.debug({ topic }, "MQTT 3.1.1: the dead letter carries no error headers");
        await this.#publish(
          topic,
          { payload: m.payload, qos: o.qos ?? 1, properties: { ...(m.properties?.contentType === undefined ? {} : { contentType: m.properties.contentType }) } },
          headers,
        );
      },
    };
  }

  #broadcastError(err: MqttError): void {
    for (const r of this.#routes.values()) void this.notifyError(r.att, err, undefined);
  }
}

function isBindingFailure(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "PAYLOAD_BINDING" || code === "PAYLOAD_VALIDATION";
}

