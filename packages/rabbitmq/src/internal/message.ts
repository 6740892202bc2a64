/**
 * amqplib messages ↔ Pirouette messages, and message body encoding.
 * @internal
 * @module
 */
import type { Message as AmqpMessage, Options } from "amqplib";
import type { HeaderValue } from "@pirouette/core";
import { RabbitMqError } from "../errors.ts";
import type { Message, MessageProperties, PublishProperties } from "../options.ts";

const PROPERTY_KEYS = [
  "replyTo",
  "contentType",
  "contentEncoding",
  "correlationId",
  "headers",
  "messageId",
  "timestamp",
  "type",
  "appId",
  "userId",
  "expiration",
  "priority",
  "deliveryMode",
] as const;

/** Only the properties that are set. */
export function toProperties(p: AmqpMessage["properties"]): MessageProperties {
  const out: Record<string, unknown> = {};
  for (const k of PROPERTY_KEYS) {
    const v: unknown = p[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out;
}

/** A received amqplib message as a Pirouette {@link Message}. */
export function toMessage(raw: AmqpMessage, queue: string): Message {
  return {
    content: raw.content,
    routingKey: raw.fields.routingKey,
    exchange: raw.fields.exchange,
    deliveryTag: raw.fields.deliveryTag,
    redelivered: raw.fields.redelivered,
    queue,
    properties: toProperties(raw.properties),
  };
}

/** The string and byte headers, for trace-context extraction; undefined when there is no trace header. */
export function traceHeaders(headers: Readonly<Record<string, unknown>> | undefined): Record<string, HeaderValue> | undefined {
  if (headers === undefined || !("traceparent" in headers)) return undefined;
  const out: Record<string, HeaderValue> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v === "string" || v instanceof Uint8Array) out[k] = v;
  }
  return out;
}

/** Body encoding: bytes as is, strings as UTF-8 text, anything else as JSON (undefined: empty). */
export function encodeContent(value: unknown): { content: Buffer; contentType: string | undefined } {
  if (value instanceof Uint8Array) {
    const content = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { content, contentType: undefined };
  }
  if (typeof value === "string") return { content: Buffer.from(value, "utf8"), contentType: "text/plain; charset=utf-8" };
  if (value === undefined) return { content: Buffer.alloc(0), contentType: undefined };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new RabbitMqError("RABBITMQ_ENCODE", `the message content cannot be encoded as JSON: ${(e as Error).message}`, { cause: e });
  }
  if (text === undefined) throw new RabbitMqError("RABBITMQ_ENCODE", `a ${typeof value} cannot be encoded as JSON`);
  return { content: Buffer.from(text, "utf8"), contentType: "application/json" };
}

/** Pirouette publish properties → amqplib publish options. */
export function publishOptions(
  props: PublishProperties | MessageProperties | undefined,
  defaults: { readonly persistent: boolean; readonly mandatory: boolean; readonly contentType: string | undefined },
): Options.Publish {
  const o: Options.Publish = { mandatory: defaults.mandatory };
  const persistent = (props as PublishProperties | undefined)?.persistent;
  if (props?.deliveryMode !== undefined) o.deliveryMode = props.deliveryMode;
  else o.persistent = persistent ?? defaults.persistent;
  const contentType = props?.contentType ?? defaults.contentType;
  if (contentType !== undefined) o.contentType = contentType;
  if (props === undefined) return o;
  if (props.replyTo !== undefined) o.replyTo = props.replyTo;
  if (props.contentEncoding !== undefined) o.contentEncoding = props.contentEncoding;
  if (props.correlationId !== undefined) o.correlationId = props.correlationId;
  if (props.headers !== undefined) o.headers = { ...props.headers };
  if (props.messageId !== undefined) o.messageId = props.messageId;
  if (props.timestamp !== undefined) o.timestamp = props.timestamp;
  if (props.type !== undefined) o.type = props.type;
  if (props.appId !== undefined) o.appId = props.appId;
  if (props.userId !== undefined) o.userId = props.userId;
  if (props.expiration !== undefined) o.expiration = props.expiration;
  if (props.priority !== undefined) o.priority = props.priority;
  return o;
}
