/**
 * Records in and out: binding fetched messages, encoding values, keys and headers to send.
 *
 * @internal
 * @module
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { bind, injectTraceContext, PirouetteError, validate, type Codec } from "@pirouette/core";
import { KafkaError } from "../errors.ts";
import type { ConsumerRecord, Headers, OutgoingHeaders, ProducerRecord } from "../options.ts";
import type { WireMessage, WireOutgoing } from "./transport.ts";

/** One fetched record, bound for the service (or carrying why it could not be). */
export class Bound {
  readonly topic: string;
  readonly partition: number;
  readonly raw: WireMessage;
  /** Position in the fetched batch. */
  readonly index: number;
  readonly offset: number;
  /** The bound value (`null` for a tombstone or a record that could not be bound). */
  readonly value: unknown;
  /** Set when decoding or validation failed: the record goes to `onError` on its own. */
  readonly error: Error | undefined;
  #record: ConsumerRecord<unknown> | undefined;
  constructor(topic: string, partition: number, raw: WireMessage, index: number, offset: number, value: unknown, error: Error | undefined) {
    this.topic = topic;
    this.partition = partition;
    this.raw = raw;
    this.index = index;
    this.offset = offset;
    this.value = value;
    this.error = error;
  }
  /** The record as services see it (made on first use: payload mode rarely needs it). */
  get record(): ConsumerRecord<unknown> {
    return (this.#record ??= {
      topic: this.topic,
      partition: this.partition,
      offset: this.offset,
      key: this.raw.key,
      value: this.value,
      timestamp: Number(this.raw.timestamp),
      headers: (this.raw.headers as Headers | undefined) ?? EMPTY_HEADERS,
    });
  }
}

const EMPTY_HEADERS: Headers = Object.freeze({});

/** How values are bound. */
export interface Binder {
  readonly codec: Codec<unknown>;
  readonly schema: StandardSchemaV1 | undefined;
}

/**
 * Bind one message: codec (tombstones stay `null`), then the schema. Synchronous unless the schema
 * is asynchronous or the record is bad (the error is then built by core's `bind`/`validate`, so it
 * carries `{ topic, partition, offset }`).
 */
export function bindMessage(
  binder: Binder,
  topic: string,
  partition: number,
  m: WireMessage,
  index: number,
): Bound | Promise<Bound> {
  const offset = Number(m.offset);
  let value: unknown = null;
  if (m.value !== null) {
    try {
      value = binder.codec.decode(m.value);
    } catch {
      return failed(binder, topic, partition, m, index, offset, m.value);
    }
  }
  const schema = binder.schema;
  if (schema === undefined) return new Bound(topic, partition, m, index, offset, value, undefined);
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = schema["~standard"].validate(value);
  } catch {
    return invalid(schema, topic, partition, m, index, offset, value);
  }
  if (result instanceof Promise) {
    return result.then(
      (r) =>
        r.issues === undefined
          ? new Bound(topic, partition, m, index, offset, r.value, undefined)
          : invalid(schema, topic, partition, m, index, offset, value),
      () => invalid(schema, topic, partition, m, index, offset, value),
    );
  }
  if (result.issues !== undefined) return invalid(schema, topic, partition, m, index, offset, value);
  return new Bound(topic, partition, m, index, offset, result.value, undefined);
}

async function failed(
  binder: Binder,
  topic: string,
  partition: number,
  m: WireMessage,
  index: number,
  offset: number,
  bytes: Uint8Array,
): Promise<Bound> {
  let error: Error;
  try {
    await bind(bytes, { codec: binder.codec, coordinates: { topic, partition, offset } });
    error = new KafkaError("KAFKA_PROTOCOL", "the codec failed once and then succeeded", { coordinates: { topic, partition, offset } });
  } catch (e) {
    error = e as Error;
  }
  return new Bound(topic, partition, m, index, offset, null, error);
}

async function invalid(
  schema: StandardSchemaV1,
  topic: string,
  partition: number,
  m: WireMessage,
  index: number,
  offset: number,
  value: unknown,
): Promise<Bound> {
  let error: Error;
  try {
    await validate(schema, value, { topic, partition, offset });
    error = new KafkaError("KAFKA_PROTOCOL", "the schema failed once and then succeeded", { coordinates: { topic, partition, offset } });
  } catch (e) {
    error = e as Error;
  }
  return new Bound(topic, partition, m, index, offset, value, error);
}

