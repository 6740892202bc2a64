/**
 * Outgoing message encoding and dispatcher-key method names.
 * @internal
 * @module
 */
import { Readable } from "node:stream";
import { Stream, type Codec } from "@pirouette/core";

export interface Outgoing {
  readonly data: string | Buffer;
  readonly binary: boolean;
}

/** A string → text; bytes → binary; anything else → the codec's bytes (JSON) as a text message. */
export function encodeMessage(value: unknown, codec: Codec<unknown>): Outgoing {
  if (typeof value === "string") return { data: value, binary: false };
  if (value instanceof Uint8Array) return { data: Buffer.from(value.buffer, value.byteOffset, value.byteLength), binary: true };
  if (value instanceof ArrayBuffer) return { data: Buffer.from(value), binary: true };
  const bytes = codec.encode(value);
  return { data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), binary: false };
}

/** Whether a returned value is streamed (one message per element). */
export function isMessageStream(value: unknown): value is Stream<unknown, unknown> | AsyncIterable<unknown> {
  if (value instanceof Stream) return true;
  if (typeof value !== "object" || value === null || value instanceof Readable) return false;
  return typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === "function";
}

/** The service methods a routed message can never reach. */
export const LIFECYCLE_METHODS: ReadonlySet<string> = new Set([
  "onUpgrade",
  "onOpen",
  "onTextMessage",
  "onBinaryMessage",
  "onMessage",
  "onPing",
  "onPong",
  "onIdleTimeout",
  "onClose",
  "onError",
]);

/** `heartbeat` → `onHeartbeat`, `user-joined` / `user_joined` → `onUserJoined`; undefined when not routable. */
export function routedMethodName(value: string): string | undefined {
  const parts = value.split(/[-_\s.]+/).filter((p) => p.length > 0);
  if (parts.length === 0) return undefined;
  let name = "on";
  for (const p of parts) {
    if (!/^[A-Za-z0-9]+$/.test(p)) return undefined;
    name += p.charAt(0).toUpperCase() + p.slice(1);
  }
  // Lifecycle methods and `on<Name>Error` handlers are never routing targets.
  return LIFECYCLE_METHODS.has(name) || name.endsWith("Error") ? undefined : name;
}

/** Bytes as a Uint8Array view (no copy). */
export function asBytes(data: Buffer): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
