/**
 * Payload encoding, headers and the conversion of nats.js messages.
 *
 * @internal
 * @module
 */
import { headers as natsHeaders, type Msg, type MsgHdrs } from "@nats-io/transport-node";
import type { JsMsg } from "@nats-io/jetstream";
import { injectTraceContext, PirouetteError, toError, type Codec, type HeaderValue } from "@pirouette/core";
import { NatsError } from "../errors.ts";
import type { Headers, Message } from "../options.ts";

const EMPTY = new Uint8Array(0);

/** Bytes as is, strings as UTF-8, `undefined` as an empty payload, anything else through the codec. */
export function encodeData(value: unknown, codec: Codec<unknown>): { data: Uint8Array; contentType: string | undefined } {
  if (value instanceof Uint8Array) return { data: value, contentType: undefined };
  if (typeof value === "string") return { data: Buffer.from(value, "utf8"), contentType: undefined };
  if (value === undefined) return { data: EMPTY, contentType: undefined };
  try {
    return { data: codec.encode(value), contentType: codec.contentType };
  } catch (e) {
    const msg = PirouetteError.is(e) ? e.message : `${codec.name} codec: ${toError(e).message}`;
    throw new NatsError("NATS_ENCODE", `the value could not be encoded: ${msg}`, { cause: e });
  }
}

/**
 * nats.js headers from ours, with the active trace context; `undefined` when there is nothing
 * to send (a plain PUB, the cheapest frame).
 */
export function toNatsHeaders(h: Headers | undefined, contentType?: string): MsgHdrs | undefined {
  const trace = injectTraceContext({});
  const traceKeys = Object.keys(trace);
  if (h === undefined && traceKeys.length === 0 && contentType === undefined) return undefined;
  const out = natsHeaders();
  if (h !== undefined) {
    for (const [k, v] of Object.entries(h)) {
      if (typeof v === "string") out.set(k, v);
      else for (const one of v) out.append(k, one);
    }
  }
  for (const k of traceKeys) if (!out.has(k)) out.set(k, trace[k] as string);
  if (contentType !== undefined && !out.has("Content-Type")) out.set("Content-Type", contentType);
  return out;
}

/** nats.js headers → ours (single values as strings). */
export function fromNatsHeaders(h: MsgHdrs | undefined): Headers | undefined {
  if (h === undefined) return undefined;
  const out: Record<string, string | string[]> = {};
  for (const k of h.keys()) {
    const values = h.values(k);
    out[k] = values.length === 1 ? (values[0] as string) : values;
  }
  return out;
}

export function fromMsg(m: Msg): Message {
  return {
    content: m.data,
    subject: m.subject,
    replyTo: m.reply === undefined || m.reply === "" ? undefined : m.reply,
    headers: m.headers === undefined ? undefined : fromNatsHeaders(m.headers),
    jetstream: undefined,
  };
}

export function fromJsMsg(m: JsMsg): Message {
  const info = m.info;
  return {
    content: m.data,
    subject: m.subject,
    replyTo: undefined,
    headers: m.headers === undefined ? undefined : fromNatsHeaders(m.headers),
    jetstream: {
      stream: info.stream,
      consumer: info.consumer,
      streamSequence: info.streamSequence,
      consumerSequence: info.deliverySequence,
      deliveryCount: info.deliveryCount,
      pending: info.pending,
      timestampMs: Math.floor(info.timestampNanos / 1e6),
    },
  };
}

/** Headers as trace-context carriers (or undefined). */
export function traceHeaders(message: Message): Readonly<Record<string, HeaderValue>> | undefined {
  const h = message.headers;
  if (h === undefined || (h["traceparent"] === undefined && h["baggage"] === undefined)) return undefined;
  return h;
}

/** A reply carrying a service error, as NATS micro services send it. */
export function isServiceError(m: Msg): { message: string; code: number } | undefined {
  const h = m.headers;
  if (h === undefined) return undefined;
  const text = h.get("Nats-Service-Error");
  if (text === "") return undefined;
  return { message: text, code: Number(h.get("Nats-Service-Error-Code")) || 500 };
}
