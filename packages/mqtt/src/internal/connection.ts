/**
 * One mqtt.js connection with what mqtt.js leaves out: reconnection with capped exponential
 * backoff and jitter, subscriptions restored after a reconnect that lost the session,
 * detection of a second client using the same clientId, a client-side packet-size check, and
 * (for listeners) PUBACKs held back until the handler settled, released in receive order.
 *
 * @internal
 * @module
 */
import { randomBytes } from "node:crypto";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { connect, type IClientOptions, type IConnackPacket, type IDisconnectPacket, type IPublishPacket, type MqttClient, type Packet } from "mqtt";
import { backoffDelay, toError, type Codec, type Logger } from "@pirouette/core";
import { MqttError, type MqttErrorCode } from "../errors.ts";
import type { ConnectionConfiguration, DeliveryToken, QoS, ReconnectOptions } from "../options.ts";
import { encodePayload, toPacketProperties } from "./encode.ts";
import type { ResolvedSubscription } from "./topic.ts";

export const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024;
const TAKEOVER = 0x8e;
const FLAP_MS = 3_000;
const CONFLICTS_TO_CLOSE = 3;

/** Connection settings after defaults and validation. */
export interface ConnectionParams {
  readonly url: string;
  readonly clientId: string;
  readonly clientIdGenerated: boolean;
  readonly protocolVersion: 4 | 5;
  readonly cleanStart: boolean;
  readonly sessionExpiryInterval: number;
  readonly keepalive: number;
  readonly connectTimeoutMs: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: TlsConnectionOptions | undefined;
  readonly will: IClientOptions["will"];
  readonly reconnect: Required<ReconnectOptions> & { readonly automatic: boolean };
  readonly maxPacketSize: number;
  readonly receiveMaximum: number | undefined;
  readonly onClientIdConflict: "close" | "ignore";
}

function positive(value: number | undefined, name: string, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || Number.isNaN(v) || v < min) {
    throw new MqttError("MQTT_INVALID_CONFIG", `${name} must be a number >= ${min}`);
  }
  return v;
}

/** Generate a client identifier (23 characters: the MQTT 3.1.1 guaranteed maximum). */
export function generateClientId(): string {
  return `pirouette-${randomBytes(7).toString("hex").slice(0, 13)}`;
}

