/**
 * Value → bytes for the in-memory transport: bytes as is, strings as UTF-8, anything else JSON.
 * @internal
 * @module
 */
import { PayloadBindingError } from "../errors.ts";

/** @internal */
export function encodeValue(value: unknown): { bytes: Uint8Array; contentType: string } {
  if (value instanceof Uint8Array) return { bytes: value, contentType: "application/octet-stream" };
  if (typeof value === "string") return { bytes: Buffer.from(value, "utf8"), contentType: "text/plain; charset=utf-8" };
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new PayloadBindingError(`value cannot be encoded as JSON: ${(e as Error).message}`, { cause: e });
  }
  if (text === undefined) throw new PayloadBindingError("value cannot be encoded as JSON");
  return { bytes: Buffer.from(text, "utf8"), contentType: "application/json" };
}
