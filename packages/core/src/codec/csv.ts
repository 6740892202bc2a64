/**
 * The `csv` codec, on csv-parse and csv-stringify.
 *
 * @module
 */

import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { PayloadBindingError, PirouetteError } from "../errors.ts";
import type { Codec } from "./codec.ts";
import { checkMaxBytes, DEFAULT_MAX_BYTES, decodeUtf8, describe, encodeUtf8 } from "./text.ts";

/**
 * A CSV record read with a header line: column name → field.
 *
 * @example
 * ```ts
 * const records: CsvRecord[] = csv({ columns: true }).decode(Buffer.from("id,name\n1,Ada\n"));
 * records[0]?.["name"]; // "Ada"
 * ```
 */
export type CsvRecord = Record<string, string>;

/**
 * Options of the {@link csv} codec.
 *
 * @example
 * ```ts
 * const options: CsvCodecOptions = { delimiter: "\t", skipEmptyLines: true, maxBytes: 8 * 1024 * 1024 };
 * const tsv = csv(options);
 * ```
 */
export interface CsvCodecOptions {
  /**
   * When `true`, the first line is a header and each record is an object keyed by column name
   * (`Codec<CsvRecord[]>`); `encode` writes a header line made of every key, in order of first
   * appearance. When `false` (the default), records are arrays of fields (`Codec<string[][]>`).
   */
  readonly columns?: boolean;
  /** The field delimiter, one or more characters. Default `","`. */
  readonly delimiter?: string;
  /**
   * Largest payload `decode` accepts, in bytes, checked before decoding. Default 1 MiB
   * (`1_048_576`); `Infinity` turns the check off.
   */
  readonly maxBytes?: number;
  /** Drop empty lines on `decode` instead of reading them as one empty field. Default `false`. */
  readonly skipEmptyLines?: boolean;
}

/**
 * A CSV codec (RFC 4180 quoting: fields holding the delimiter, a quote or a line break are
 * quoted, quotes doubled). `decode` checks `maxBytes` first, rejects invalid UTF-8 and reports
 * malformed CSV (an unclosed quote, a record with the wrong number of fields) as a
 * `PayloadBindingError` whose `cause` is the csv-parse error. Fields are always strings.
 *
 * With `columns: true`, header names must be unique and must not be `__proto__`.
 *
 * @example
 * ```ts
 * const rows = csv();
 * rows.decode(rows.encode([["id", "note"], ["1", 'said "hi", left']])); // same rows back
 *
 * const records = csv({ columns: true, delimiter: ";" });
 * records.decode(Buffer.from("id;name\n1;Ada\n")); // [{ id: "1", name: "Ada" }]
 * ```
 */
export function csv(options: CsvCodecOptions & { readonly columns: true }): Codec<CsvRecord[]>;
export function csv(options?: CsvCodecOptions & { readonly columns?: false }): Codec<string[][]>;
export function csv(options?: CsvCodecOptions): Codec<string[][]> | Codec<CsvRecord[]>;
export function csv(options: CsvCodecOptions = {}): Codec<string[][]> | Codec<CsvRecord[]> {
  const maxBytes = checkMaxBytes(options.maxBytes, DEFAULT_MAX_BYTES);
  const delimiter = options.delimiter ?? ",";
  if (typeof delimiter !== "string" || delimiter === "") {
    throw new PirouetteError("INVALID_ARGUMENT", "csv delimiter must be a non-empty string");
  }
  const skipEmptyLines = options.skipEmptyLines === true;
  const base = { name: "csv", contentType: "text/csv; charset=utf-8" } as const;

  if (options.columns === true) {
    const records: Codec<CsvRecord[]> = {
      ...base,
      encode(value: CsvRecord[]): Uint8Array {
        if (!Array.isArray(value)) throw notArray(value);
        if (value.length === 0) return new Uint8Array(0);
        const columns = columnsOf(value);
        return write(() => stringify(value, { delimiter, header: true, columns }));
      },
      decode(input: Uint8Array): CsvRecord[] {
        const source = decodeUtf8(input, "csv", maxBytes);
        return read(() =>
          parse<CsvRecord>(source, { delimiter, skip_empty_lines: skipEmptyLines, columns: checkHeader }),
        );
      },
    };
    return records;
  }

  const rows: Codec<string[][]> = {
    ...base,
    encode(value: string[][]): Uint8Array {
      if (!Array.isArray(value)) throw notArray(value);
      return write(() => stringify(value, { delimiter }));
    },
    decode(input: Uint8Array): string[][] {
      const source = decodeUtf8(input, "csv", maxBytes);
      return read(() => parse(source, { delimiter, skip_empty_lines: skipEmptyLines }));
    },
  };
  return rows;
}

function read<T>(run: () => T): T {
  try {
    return run();
  } catch (cause) {
    if (PirouetteError.is(cause)) throw cause;
    throw new PayloadBindingError(`csv payload is not valid CSV: ${messageOf(cause)}`, { cause });
  }
}

function write(run: () => string): Uint8Array {
  let written: string;
  try {
    written = run();
  } catch (cause) {
    throw new PayloadBindingError(`csv codec cannot serialize the value: ${messageOf(cause)}`, { cause });
  }
  return encodeUtf8(written, "csv");
}

function checkHeader(header: string[]): string[] {
  const seen = new Set<string>();
  for (const name of header) {
    if (name === "__proto__") {
      const detail = "csv header has a column named __proto__";
      throw new PayloadBindingError(detail, { cause: new SyntaxError(detail) });
    }
    if (seen.has(name)) {
      const detail = `csv header names the column ${JSON.stringify(name)} twice`;
      throw new PayloadBindingError(detail, { cause: new SyntaxError(detail) });
    }
    seen.add(name);
  }
  return header;
}

function columnsOf(records: readonly CsvRecord[]): string[] {
  const columns = new Set<string>();
  for (const record of records) {
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      throw new PayloadBindingError(`csv codec with columns: true can only encode objects, got ${describe(record)}`, {
        cause: new TypeError(`expected an object, got ${describe(record)}`),
      });
    }
    for (const key of Object.keys(record)) columns.add(key);
  }
  return [...columns];
}

function notArray(value: unknown): PayloadBindingError {
  return new PayloadBindingError(`csv codec can only encode an array of records, got ${describe(value)}`, {
    cause: new TypeError(`expected an array, got ${describe(value)}`),
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
