/**
 * The `json` codec: JSON that is safe to parse from untrusted peers.
 *
 * @module
 */

import sjson from "secure-json-parse";
import { PayloadBindingError, PirouetteError } from "../errors.ts";
import type { Codec } from "./codec.ts";
import { checkMaxBytes, DEFAULT_MAX_BYTES, decodeUtf8, describe } from "./text.ts";

/**
 * The default nesting cap of the {@link json} codec: 64 levels.
 *
 * @example
 * ```ts
 * const lenient = json({ maxDepth: 2 * DEFAULT_MAX_DEPTH });
 * ```
 */
export const DEFAULT_MAX_DEPTH = 64;

/**
 * Options of the {@link json} codec. All limits apply to `decode`.
 *
 * @example
 * ```ts
 * const options: JsonCodecOptions = { maxBytes: 256 * 1024, maxDepth: 16, unsafeIntegers: "error" };
 * const codec = json(options);
 * ```
 */
export interface JsonCodecOptions {
  /**
   * Largest payload `decode` accepts, in bytes, checked on the byte length before anything is
   * decoded or parsed. Default 1 MiB (`1_048_576`); `Infinity` turns the check off.
   */
  readonly maxBytes?: number;
  /**
   * Deepest nesting of arrays and objects `decode` accepts. `[]` has depth 1, `[[]]` depth 2.
   * Checked by a linear scan before parsing, so a deeply nested payload costs no recursion.
   * Default 64.
   */
  readonly maxDepth?: number;
  /**
   * What `decode` does with an integer literal beyond `Number.MAX_SAFE_INTEGER` in magnitude
   * (such as `12345678901234567890`, which `JSON.parse` silently rounds): `"error"` (default)
   * rejects the payload, `"allow"` accepts the rounded number. Numbers written with a fraction
   * or an exponent are never "integer literals". Non-finite numbers (`1e400`) are always
   * rejected.
   */
  readonly unsafeIntegers?: "error" | "allow";
}

const encoder = new TextEncoder();
const parseOptions = { protoAction: "error", constructorAction: "error" } as const;

/**
 * A JSON codec that is safe for untrusted input. `decode`, in order:
 *
 * 1. rejects payloads over `maxBytes` (default 1 MiB) from the byte length, before decoding;
 * 2. rejects invalid UTF-8 (a leading byte-order mark is dropped);
 * 3. rejects nesting deeper than `maxDepth` (default 64) before parsing, integer literals
 *    beyond `Number.MAX_SAFE_INTEGER` (unless `unsafeIntegers: "allow"`) and numbers that
 *    overflow to `Infinity`;
 * 4. rejects `__proto__` keys and `constructor.prototype` (secure-json-parse's rules).
 *
 * The common case is fast (bench/codec.ts): when the text has at most `maxDepth` brackets it
 * cannot nest deeper, so it is parsed with `JSON.parse` at once and only the parsed numbers are
 * looked at (an unsafe or non-finite one sends the text through the exact scan, which tells an
 * integer literal from `1e20`); text without `__proto__`, `constructor` or a `\u` escape cannot
 * hold a forbidden key, so it skips secure-json-parse. Other text is scanned first, as before.
 *
 * Every failure is a `PayloadBindingError` (code `"PAYLOAD_BINDING"`) whose `cause` holds the
 * underlying error. `encode` is `JSON.stringify` as UTF-8; values it cannot write (a `BigInt`,
 * a cycle, a top-level `undefined` or function) throw a `PayloadBindingError`. As with
 * `JSON.stringify`, `NaN` and `±Infinity` are written as `null` and `-0` as `0`.
 *
 * `T` is not checked at run time: pair the codec with a schema (see `bind`) to get a typed
 * value you can trust.
 *
 * @example
 * ```ts
 * const codec = json<{ id: number }>({ maxBytes: 64 * 1024, maxDepth: 16 });
 * codec.decode(codec.encode({ id: 1 })); // { id: 1 }
 * codec.decode(Buffer.from('{"__proto__":{"admin":true}}')); // throws PayloadBindingError
 * ```
 */
