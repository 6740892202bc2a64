/**
 * The `bytes` codec: payloads as raw bytes.
 *
 * @module
 */

import { types } from "node:util";
import { PayloadBindingError } from "../errors.ts";
import type { Codec } from "./codec.ts";
import { checkBytes, checkMaxBytes, describe } from "./text.ts";

/**
 * Options of the {@link bytes} codec.
 *
 * @example
 * ```ts
 * const options: BytesCodecOptions = { copy: true, maxBytes: 16 * 1024 * 1024 };
 * const codec = bytes(options);
 * ```
 */
export interface BytesCodecOptions {
  /**
   * When `true`, `decode` returns a fresh `Uint8Array` the caller may keep or mutate. When
   * `false` (the default) it returns the bytes it was given, which may be a view on a transport
   * buffer that is reused once the handler returns.
   */
  readonly copy?: boolean;
  /**
   * Largest payload `decode` accepts, in bytes. Default `Infinity`: raw bytes cost nothing to
   * "parse", so only the transport's own cap applies unless you set one here.
   */
  readonly maxBytes?: number;
}

/**
 * The identity codec: `encode` and `decode` pass a `Uint8Array` (or a `Buffer`, which is one)
 * through unchanged. `decode` copies only when `copy: true`.
 *
 * @example
 * ```ts
 * const raw = bytes();
 * raw.decode(Buffer.from([1, 2, 3])); // the same Buffer
 * const kept = bytes({ copy: true }).decode(frame); // a fresh Uint8Array, safe to keep
 * ```
 */
export function bytes(options: BytesCodecOptions = {}): Codec<Uint8Array> {
  const copy = options.copy === true;
  const maxBytes = checkMaxBytes(options.maxBytes, Number.POSITIVE_INFINITY);
  return {
    name: "bytes",
    contentType: "application/octet-stream",
    encode(value: Uint8Array): Uint8Array {
      if (!types.isUint8Array(value)) {
        throw new PayloadBindingError(`bytes codec can only encode a Uint8Array, got ${describe(value)}`, {
          cause: new TypeError(`expected a Uint8Array, got ${describe(value)}`),
        });
      }
      return value;
    },
    decode(input: Uint8Array): Uint8Array {
      checkBytes(input, "bytes", maxBytes);
      return copy ? new Uint8Array(input) : input;
    },
  };
}
