/**
 * The `text` codec (strict UTF-8) and the UTF-8 and limit helpers the other codecs share.
 *
 * @module
 */

import { types } from "node:util";
import { PayloadBindingError, PirouetteError } from "../errors.ts";
import type { Codec } from "./codec.ts";

/**
 * The default byte-size cap of the parsing codecs (`json`, `text`, `csv`): 1 MiB.
 *
 * @example
 * ```ts
 * const codec = json({ maxBytes: 4 * DEFAULT_MAX_BYTES }); // allow up to 4 MiB
 * ```
 */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

/**
 * Options of the {@link text} codec.
 *
 * @example
 * ```ts
 * const options: TextCodecOptions = { maxBytes: 64 * 1024 };
 * const codec = text(options);
 * ```
 */
export interface TextCodecOptions {
  /**
   * Largest payload `decode` accepts, in bytes, checked before decoding. Default 1 MiB
   * (`1_048_576`); `Infinity` turns the check off.
   */
  readonly maxBytes?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
// In a `u` regex a well-formed surrogate pair is one code point, so this only matches lone halves.
const loneSurrogate = /\p{Cs}/u;

/**
 * A strict UTF-8 text codec: `decode` rejects invalid UTF-8 (instead of inserting U+FFFD) and
 * payloads over `maxBytes`; `encode` rejects strings holding lone surrogates, which have no
 * UTF-8 form. A leading byte-order mark is dropped on decode.
 *
 * @example
 * ```ts
 * const codec = text({ maxBytes: 64 * 1024 });
 * codec.decode(codec.encode("héllo")); // "héllo"
 * codec.decode(new Uint8Array([0xff])); // throws PayloadBindingError: not valid UTF-8
 * ```
 */
export function text(options: TextCodecOptions = {}): Codec<string> {
  const maxBytes = checkMaxBytes(options.maxBytes, DEFAULT_MAX_BYTES);
  return {
    name: "text",
    contentType: "text/plain; charset=utf-8",
    encode(value: string): Uint8Array {
      return encodeUtf8(value, "text");
    },
    decode(bytes: Uint8Array): string {
      return decodeUtf8(bytes, "text", maxBytes);
    },
  };
}

/**
 * Encode a string as UTF-8, refusing non-strings and lone surrogates. Shared by the codecs.
 *
 * @internal
 * @example
 * ```ts
 * encodeUtf8("a,b\n", "csv"); // Uint8Array [97, 44, 98, 10]
 * ```
 */
export function encodeUtf8(value: string, codec: string): Uint8Array {
  if (typeof value !== "string") {
    throw new PayloadBindingError(`${codec} codec can only encode a string, got ${describe(value)}`, {
      cause: new TypeError(`expected a string, got ${describe(value)}`),
    });
  }
  const bad = loneSurrogate.exec(value);
  if (bad !== null) {
    throw new PayloadBindingError(
      `${codec} codec cannot encode a lone surrogate (at index ${bad.index}) as UTF-8`,
      { cause: new TypeError("string is not well-formed UTF-16") },
    );
  }
  return encoder.encode(value);
}

/**
 * Check that `bytes` is a `Uint8Array` (a `Buffer` is one) no longer than `maxBytes`, then
 * decode it as strict UTF-8. Shared by the codecs; every failure is a `PayloadBindingError`.
 *
 * @internal
 * @example
 * ```ts
 * decodeUtf8(Buffer.from("hi"), "text", 1024); // "hi"
 * ```
 */
export function decodeUtf8(bytes: Uint8Array, codec: string, maxBytes: number): string {
  checkBytes(bytes, codec, maxBytes);
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new PayloadBindingError(`${codec} payload is not valid UTF-8`, { cause });
  }
}

/**
 * Check that `bytes` is a `Uint8Array` no longer than `maxBytes`, without reading it.
 *
 * @internal
 * @example
 * ```ts
 * checkBytes(payload, "json", 1024 * 1024); // throws PayloadBindingError if over 1 MiB
 * ```
 */
export function checkBytes(bytes: Uint8Array, codec: string, maxBytes: number): void {
  if (!types.isUint8Array(bytes)) {
    throw new PayloadBindingError(`${codec} codec can only decode a Uint8Array, got ${describe(bytes)}`, {
      cause: new TypeError(`expected a Uint8Array, got ${describe(bytes)}`),
    });
  }
  if (bytes.byteLength > maxBytes) {
    const detail = `${codec} payload is ${bytes.byteLength} bytes, over the ${maxBytes}-byte limit (maxBytes)`;
    throw new PayloadBindingError(detail, { cause: new RangeError(detail) });
  }
}

/**
 * Validate a `maxBytes` option (a non-negative integer or `Infinity`) and apply its default.
 *
 * @internal
 * @example
 * ```ts
 * checkMaxBytes(undefined, 1024); // 1024
 * checkMaxBytes(-1, 1024); // throws PirouetteError INVALID_ARGUMENT
 * ```
 */
export function checkMaxBytes(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value >= 0)) return value;
  throw new PirouetteError(
    "INVALID_ARGUMENT",
    `maxBytes must be a non-negative integer or Infinity, got ${String(value)}`,
  );
}

/**
 * A short description of a value's type for error messages (never its content).
 *
 * @internal
 * @example
 * ```ts
 * describe(null); // "null"
 * describe(new Uint8Array(2)); // "Uint8Array"
 * ```
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === "string" && name !== "" ? name : "object";
}
