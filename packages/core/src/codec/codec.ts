/**
 * The `Codec` contract: how a payload's bytes become a value and back.
 *
 * @module
 */

/**
 * Picks the wire format of a payload: `encode` turns a value into bytes, `decode` turns bytes
 * into a value. Codecs are synchronous and never see protocol details; `decode` throws a
 * {@link PayloadBindingError} when the bytes are not acceptable (bad syntax, wrong encoding,
 * over a size or depth limit).
 *
 * Payload binding is "codec, then schema": see `bind` and `validate`.
 *
 * @example
 * ```ts
 * const upper: Codec<string> = {
 *   name: "upper-text",
 *   contentType: "text/plain; charset=utf-8",
 *   encode: (value) => new TextEncoder().encode(value.toUpperCase()),
 *   decode: (bytes) => new TextDecoder("utf-8", { fatal: true }).decode(bytes),
 * };
 * upper.decode(upper.encode("hi")); // "HI"
 * ```
 */
export interface Codec<T> {
  /** A short, stable name for logs and errors, e.g. `"json"`. */
  readonly name: string;
  /** The MIME type the codec writes, e.g. `"application/json"`. */
  readonly contentType: string;
  /** Turn a value into bytes. Throws a `PayloadBindingError` if the value cannot be written. */
  encode(value: T): Uint8Array;
  /** Turn bytes into a value. Throws a `PayloadBindingError` if the bytes are not acceptable. */
  decode(bytes: Uint8Array): T;
}