/** Defaults and validation for the connection part of the options. */
export function resolveConnectionParams(
  serverUri: string | undefined,
  clientId: string | undefined,
  o: ConnectionConfiguration,
  codec: Codec<unknown>,
  extra: { readonly receiveMaximum?: number } = {},
): ConnectionParams {
  const url = serverUri ?? "tcp://localhost:1883";
  if (typeof url !== "string" || !/^(mqtts?|tcp|ssl|tls):\/\//.test(url)) {
    throw new MqttError("MQTT_INVALID_CONFIG", `serverUri must be an mqtt://, mqtts://, tcp:// or ssl:// URL (got ${JSON.stringify(url)})`);
  }
  const protocolVersion = o.protocolVersion ?? 5;
  if (protocolVersion !== 4 && protocolVersion !== 5) throw new MqttError("MQTT_INVALID_CONFIG", "protocolVersion must be 4 (MQTT 3.1.1) or 5");
  if (clientId !== undefined && (typeof clientId !== "string" || clientId.length === 0)) {
    throw new MqttError("MQTT_INVALID_CONFIG", "clientId must be a non-empty string (or undefined for a generated one)");
  }
  const cleanStart = o.cleanStart ?? true;
  const r = o.reconnect ?? {};
  const maxDelayMs = positive(r.maxDelayMs ?? o.maxReconnectDelay, "reconnect.maxDelayMs", 30_000, 1);
  const reconnect = {
    initialDelayMs: Math.min(positive(r.initialDelayMs, "reconnect.initialDelayMs", 1000, 1), maxDelayMs),
    maxDelayMs,
    multiplier: positive(r.multiplier, "reconnect.multiplier", 2, 1),
    jitter: positive(r.jitter, "reconnect.jitter", 0.2),
    maxRetries: positive(r.maxRetries, "reconnect.maxRetries", Infinity),
    connectRetries: positive(r.connectRetries, "reconnect.connectRetries", 0),
    automatic: o.automaticReconnect ?? true,
  };
  if (reconnect.jitter > 1) throw new MqttError("MQTT_INVALID_CONFIG", "reconnect.jitter must be in 0 … 1");
  const sessionExpiryInterval = positive(o.sessionExpiryInterval, "sessionExpiryInterval", cleanStart ? 0 : 0xffffffff);
  let will: IClientOptions["will"];
  if (o.will !== undefined) {
    const w = o.will;
    const qos = w.qos ?? 1;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttError("MQTT_INVALID_CONFIG", "will.qos must be 0, 1 or 2");
    if (typeof w.topic !== "string" || w.topic.length === 0 || /[+#]/.test(w.topic)) {
      throw new MqttError("MQTT_INVALID_TOPIC", "will.topic must be a topic name without wildcards");
    }
    const { bytes, contentType } = encodePayload(w.payload, codec);
    const props = protocolVersion === 5 ? toPacketProperties(w.properties, contentType, undefined) : undefined;
    will = {
      topic: w.topic,
      payload: bytes,
      qos,
      retain: w.retained ?? false,
      ...(protocolVersion === 5 && (props !== undefined || w.delayInterval !== undefined)
        ? { properties: { ...props, ...(w.delayInterval === undefined ? {} : { willDelayInterval: w.delayInterval }) } }
        : {}),
    };
  }
  const conflict = o.onClientIdConflict ?? "close";
  if (conflict !== "close" && conflict !== "ignore") throw new MqttError("MQTT_INVALID_CONFIG", 'onClientIdConflict must be "close" or "ignore"');
  return {
    url,
    clientId: clientId ?? generateClientId(),
    clientIdGenerated: clientId === undefined,
    protocolVersion,
    cleanStart,
    sessionExpiryInterval,
    keepalive: positive(o.keepAliveInterval, "keepAliveInterval", 60),
    connectTimeoutMs: positive(o.connectionTimeout, "connectionTimeout", 30, 0.001) * 1000,
    username: o.username,
    password: o.password,
    tls: o.secureSocket,
    will,
    reconnect,
    maxPacketSize: Math.floor(positive(o.maxPacketSize, "maxPacketSize", DEFAULT_MAX_PACKET_SIZE, 64)),
    receiveMaximum: extra.receiveMaximum,
    onClientIdConflict: conflict,
  };
}

/** The shared capped, jittered exponential delay (kept here for this package's callers). */
export { backoffDelay };

function stringPropertySize(s: string | undefined): number {
  return s === undefined ? 0 : 3 + Buffer.byteLength(s, "utf8");
}

/** Size in bytes of an MQTT 5 properties block (without its length prefix). */
function propertiesSize(p: IPublishPacket["properties"]): number {
  if (p === undefined) return 0;
  let n = stringPropertySize(p.responseTopic) + stringPropertySize(p.contentType);
  if (p.correlationData !== undefined) n += 3 + p.correlationData.length;
  if (p.payloadFormatIndicator !== undefined) n += 2;
  if (p.messageExpiryInterval !== undefined) n += 5;
  if (p.topicAlias !== undefined) n += 3;
  for (const [k, v] of Object.entries(p.userProperties ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) n += 5 + Buffer.byteLength(k, "utf8") + Buffer.byteLength(String(one), "utf8");
  }
  return n;
}

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** The exact size of a PUBLISH packet. */
export function publishPacketSize(topic: string, payloadBytes: number, qos: QoS, properties: IPublishPacket["properties"], v5: boolean): number {
  const props = v5 ? propertiesSize(properties) : 0;
  const remaining = 2 + Buffer.byteLength(topic, "utf8") + (qos > 0 ? 2 : 0) + (v5 ? varintSize(props) + props : 0) + payloadBytes;
  return 1 + varintSize(remaining) + remaining;
}

const PENDING = 0;
const ACK = 1;
const DROP = 2;

/** A QoS 1 delivery whose PUBACK waits for its handler. */
export interface AckEntry {
  readonly messageId: number;
  readonly gen: number;
  state: typeof PENDING | typeof ACK | typeof DROP;
  puback: (Packet & { reasonCode?: number }) | undefined;
  reasonCode: number;
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void;

/** Hooks the owner (listener or client) installs. */
export interface ConnectionHooks {
  /**
   * Every incoming PUBLISH. Return a promise to make mqtt.js stop reading until it settles
   * (backpressure); `undefined` to go on at once.
   */
  onPublish(packet: IPublishPacket): Promise<unknown> | undefined;
  /** A connection error worth telling the application (not every reconnect attempt). */
  onError?(error: MqttError): void;
  /** The connection cannot be recovered: closed for good. */
  onFatal?(error: MqttError): void;
  onConnect?(sessionPresent: boolean): void;
  onClose?(): void;
}

function classifyConnack(err: Error & { code?: unknown }, v5: boolean): MqttErrorCode | undefined {
  const code = typeof err.code === "number" ? err.code : undefined;
  if (code === undefined || !/Connection refused/i.test(err.message)) return undefined;
  const auth = v5 ? [0x86, 0x87, 0x8a] : [4, 5];
  if (auth.includes(code)) return "MQTT_NOT_AUTHORIZED";
  return "MQTT_CONNACK";
}

/** CONNACK refusals worth retrying (server unavailable/busy, rate limits). */
function retriableConnack(code: number | undefined, v5: boolean): boolean {
  if (code === undefined) return true;
  return v5 ? [0x88, 0x89, 0x97, 0x9f, 0x80].includes(code) : code === 3;
}

/**
 * A managed mqtt.js client. `open()` connects (failing fast, or after `connectRetries`); a lost
 * connection is re-established by this class (mqtt.js's own fixed-period reconnect is off).
 */
export class Connection {
  readonly params: ConnectionParams;
  readonly #logger: Logger;
  readonly #hooks: ConnectionHooks;
  readonly #holdAcks: boolean;
  readonly #subs = new Map<string, ResolvedSubscription>();
  #client: MqttClient | undefined;
  #sendPacket: SendPacket | undefined;
  #gen = 0;
  #connected = false;
  #everConnected = false;
  #closing = false;
  #fatal: MqttError | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastError: (Error & { code?: unknown }) | undefined;
  #connectedAt = 0;
  #tookOver = false;
  #quickCloses = 0;
  #serverMaxPacket: number | undefined;
  #reconnects = 0;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #ackQueue: AckEntry[] = [];
  readonly #held = new Map<number, AckEntry>();

  constructor(params: ConnectionParams, logger: Logger, hooks: ConnectionHooks, options: { holdAcks?: boolean } = {}) {
    this.params = params;
    this.#logger = logger;
    this.#hooks = hooks;
    this.#holdAcks = options.holdAcks ?? false;
  }

  get connected(): boolean {
    return this.#connected;
  }
  get closed(): boolean {
    return this.#closing || this.#fatal !== undefined;
  }
  get fatalError(): MqttError | undefined {
    return this.#fatal;
  }
  /** Successful reconnections so far. */
  get reconnects(): number {
    return this.#reconnects;
  }
  get v5(): boolean {
    return this.params.protocolVersion === 5;
  }
  /** Connection generation: changes whenever the connection is lost. */
  get generation(): number {
    return this.#gen;
  }
  /** The effective publish limit: ours, or the broker's (MQTT 5 CONNACK), whichever is smaller. */
  get maxPacketSize(): number {
    return Math.min(this.params.maxPacketSize, this.#serverMaxPacket ?? Infinity);
  }
  get client(): MqttClient | undefined {
    return this.#client;
  }

  /** Connect; resolves on the first CONNACK, rejects with a typed error. */
  open(): Promise<void> {
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    if (this.#closing) return Promise.reject(new MqttError("MQTT_CLOSED", "the connection is closed"));
    if (this.#connected) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#client === undefined) {
      this.#client = this.#create();
      this.#client.connect();
    }
    return p;
  }

  /** Wait until connected (or fail when the connection is closed for good). */
  ready(): Promise<void> {
    return this.open();
  }

  #create(): MqttClient {
    const p = this.params;
    const properties: NonNullable<IClientOptions["properties"]> = {};
    if (p.protocolVersion === 5) {
      if (p.sessionExpiryInterval > 0) properties.sessionExpiryInterval = p.sessionExpiryInterval;
      properties.maximumPacketSize = p.maxPacketSize;
      if (p.receiveMaximum !== undefined) properties.receiveMaximum = p.receiveMaximum;
    }
    const options: IClientOptions = {
      clientId: p.clientId,
      protocolVersion: p.protocolVersion,
      clean: p.cleanStart,
      keepalive: p.keepalive,
      connectTimeout: p.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      manualConnect: true,
      queueQoSZero: true,
      ...(p.protocolVersion === 5 ? { properties } : {}),
      ...(p.username === undefined ? {} : { username: p.username }),
      ...(p.password === undefined ? {} : { password: p.password }),
      ...(p.will === undefined ? {} : { will: p.will }),
      ...(p.tls ?? {}),
    } as IClientOptions;
    const client = connect(p.url.replace(/^tls:/, "mqtts:"), options);
    const send = (client as unknown as { _sendPacket: SendPacket })._sendPacket;
    if (typeof send !== "function") {
      throw new MqttError("MQTT_INVALID_CONFIG", "this mqtt.js version has no _sendPacket: acknowledgement control is unavailable");
    }
    this.#sendPacket = send.bind(client);
    if (this.#holdAcks) {
      (client as unknown as { _sendPacket: SendPacket })._sendPacket = (packet, cb, cbStorePut, noStore) => {
        if (packet.cmd === "puback" && typeof packet.messageId === "number") {
          const e = this.#held.get(packet.messageId);
          if (e !== undefined) {
            this.#held.delete(packet.messageId);
            if (e.state !== DROP) e.puback = packet;
            cb?.();
            this.#flushAcks();
            return;
          }
        }
        (this.#sendPacket as SendPacket)(packet, cb, cbStorePut, noStore);
      };
    }
    client.handleMessage = (packet, callback) => {
      let wait: Promise<unknown> | undefined;
      try {
        wait = this.#hooks.onPublish(packet);
      } catch (e) {
        this.#logger.error({ err: toError(e), topic: packet.topic }, "mqtt message could not be dispatched");
      }
      if (wait === undefined) {
        callback();
        return;
      }
      const gen = this.#gen;
      const resume = (): void => {
        // A packet of a lost connection: its PUBACK/PUBCOMP must not leak into the next one.
        if (gen === this.#gen) callback();
      };
      wait.then(resume, resume);
    };
    client.on("connect", (connack) => this.#onConnect(connack));
    client.on("close", () => this.#onClose());
    client.on("error", (err) => {
      this.#lastError = err;
      this.#logger.debug({ err }, "mqtt connection error");
    });
    client.on("disconnect", (packet: IDisconnectPacket) => {
      if (packet.reasonCode === TAKEOVER) this.#tookOver = true;
      this.#logger.warn({ reasonCode: packet.reasonCode, reason: packet.properties?.reasonString }, "the broker disconnected the client");
    });
    return client;
  }

  #onConnect(connack: IConnackPacket): void {
    const wasConnected = this.#everConnected;
    this.#connected = true;
    this.#everConnected = true;
    this.#attempt = 0;
    this.#lastError = undefined;
    this.#tookOver = false;
    this.#connectedAt = Date.now();
    this.#serverMaxPacket = connack.properties?.maximumPacketSize;
    if (wasConnected) this.#reconnects++;
    const sessionPresent = connack.sessionPresent && !this.params.cleanStart;
    if (!sessionPresent && this.#subs.size > 0) this.#restoreSubscriptions();
    this.#logger.info({ clientId: this.params.clientId, sessionPresent, reconnects: this.#reconnects }, "mqtt connected");
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
    try {
      this.#hooks.onConnect?.(sessionPresent);
    } catch (e) {
      this.#logger.error({ err: toError(e) }, "onConnect hook failed");
    }
  }

  #onClose(): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#gen++;
    // PUBACKs of the lost connection are never sent: the broker redelivers those messages to a
    // resumed session, and with a new session an old packet id could name another message.
    this.#ackQueue = [];
    this.#held.clear();
    if (wasConnected) {
      try {
        this.#hooks.onClose?.();
      } catch (e) {
        this.#logger.error({ err: toError(e) }, "onClose hook failed");
      }
    }
    if (this.#closing || this.#fatal !== undefined) return;
    const err = this.#lastError;
    const connackCode = err === undefined ? undefined : classifyConnack(err, this.v5);
    if (connackCode !== undefined && !retriableConnack(typeof err?.code === "number" ? err.code : undefined, this.v5)) {
      this.#fail(new MqttError(connackCode, `the broker refused the connection: ${err?.message ?? "unknown"}`, {
        cause: err,
        reasonCode: typeof err?.code === "number" ? err.code : undefined,
      }));
      return;
    }
    if (wasConnected && this.#isConflict()) {
      this.#fail(
        new MqttError(
          "MQTT_CLIENT_ID_CONFLICT",
          `the broker closed the connection right after each of ${CONFLICTS_TO_CLOSE} reconnects: another client probably uses clientId "${this.params.clientId}" and takes the session over; reconnecting stopped`,
          { reasonCode: this.#tookOver ? TAKEOVER : undefined },
        ),
      );
      return;
    }
    if (!wasConnected) this.#quickCloses = 0;
    if (!this.#everConnected) {
      // The first connection: fail `open()` unless connectRetries allows another try.
      if (this.#attempt < this.params.reconnect.connectRetries) {
        this.#schedule();
        return;
      }
      this.#fail(connectionError(err, this.params.url));
      return;
    }
    if (!this.params.reconnect.automatic) {
      this.#fail(new MqttError("MQTT_CONNECTION", `the connection to ${redact(this.params.url)} was lost (automaticReconnect is off)`, { cause: err }));
      return;
    }
    if (this.#attempt >= this.params.reconnect.maxRetries) {
      this.#fail(
        new MqttError("MQTT_CONNECTION", `the connection to ${redact(this.params.url)} was lost and ${this.#attempt} reconnection attempts failed`, {
          cause: err,
        }),
      );
      return;
    }
    if (wasConnected) {
      this.#logger.warn({ err, clientId: this.params.clientId }, "mqtt connection lost; reconnecting");
      this.#hooks.onError?.(new MqttError("MQTT_CONNECTION", `the connection to ${redact(this.params.url)} was lost; reconnecting`, { cause: err }));
    }
    this.#schedule();
  }

  /**
   * A session takeover: MQTT 5 DISCONNECT 0x8E, or (brokers that just close the socket, such
   * as Mosquitto 2.0 and every MQTT 3.1.1 broker) a clean close by the broker within 3 s of
   * the CONNACK. Three in a row, each after a reconnect that succeeded at once, is a conflict.
   */
  #isConflict(): boolean {
    const clean = this.#lastError === undefined;
    const quick = Date.now() - this.#connectedAt < FLAP_MS;
    if (this.#tookOver || (clean && quick)) this.#quickCloses++;
    else this.#quickCloses = 0;
    if (this.#tookOver) this.#logger.warn({ clientId: this.params.clientId }, "session taken over by another client with the same clientId");
    return this.params.onClientIdConflict === "close" && this.#quickCloses >= CONFLICTS_TO_CLOSE;
  }

  #schedule(): void {
    this.#attempt++;
    const delay = backoffDelay(this.params.reconnect, this.#attempt);
    this.#logger.debug({ attempt: this.#attempt, delayMs: delay }, "mqtt reconnect scheduled");
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const c = this.#client;
      if (c === undefined || this.#closing || this.#fatal !== undefined) return;
      // Keep the stores: QoS 1/2 publishes not yet acknowledged are sent again.
      c.reconnect({ incomingStore: c.incomingStore, outgoingStore: c.outgoingStore });
    }, delay);
  }

  #fail(error: MqttError): void {
    if (this.#fatal !== undefined) return;
    this.#fatal = error;
    clearTimeout(this.#timer);
    this.#logger.error({ err: error }, "mqtt connection closed for good");
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
    this.#client?.end(true);
    try {
      this.#hooks.onFatal?.(error);
    } catch (e) {
      this.#logger.error({ err: toError(e) }, "onFatal hook failed");
    }
  }

  // ---------------------------------------------------------------- subscriptions

  /** Record subscriptions (restored after reconnects) and send them now if connected. */
  async subscribe(subs: readonly ResolvedSubscription[]): Promise<{ topic: string; qos: number }[]> {
    for (const s of subs) this.#subs.set(s.topic, s);
    if (subs.length === 0) return [];
    await this.ready();
    try {
      return await this.#sendSubscribe(subs);
    } catch (e) {
      if (MqttError.isMqttError(e) && e.code === "MQTT_SUBSCRIBE_FAILED") {
        for (const s of subs) this.#subs.delete(s.topic);
        throw e;
      }
      // The connection dropped before the SUBACK: restored with the next connection.
      this.#logger.debug({ err: toError(e) }, "subscribe interrupted; it is restored on reconnect");
      return subs.map((s) => ({ topic: s.topic, qos: s.qos }));
    }
  }

  /** Forget subscriptions and unsubscribe now if connected. */
  async unsubscribe(topics: readonly string[]): Promise<void> {
    for (const t of topics) this.#subs.delete(t);
    const c = this.#client;
    if (topics.length === 0 || c === undefined || !this.#connected) return;
    await new Promise<void>((resolve) => {
      c.unsubscribe([...topics], (err) => {
        if (err !== undefined && err !== null) this.#logger.debug({ err }, "unsubscribe failed");
        resolve();
      });
    });
  }

  #sendSubscribe(subs: readonly ResolvedSubscription[]): Promise<{ topic: string; qos: number }[]> {
    const c = this.#client;
    if (c === undefined) return Promise.reject(new MqttError("MQTT_CLOSED", "not connected"));
    const map: Record<string, { qos: QoS; nl?: boolean; rap?: boolean; rh?: number }> = {};
    for (const s of subs) {
      map[s.topic] = this.v5 ? { qos: s.qos, nl: s.noLocal, rap: s.retainAsPublished, rh: s.retainHandling } : { qos: s.qos };
    }
    return new Promise((resolve, reject) => {
      c.subscribe(map, (err, granted) => {
        const list = (granted ?? []).map((g) => ({ topic: g.topic, qos: g.qos }));
        const refused = list.filter((g) => g.qos >= 0x80);
        if (refused.length > 0 || (err && typeof (err as { code?: unknown }).code === "number")) {
          const code = refused[0]?.qos ?? ((err as { code?: number } | null)?.code as number);
          reject(
            new MqttError(
              "MQTT_SUBSCRIBE_FAILED",
              `the broker refused the subscription to ${(refused.length > 0 ? refused : subs).map((g) => `"${g.topic}"`).join(", ")} (reason code 0x${code.toString(16)})`,
              { reasonCode: code, cause: err ?? undefined },
            ),
          );
          return;
        }
        if (err) {
          reject(err);
          return;
        }
        resolve(list);
      });
    });
  }

  #restoreSubscriptions(): void {
    const subs = [...this.#subs.values()];
    this.#sendSubscribe(subs).then(
      () => this.#logger.info({ count: subs.length }, "mqtt subscriptions restored"),
      (e: unknown) => {
        const err = MqttError.isMqttError(e)
          ? e
          : new MqttError("MQTT_SUBSCRIBE_FAILED", `restoring the subscriptions failed: ${toError(e).message}`, { cause: e });
        this.#logger.error({ err }, "restoring the mqtt subscriptions failed");
        this.#hooks.onError?.(err);
      },
    );
  }

  // ---------------------------------------------------------------- publishing

  /**
   * Publish; resolves with the {@link DeliveryToken} once the broker has it (PUBACK/PUBCOMP, or
   * written for QoS 0). `settled` runs once, first, whatever the outcome. While disconnected
   * mqtt.js queues the publish and sends it after the reconnect.
   */
  publish(
    topic: string,
    payload: Buffer | string,
    qos: QoS,
    retain: boolean,
    properties: IPublishPacket["properties"],
    settled?: () => void,
  ): Promise<DeliveryToken> {
    const c = this.#client;
    let error: MqttError | undefined;
    if (this.#fatal !== undefined) error = this.#fatal;
    else if (c === undefined || this.#closing) error = new MqttError("MQTT_CLOSED", "the mqtt connection is closed");
    const props = this.v5 ? properties : undefined;
    const limit = this.maxPacketSize;
    // Cheap bound first (a string is at most 3 bytes per UTF-16 unit): the exact size only matters near the limit.
    const size =
      error !== undefined || (payload.length * 3 + topic.length * 3 + 64 < limit && props === undefined)
        ? 0
        : publishPacketSize(topic, typeof payload === "string" ? Buffer.byteLength(payload, "utf8") : payload.length, qos, props, this.v5);
    if (size > limit) {
      error = new MqttError("MQTT_PACKET_TOO_LARGE", `the message for "${topic}" is ${size} bytes, over the ${limit}-byte packet limit; not sent`, {
        coordinates: { topic },
      });
    }
    if (error !== undefined || c === undefined) {
      settled?.();
      return Promise.reject(error);
    }
    // One promise and one callback per publish: this is the hot path.
    return new Promise((resolve, reject) => {
      c.publish(topic, payload, props === undefined ? { qos, retain } : { qos, retain, properties: props }, (err, packet) => {
        settled?.();
        if (err) {
          const rc = (err as { code?: unknown }).code;
          reject(
            this.#fatal ??
              new MqttError(
                this.#closing ? "MQTT_CLOSED" : "MQTT_PUBLISH_FAILED",
                `publishing to "${topic}" failed: ${err.message}`,
                { cause: err, reasonCode: typeof rc === "number" ? rc : undefined, coordinates: { topic } },
              ),
          );
          return;
        }
        resolve({ messageId: (packet as { messageId?: number } | undefined)?.messageId ?? 0, topic });
      });
    });
  }

  // ---------------------------------------------------------------- held acknowledgements

  /** Hold the PUBACK of a QoS 1 message until {@link settle}. Listener connections only. */
  track(packet: IPublishPacket): AckEntry | undefined {
    if (!this.#holdAcks || packet.qos !== 1 || typeof packet.messageId !== "number") return undefined;
    const entry: AckEntry = { messageId: packet.messageId, gen: this.#gen, state: PENDING, puback: undefined, reasonCode: 0 };
    this.#ackQueue.push(entry);
    this.#held.set(packet.messageId, entry);
    return entry;
  }

  /**
   * Acknowledge (`ok`) or withhold (the broker redelivers when the session resumes). PUBACKs
   * leave in the order the messages arrived (MQTT-4.6.0-2). False when the entry belongs to a
   * lost connection or was settled already.
   */
  settle(entry: AckEntry, ok: boolean, reasonCode = 0): boolean {
    if (entry.gen !== this.#gen || entry.state !== PENDING) return false;
    entry.state = ok ? ACK : DROP;
    entry.reasonCode = reasonCode;
    this.#flushAcks();
    return true;
  }

  /** Whether an entry can still be settled. */
  isOpen(entry: AckEntry): boolean {
    return entry.gen === this.#gen && entry.state === PENDING;
  }

  #flushAcks(): void {
    const q = this.#ackQueue;
    let i = 0;
    for (; i < q.length; i++) {
      const e = q[i] as AckEntry;
      if (e.state === PENDING) break;
      if (e.state === ACK) {
        if (e.puback === undefined) break; // mqtt.js has not produced it yet (reading is paused)
        if (this.v5 && e.reasonCode !== 0) e.puback.reasonCode = e.reasonCode;
        // mqtt.js is connected from the CONNACK on; the "connect" event (this.#connected) comes
        // later, after its outgoing store was replayed, and messages may arrive before it.
        if (this.#client?.connected === true) (this.#sendPacket as SendPacket)(e.puback);
      }
    }
    if (i > 0) q.splice(0, i);
  }

  // ---------------------------------------------------------------- closing

  /**
   * Disconnect (DISCONNECT sent; a persistent session stays on the broker). Waits at most
   * `timeoutMs` for in-flight publishes, then closes the socket.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearTimeout(this.#timer);
    const c = this.#client;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new MqttError("MQTT_CLOSED", "the mqtt connection was closed"));
    if (c === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => c.end(true, () => resolve()), timeoutMs);
      timer.unref();
      const force = !this.#connected;
      c.end(force, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Publishes still waiting (offline) are failed by mqtt.js's flush; make sure nothing hangs.
    c.removeAllListeners("connect");
    c.on("error", () => undefined);
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}

function connectionError(err: (Error & { code?: unknown }) | undefined, url: string): MqttError {
  if (err !== undefined) {
    const code = classifyConnack(err, true) ?? classifyConnack(err, false);
    if (code !== undefined) {
      return new MqttError(code, `the broker refused the connection: ${err.message}`, {
        cause: err,
        reasonCode: typeof err.code === "number" ? err.code : undefined,
      });
    }
  }
  return new MqttError("MQTT_CONNECTION", `cannot connect to ${redact(url)}: ${err?.message ?? "connection closed"}`, { cause: err });
}