export function json<T = unknown>(options: JsonCodecOptions = {}): Codec<T> {
  const maxBytes = checkMaxBytes(options.maxBytes, DEFAULT_MAX_BYTES);
  const maxDepth = checkMaxDepth(options.maxDepth);
  const unsafeIntegers = options.unsafeIntegers ?? "error";
  if (unsafeIntegers !== "error" && unsafeIntegers !== "allow") {
    throw new PirouetteError(
      "INVALID_ARGUMENT",
      `unsafeIntegers must be "error" or "allow", got ${JSON.stringify(unsafeIntegers)}`,
    );
  }
  const rejectUnsafeIntegers = unsafeIntegers === "error";
  return {
    name: "json",
    contentType: "application/json",
    encode(value: T): Uint8Array {
      let written: string | undefined;
      try {
        written = JSON.stringify(value);
      } catch (cause) {
        throw new PayloadBindingError(`json codec cannot serialize the value: ${messageOf(cause)}`, {
          cause,
          code: "PAYLOAD_BINDING",
        });
      }
      if (written === undefined) {
        throw new PayloadBindingError(`json codec cannot serialize a value of type ${describe(value)}`, {
          cause: new TypeError(`JSON.stringify returned undefined for a ${describe(value)}`),
          code: "PAYLOAD_BINDING",
        });
      }
      return encoder.encode(written);
    },
    decode(bytes: Uint8Array): T {
      const source = decodeUtf8(bytes, "json", maxBytes);
      if (!fewBrackets(source, maxDepth)) {
        // Might nest too deep: the exact scan first, so that nothing deep is ever parsed.
        scan(source, maxDepth, rejectUnsafeIntegers);
        return parse(source) as T;
      }
      const value = parse(source);
      // Cannot nest deeper than maxDepth (≤ its bracket count), so this walk is bounded too.
      if (suspectNumber(value)) scan(source, maxDepth, rejectUnsafeIntegers);
      return value as T;
    },
  };
}

/**
 * Parse with the prototype-pollution rules: straight `JSON.parse` when the text cannot spell a
 * forbidden key (no `__proto__`, no `constructor`, no `\u` escape), else secure-json-parse.
 */
function parse(source: string): unknown {
  try {
    if (!source.includes("__proto__") && !source.includes("constructor") && !source.includes("\\u")) {
      return JSON.parse(source) as unknown;
    }
    return sjson.parse(source, null, parseOptions) as unknown;
  } catch (cause) {
    const message = messageOf(cause);
    if (message.includes("forbidden prototype property")) {
      throw new PayloadBindingError(
        "json payload rejected: it contains a __proto__ key or a constructor.prototype key (prototype pollution)",
        { cause },
      );
    }
    throw new PayloadBindingError(`json payload is not valid JSON: ${message}`, { cause });
  }
}

/** Brackets beyond which the fast path is not taken even with `maxDepth: Infinity` (bounds the walk's recursion). */
const WALK_LIMIT = 1000;

/**
 * Whether `source` has at most `maxDepth` `[` and `{` in all, strings included (then it cannot
 * nest deeper), and at most {@link WALK_LIMIT}.
 */
function fewBrackets(source: string, maxDepth: number): boolean {
  const limit = Math.min(maxDepth, WALK_LIMIT);
  let n = 0;
  for (let i = source.indexOf("["); i >= 0; i = source.indexOf("[", i + 1)) if (++n > limit) return false;
  for (let i = source.indexOf("{"); i >= 0; i = source.indexOf("{", i + 1)) if (++n > limit) return false;
  return true;
}

