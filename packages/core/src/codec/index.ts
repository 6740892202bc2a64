/**
 * Codecs (`json`, `text`, `bytes`, `csv`) and payload binding (`bind`, `validate`).
 *
 * @example
 * ```ts
 * import { bind, json } from "./codec/index.ts";
 * const order = await bind(bytes, { codec: json({ maxDepth: 16 }), schema: Order });
 * ```
 *
 * @module
 */

export type { Codec } from "./codec.ts";
export { json, DEFAULT_MAX_DEPTH, type JsonCodecOptions } from "./json.ts";
export { text, DEFAULT_MAX_BYTES, type TextCodecOptions } from "./text.ts";
export { bytes, type BytesCodecOptions } from "./bytes.ts";
export { csv, type CsvCodecOptions, type CsvRecord } from "./csv.ts";
export { bind, isStandardSchema, validate, type BindOptions } from "./validate.ts";
