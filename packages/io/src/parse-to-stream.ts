/**
 * `parseToStream`: CSV byte blocks → one record per element (Ballerina's `csv:parseToStream`).
 *
 * @module
 */
import type { Stream } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { IoError } from "./errors.ts";
import { csvRecordStream, type ByteSource } from "./internal/csv-source.ts";
import type { ParseOptions } from "./options.ts";

export type { ByteSource } from "./internal/csv-source.ts";

/**
 * A field as read: a string, or `null` for a `nilValue` when the options set one.
 *
 * @example
 * ```ts
 * type F = CsvField<{ nilValue: "NULL" }>; // string | null
 * ```
 */
export type CsvField<O extends ParseOptions> = O extends { readonly nilValue: string } ? string | null : string;

/**
 * The element type `parseToStream` yields without a schema: a record keyed by column name, or
 * the `string[]` of fields when `header` is `null` and no `customHeadersIfHeadersAbsent` are given.
 * (Pass the options inline or `as const` so that TypeScript sees `header: null`.)
 *
 * @example
 * ```ts
 * type R = CsvRow<{ header: null }>; // string[]
 * type S = CsvRow<{}>; // Record<string, string>
 * ```
 */
export type CsvRow<O extends ParseOptions> = O extends { readonly header: null }
  ? O extends { readonly customHeadersIfHeadersAbsent: readonly string[] }
    ? Record<string, CsvField<O>>
    : CsvField<O>[]
  : Record<string, CsvField<O>>;

/**
 * Parse CSV bytes into a lazy `Stream` of records, one element per row (Ballerina's
 * `csv:parseToStream`), on csv-parse. Byte blocks are pulled from `source` only as records are
 * consumed, so memory stays bounded whatever the input size; closing the result (a `break`,
 * `take`, `close()`) closes `source`.
 *
 * - With a header (default: line 0), each element is a record `{ column: field }`; with
 *   `header: null`, a `string[]` (or a record keyed by `customHeadersIfHeadersAbsent`).
 * - With a Standard Schema (zod, valibot, arktype), each row is converted and validated through
 *   it, and the element is the schema's output (`z.coerce.number()` turns fields into numbers).
 * - Malformed CSV completes the stream with an `IoError` (`IO_CSV_PARSE`, `IO_CSV_HEADER`,
 *   `IO_CSV_VALIDATION`) whose `coordinates` hold `line` and `row`; rows before it are delivered
 *   first. With `failSafe`, bad rows are reported and skipped instead. A failing `source`
 *   completes it with `IO_SOURCE` (the source's error is the `cause`; an `IoError` passes as is).
 *
 * @param source - byte blocks: a `Stream<Uint8Array>`, a Node readable, any (async) iterable, bytes or a string
 * @param options - Ballerina `ParseOptions` (see {@link ParseOptions}); invalid options throw `INVALID_ARGUMENT` at once
 * @param schema - optional Standard Schema every row must satisfy
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const Order = z.object({ id: z.string(), amount: z.coerce.number() });
 * const orders = parseToStream(fileReadBlocksAsStream("orders.csv"), { delimiter: ";" }, Order);
 * for await (const order of orders) if (order.amount > 1000) console.log(order.id);
 *
 * const rows = parseToStream(Buffer.from("a,1\nb,2\n"), { header: null }); // Stream<string[]>
 * ```
 */
export function parseToStream<S extends StandardSchemaV1>(
  source: ByteSource,
  options: ParseOptions | undefined,
  schema: S,
): Stream<StandardSchemaV1.InferOutput<S>, IoError>;
export function parseToStream<const O extends ParseOptions = Record<never, never>>(
  source: ByteSource,
  options?: O,
): Stream<CsvRow<O>, IoError>;
export function parseToStream(
  source: ByteSource,
  options?: ParseOptions,
  schema?: StandardSchemaV1,
): Stream<unknown, IoError> {
  return csvRecordStream(source, options, schema);
}
