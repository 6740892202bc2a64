/**
 * Public option types of `@pirouette/io`.
 *
 * @module
 */
import type { Logger } from "@pirouette/core";
import type { IoError } from "./errors.ts";

/**
 * A line terminator `parseToStream` accepts (Ballerina's `LineTerminator`: `LF`, `CRLF`; plus
 * classic Mac `"\r"`).
 *
 * @example
 * ```ts
 * const terminators: LineTerminator[] = ["\n", "\r\n"];
 * ```
 */
export type LineTerminator = "\n" | "\r\n" | "\r";

/**
 * Fail-safe mode of {@link ParseOptions.failSafe}: a malformed row (bad quoting, wrong number
 * of fields, schema failure) is reported and skipped instead of failing the stream.
 *
 * @example
 * ```ts
 * let skipped = 0;
 * const failSafe: FailSafeOptions = { onError: (e) => { skipped++; log.warn(e.coordinates, e.message); } };
 * ```
 */
export interface FailSafeOptions {
  /** Called with each skipped row's error (`IO_CSV_PARSE` or `IO_CSV_VALIDATION`, with `coordinates.line`). */
  readonly onError?: (error: IoError) => void;
  /** Each skipped row is logged at `warn` on this pino-compatible logger. */
  readonly logger?: Logger;
  /** Also print each skipped row to the console (`console.warn`), as Ballerina's `enableConsoleLogs`. Default `false`. */
  readonly enableConsoleLogs?: boolean;
}

/**
 * Options of `parseToStream` (and the CSV readers), with Ballerina `data.csv` `ParseOptions`
 * names and defaults. Fields are strings; a Standard Schema passed next to the options converts
 * and validates them (zod `z.coerce.number()` …).
 *
 * Differences from Ballerina, on purpose: `escapeChar` defaults to the `textEnclosure` (RFC 4180
 * doubled quotes, which PostgreSQL, Excel and csv-stringify write) instead of `"\\"`; set
 * `escapeChar: "\\"` for backslash-escaped files. `skipLines` counts data rows.
 *
 * @example
 * ```ts
 * const options: ParseOptions = { delimiter: ";", header: 1, skipLines: "1-3", nilValue: "NULL", failSafe: true };
 * ```
 */
export interface ParseOptions {
  /** The field delimiter (one or more characters). Default `","`. */
  readonly delimiter?: string;
  /** The character enclosing quoted fields. Default `"\""`. */
  readonly textEnclosure?: string;
  /**
   * The character escaping a `textEnclosure` (or itself) inside a quoted field. Default: the
   * `textEnclosure` itself, so `"say ""hi"""` reads `say "hi"` (RFC 4180). With `"\\"`,
   * `"say \"hi\""` reads the same, but a doubled quote is then an error.
   */
  readonly escapeChar?: string;
  /** Accepted line terminators. Default `["\n", "\r\n"]` (Ballerina's `[LF, CRLF]`). */
  readonly lineTerminator?: LineTerminator | readonly LineTerminator[];
  /**
   * Lines starting with this character are comments and skipped (a `#` inside a row is data).
   * Default `"#"`; `null` turns comments off.
   */
  readonly comment?: string | null;
  /**
   * Where the header is: the 0-based line index of the header line (lines before it are skipped
   * unparsed, e.g. a preamble), or `null` when there is no header. Default `0`.
   */
  readonly header?: number | null;
  /** Column names to use when `header` is `null`: rows then become records with these keys. */
  readonly customHeadersIfHeadersAbsent?: readonly string[];
  /**
   * Data rows to drop, 1-based and counted after the header (comments and blank lines are not
   * rows): a list `[1, 4]` or a range string `"2-5"` (several: `"1-3,7"`). Default none.
   */
  readonly skipLines?: readonly number[] | string;
  /**
   * An unquoted field equal to this becomes `null` (e.g. `"NULL"`, `"N/A"`, or `""` for
   * PostgreSQL's CSV, where `""` stays an empty string). Default: none (fields stay strings).
   */
  readonly nilValue?: string;
  /** Skip and report malformed rows instead of failing the stream. Default `false`. */
  readonly failSafe?: boolean | FailSafeOptions;
  /** Longest record, in characters, before `IO_CSV_PARSE` (guards memory against a runaway quote). Default 1 MiB. */
  readonly maxRecordSize?: number;
  /** Text encoding of the bytes. Default `"utf8"`. A UTF-8 byte-order mark is dropped. */
  readonly encoding?: BufferEncoding;
}

/**
 * How a writer treats an existing file (Ballerina's `io:FileWriteOption`).
 *
 * @example
 * ```ts
 * await fileWriteLinesFromStream("audit.log", lines, "APPEND");
 * ```
 */
export type FileWriteOption = "OVERWRITE" | "APPEND";