/**
 * Whether a parsed value holds a number beyond ±`Number.MAX_SAFE_INTEGER` or a non-finite one:
 * an unsafe integer literal or an overflow, unless it was written with a fraction or an
 * exponent, which only the text tells.
 */
function suspectNumber(value: unknown): boolean {
  if (typeof value === "number") return !(value <= Number.MAX_SAFE_INTEGER && value >= -Number.MAX_SAFE_INTEGER);
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (suspectNumber(value[i])) return true;
    return false;
  }
  for (const k in value) if (suspectNumber((value as Record<string, unknown>)[k])) return true;
  return false;
}

function checkMaxDepth(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_DEPTH;
  if (value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value >= 0)) return value;
  throw new PirouetteError(
    "INVALID_ARGUMENT",
    `maxDepth must be a non-negative integer or Infinity, got ${String(value)}`,
  );
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER); // "9007199254740991", 16 digits

/**
 * One linear pass over the text, outside strings: tracks bracket depth and checks every number
 * token. Malformed text is left for the parser to report; this only enforces limits.
 */
function scan(source: string, maxDepth: number, rejectUnsafeIntegers: boolean): void {
  const length = source.length;
  let depth = 0;
  let i = 0;
  while (i < length) {
    const c = source.charCodeAt(i);
    if (c === QUOTE) {
      i++;
      while (i < length) {
        const d = source.charCodeAt(i);
        if (d === QUOTE) break;
        i += d === BACKSLASH ? 2 : 1;
      }
      i++;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth++;
      if (depth > maxDepth) {
        fail(`json payload nests deeper than ${maxDepth} levels (maxDepth) at offset ${i}`);
      }
      i++;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (depth > 0) depth--;
      i++;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      const start = i;
      let integer = true;
      let exponent = false;
      i++;
      while (i < length) {
        const d = source.charCodeAt(i);
        if (d >= ZERO && d <= NINE) {
          i++;
        } else if (d === DOT || d === LOWER_E || d === UPPER_E || d === PLUS || d === MINUS) {
          integer = false;
          if (d === LOWER_E || d === UPPER_E) exponent = true;
          i++;
        } else {
          break;
        }
      }
      const size = i - start;
      // Up to 15 digits an integer is always safe, and a finite double needs an exponent or
      // more than 300 digits to overflow: most numbers need no further look.
      if (integer && rejectUnsafeIntegers && size > 15) {
        const digits = source.charCodeAt(start) === MINUS ? size - 1 : size;
        if (isUnsafeInteger(source.slice(i - digits, i))) {
          fail(
            `json payload has the integer ${abbreviate(source.slice(start, i))} at offset ${start}, ` +
              `beyond Number.MAX_SAFE_INTEGER; it would lose precision ` +
              `(send it as a string, or use the option unsafeIntegers: "allow")`,
          );
        }
      }
      if (exponent || size > 300) {
        const token = source.slice(start, i);
        const value = Number(token);
        // NaN means a malformed token, which the parser reports with its own message.
        if (value === Number.POSITIVE_INFINITY || value === Number.NEGATIVE_INFINITY) {
          fail(`json payload has the number ${abbreviate(token)} at offset ${start}, which is not a finite double`);
        }
      }
    } else {
      i++;
    }
  }
}

/** Whether a run of decimal digits (no sign) is an integer beyond `Number.MAX_SAFE_INTEGER`. */
function isUnsafeInteger(digits: string): boolean {
  // A leading zero is not JSON: leave it to the parser's own error.
  if (digits.charCodeAt(0) === ZERO) return false;
  if (digits.length !== MAX_SAFE_DIGITS.length) return digits.length > MAX_SAFE_DIGITS.length;
  return digits > MAX_SAFE_DIGITS;
}

function fail(detail: string): never {
  throw new PayloadBindingError(detail, { cause: new RangeError(detail) });
}

function abbreviate(token: string): string {
  return token.length <= 40 ? token : `${token.slice(0, 20)}…(${token.length} characters)`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