/** Bind a batch; one promise at most (only when some record needs one). */
export function bindBatch(binder: Binder, topic: string, partition: number, messages: readonly WireMessage[]): Bound[] | Promise<Bound[]> {
  const n = messages.length;
  const out = new Array<Bound | Promise<Bound>>(n);
  let async = false;
  for (let i = 0; i < n; i++) {
    const b = bindMessage(binder, topic, partition, messages[i] as WireMessage, i);
    if (b instanceof Promise) async = true;
    out[i] = b;
  }
  return async ? settleAll(out) : (out as Bound[]);
}

async function settleAll(items: readonly (Bound | Promise<Bound>)[]): Promise<Bound[]> {
  const out: Bound[] = [];
  for (const x of items) out.push(await x);
  return out;
}

// ---------------------------------------------------------------- outgoing

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * A value as the wire takes it: bytes as they are, strings as UTF-8, null, else the codec; with
 * no codec, JSON text (the driver writes it as UTF-8: the same bytes as core's `json()` codec,
 * without a `TextEncoder` call per record, which costs several µs in Node 20).
 */
export function encodeValue(value: unknown, codec: Codec<unknown> | undefined, topic: string): Buffer | string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return toBuffer(value);
  if (codec === undefined) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new KafkaError("KAFKA_ENCODE", `cannot encode the value for topic "${topic}" as JSON: ${(e as Error).message}`, {
        cause: e,
        coordinates: { topic },
      });
    }
    if (text === undefined) {
      throw new KafkaError("KAFKA_ENCODE", `cannot encode a ${typeof value} value for topic "${topic}" as JSON`, { coordinates: { topic } });
    }
    return text;
  }
  try {
    return toBuffer(codec.encode(value));
  } catch (e) {
    throw new KafkaError("KAFKA_ENCODE", `cannot encode the value for topic "${topic}" with the ${codec.name} codec: ${(e as Error).message}`, {
      cause: e,
      coordinates: { topic },
    });
  }
}

function encodeHeaders(headers: OutgoingHeaders | undefined): Record<string, Buffer | string | (Buffer | string)[] | undefined> {
  const out: Record<string, Buffer | string | (Buffer | string)[] | undefined> = {};
  if (headers !== undefined) {
    for (const k of Object.keys(headers)) {
      const v = headers[k];
      if (v === undefined) continue;
      if (typeof v === "string") out[k] = v;
      else if (v instanceof Uint8Array) out[k] = toBuffer(v);
      else out[k] = (v as readonly (string | Uint8Array)[]).map((x) => (typeof x === "string" ? x : toBuffer(x)));
    }
  }
  return out;
}

/** A producer record on the wire, with the active trace context in its headers. */
export function toOutgoing(r: ProducerRecord<unknown>, codec: Codec<unknown> | undefined): WireOutgoing {
  if (typeof r !== "object" || r === null || typeof r.topic !== "string" || r.topic.length === 0) {
    throw new KafkaError("KAFKA_INVALID_CONFIG", "a producer record needs a topic (a non-empty string)");
  }
  const headers = encodeHeaders(r.headers);
  injectTraceContext(headers as Record<string, string>);
  const key = r.key === undefined || r.key === null ? null : typeof r.key === "string" ? r.key : toBuffer(r.key);
  return {
    key,
    value: encodeValue(r.value, codec, r.topic),
    headers,
    ...(r.partition === undefined ? {} : { partition: r.partition }),
    ...(r.timestamp === undefined ? {} : { timestamp: String(r.timestamp) }),
  };
}

/** Size in bytes of a key or value as sent. */
export function wireSize(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "string" ? Buffer.byteLength(v) : v.byteLength;
}

/** Whether an error came from payload binding (so it must not be retried). */
export function isBindingFailure(e: unknown): boolean {
  return PirouetteError.is(e) && (e.code === "PAYLOAD_BINDING" || e.code === "PAYLOAD_VALIDATION");
}
