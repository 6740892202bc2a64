/**
 * Writing CSV: rows or records → CSV text (`stringifyCsv`) or a lazy stream of CSV bytes
 * (`stringifyToStream`), on csv-stringify.
 *
 * @module
 */
import { Stream, type StreamSource } from "@pirouette/core";
import { IoError } from "./errors.ts";
import { batches } from "./internal/batch.ts";
import { CsvEncoder, type ExistingCsv } from "./internal/csv-encoder.ts";

/** Rows stringified together (csv-stringify has a fixed cost per call). */
const ROWS_PER_BATCH = 1024;

/**
 * A row to write: an array of fields, or a record (any object) whose values are written in
 * column order. Strings are quoted when needed (RFC 4180), an empty string is written `""`,
 * `null`/`undefined` as `nilValue` (default: nothing), numbers and bigints as text, booleans as
 * `true`/`false`, dates in ISO 8601, other objects as JSON.
 *
 * @example
 * ```ts
 * const rows: CsvWriteRow[] = [["id", "amount"], ["1", 10]];
 * const records: CsvWriteRow[] = [{ id: "1", amount: 10 }];
 * ```
 */
export type CsvWriteRow = readonly unknown[] | object;

/**
 * Options of the CSV writers, named like {@link ParseOptions} so that what one writes, the
 * other reads back.
 *
 * @example
 * ```ts
 * const options: CsvWriteOptions = { delimiter: ";", lineTerminator: "\r\n", columns: ["id", "amount"] };
 * ```
 */
export interface CsvWriteOptions {
  /** The field delimiter. Default `","`. */
  readonly delimiter?: string;
  /** The quote around fields that need one. Default `"\""`. */
  readonly textEnclosure?: string;
  /** Escapes a quote inside a quoted field. Default: the `textEnclosure` (doubled quotes, RFC 4180). */
  readonly escapeChar?: string;
  /** Default `"\n"`. */
  readonly lineTerminator?: "\n" | "\r\n";
  /**
   * For records: write a header line (the column names) before the first record. Default `true`.
   * (An append to a CSV file that already has content never writes one again.)
   */
  readonly header?: boolean;
  /**
   * For records: the columns, in order. Default: the keys of the first record, in their order.
   * A record with a key outside the columns fails with `IO_CSV_HEADER` (nothing is dropped
   * silently); a missing key is written as `nilValue`.
   */
  readonly columns?: readonly string[];
  /** How `null` and `undefined` are written. Default `""` (an empty, unquoted field). */
  readonly nilValue?: string;
}

/**
 * CSV text for `rows` (arrays of fields, or records with a header line first), on
 * csv-stringify. Rows must all be arrays or all be records.
 *
 * @example
 * ```ts
 * stringifyCsv([{ id: "1", note: 'say "hi"' }]); // 'id,note\n1,"say ""hi"""\n'
 * stringifyCsv([["a", null, ""]]); // 'a,,""\n'
 * ```
 */
export function stringifyCsv(rows: Iterable<CsvWriteRow>, options: CsvWriteOptions = {}): string {
  if (rows === null || typeof rows !== "object" || typeof (rows as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new IoError("INVALID_ARGUMENT", "stringifyCsv needs an array or iterable of rows");
  }
  const encoder = new CsvEncoder(options);
  const list = Array.isArray(rows) ? (rows as readonly CsvWriteRow[]) : [...rows];
  return encoder.encode(list) + encoder.finish();
}

/**
 * A lazy stream of CSV bytes (UTF-8) for a stream of rows: rows are pulled only as the bytes
 * are consumed, one block per chunk of rows. Use it to upload CSV (`ftpClient.putBytesAsStream`)
 * or to write it anywhere a byte stream goes. Closing the result closes `rows`; a failure of
 * `rows` completes it with `IO_SOURCE` (an `IoError` passes as is).
 *
 * @param rows - a `Stream` or any (async) iterable of rows (see {@link CsvWriteRow})
 * @param options - see {@link CsvWriteOptions}
 *
 * @example
 * ```ts
 * const bytes = stringifyToStream(orders.filter((o) => o.amount > 1000));
 * await sftp.putBytesAsStream("/out/big-orders.csv", bytes);
 * ```
 */
export function stringifyToStream(
  rows: Stream<CsvWriteRow, unknown> | AsyncIterable<CsvWriteRow> | Iterable<CsvWriteRow>,
  options: CsvWriteOptions = {},
): Stream<Uint8Array, IoError> {
  return encodeStream(rows, new CsvEncoder(options));
}

/** @internal The byte stream of an encoder (also used by the appending file writer). */
export function encodeStream(
  rows: Stream<CsvWriteRow, unknown> | AsyncIterable<CsvWriteRow> | Iterable<CsvWriteRow>,
  encoder: CsvEncoder,
): Stream<Uint8Array, IoError> {
  const input = batches(toStream(rows), ROWS_PER_BATCH);
  let done = false;
  const source: StreamSource<Uint8Array> = {
    async pull() {
      for (;;) {
        if (done) return null;
        let batch: CsvWriteRow[] | null;
        try {
          batch = await input.next();
        } catch (cause) {
          throw sourceError(cause);
        }
        if (batch === null) {
          done = true;
          const tail = encoder.finish();
          return tail === "" ? null : [Buffer.from(tail)];
        }
        const text = encoder.encode(batch);
        if (text !== "") return [Buffer.from(text)];
      }
    },
    close: () => input.close(),
  };
  return new Stream<Uint8Array, IoError>(source);
}

/** @internal */
export function newEncoder(options: CsvWriteOptions, existing?: ExistingCsv): CsvEncoder {
  return new CsvEncoder(options, existing);
}

function toStream(rows: unknown): Stream<CsvWriteRow, unknown> {
  if (
    rows === null ||
    typeof rows !== "object" ||
    (typeof (rows as AsyncIterable<unknown>)[Symbol.asyncIterator] !== "function" &&
      typeof (rows as Iterable<unknown>)[Symbol.iterator] !== "function")
  ) {
    throw new IoError("INVALID_ARGUMENT", "the rows must be a Stream, an array or an (async) iterable");
  }
  return Stream.from<CsvWriteRow, unknown>(rows as Iterable<CsvWriteRow>);
}

/** @internal A failure of a caller's stream, as `IO_SOURCE` (an `IoError` passes as is). */
export function sourceError(cause: unknown): IoError {
  if (IoError.is(cause)) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new IoError("IO_SOURCE", `the source stream failed: ${message}`, { cause });
}
