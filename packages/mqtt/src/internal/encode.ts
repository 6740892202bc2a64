/**
 * Payload encoding and the conversions between mqtt.js packets and Pirouette's message types.
 *
 * @internal
 * @module
 */
import type { IPublishPacket } from "mqtt";
import { PirouetteError, toError, type Codec, type HeaderValue } from "@pirouette/core";
import { MqttError } from "../errors.ts";
import type { Message, MessageProperties } from "../options.ts";

type PacketProperties = NonNullable<IPublishPacket["properties"]>;

/** Encoded payload plus the content type the codec set (undefined for bytes and strings). */
export interface Encoded {
  readonly bytes: Buffer;
  readonly contentType: string | undefined;
}

/** Bytes as is, strings as UTF-8, anything else through the codec. */
export function encodePayload(value: unknown, codec: Codec<unknown>): Encoded {
  if (value instanceof Uint8Array) {
    return { bytes: Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength), contentType: undefined };
  }
  if (typeof value === "string") return { bytes: Buffer.from(value, "utf8"), contentType: undefined };
  if (value instanceof ArrayBuffer) return { bytes: Buffer.from(value), contentType: undefined };
  try {
    const out = codec.encode(value);
    return { bytes: Buffer.from(out.buffer, out.byteOffset, out.byteLength), contentType: codec.contentType };
  } catch (e) {
    if (PirouetteError.is(e)) throw new MqttError("MQTT_ENCODE", `the payload could not be encoded: ${e.message}`, { cause: e });
    throw new MqttError("MQTT_ENCODE", `the payload could not be encoded with the ${codec.name} codec: ${toError(e).message}`, { cause: e });
  }
}

/** A payload ready for mqtt.js: bytes, or a string it encodes straight into the packet. */
export interface PublishPayload {
  readonly payload: Buffer | string;
  /** Its size in bytes. */
  readonly bytes: number;
  readonly contentType: string | undefined;
}

/**
 * Like {@link encodePayload} for publishing: strings (and, with the default JSON codec,
 * JSON text) stay strings, which mqtt.js writes into the packet without an intermediate copy.
 */
export function encodeForPublish(value: unknown, codec: Codec<unknown>, defaultJson: boolean): PublishPayload {
  if (typeof value === "string") return { payload: value, bytes: Buffer.byteLength(value, "utf8"), contentType: undefined };
  if (defaultJson && !(value instanceof Uint8Array) && !(value instanceof ArrayBuffer)) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new MqttError("MQTT_ENCODE", `the payload could not be encoded as JSON: ${toError(e).message}`, { cause: e });
    }
    if (text === undefined) throw new MqttError("MQTT_ENCODE", `a ${typeof value} cannot be encoded as JSON`);
    return { payload: text, bytes: Buffer.byteLength(text, "utf8"), contentType: codec.contentType };
  }
  const { bytes, contentType } = encodePayload(value, codec);
  return { payload: bytes, bytes: bytes.length, contentType };
}

/** Our properties → mqtt.js publish properties (MQTT 5 only). */
export function toPacketProperties(
  props: Omit<MessageProperties, "subscriptionIdentifier"> | undefined,
  contentType: string | undefined,
  trace: Record<string, string> | undefined,
): PacketProperties | undefined {
  const out: PacketProperties = {};
  let any = false;
  if (props !== undefined) {
    if (props.responseTopic !== undefined) {
      out.responseTopic = props.responseTopic;
      any = true;
    }
    if (props.correlationData !== undefined) {
      const c = props.correlationData;
      out.correlationData = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      any = true;
    }
    if (props.contentType !== undefined) {
      out.contentType = props.contentType;
      any = true;
    }
    if (props.payloadFormatIndicator !== undefined) {
      out.payloadFormatIndicator = props.payloadFormatIndicator;
      any = true;
    }
    if (props.messageExpiryInterval !== undefined) {
      out.messageExpiryInterval = props.messageExpiryInterval;
      any = true;
    }
    if (props.userProperties !== undefined) {
      out.userProperties = copyUserProperties(props.userProperties);
      any = true;
    }
  }
  if (out.contentType === undefined && contentType !== undefined) {
    out.contentType = contentType;
    any = true;
  }
  if (trace !== undefined) {
    const keys = Object.keys(trace);
    if (keys.length > 0) {
      const up = (out.userProperties ??= {});
      for (const k of keys) if (up[k] === undefined) up[k] = trace[k] as string;
      any = true;
    }
  }
  return any ? out : undefined;
}

function copyUserProperties(up: Readonly<Record<string, string | readonly string[]>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(up)) out[k] = typeof v === "string" ? v : [...v];
  return out;
}

/** An incoming mqtt.js publish packet → our Message. */
export function toMessage(packet: IPublishPacket): Message {
  const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload, "utf8") : packet.payload;
  const p = packet.properties;
  let properties: MessageProperties | undefined;
  if (p !== undefined) {
    const m: { -readonly [K in keyof MessageProperties]: MessageProperties[K] } = {};
    if (p.responseTopic !== undefined) m.responseTopic = p.responseTopic;
    if (p.correlationData !== undefined) m.correlationData = p.correlationData;
    if (p.contentType !== undefined) m.contentType = p.contentType;
    if (p.payloadFormatIndicator !== undefined) m.payloadFormatIndicator = p.payloadFormatIndicator;
    if (p.messageExpiryInterval !== undefined) m.messageExpiryInterval = p.messageExpiryInterval;
    if (p.userProperties !== undefined) m.userProperties = p.userProperties;
    if (p.subscriptionIdentifier !== undefined) m.subscriptionIdentifier = p.subscriptionIdentifier;
    properties = m;
  }
  return {
    payload,
    topic: packet.topic,
    qos: packet.qos,
    retained: packet.retain,
    duplicate: packet.dup,
    messageId: packet.qos > 0 ? packet.messageId : undefined,
    properties,
  };
}

/** User properties as trace-context headers (or undefined). */
export function traceHeaders(message: Message): Readonly<Record<string, HeaderValue>> | undefined {
  const up = message.properties?.userProperties;
  if (up === undefined || (up["traceparent"] === undefined && up["baggage"] === undefined)) return undefined;
  return up;
}
