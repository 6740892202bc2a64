/**
 * The CSV record source behind `parseToStream` and `fileReadCsvAsStream`: csv-parse's `Parser`
 * fed one byte block per pull, its records collected synchronously, then mapped to records,
 * filtered (`skipLines`) and validated.
 * @internal
 * @module
 */
import { PirouetteError, Stream, validate, type StreamSource } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Parser, type Options as CsvParseOptions } from "csv-parse";
import { IoError } from "../errors.ts";
import type { FailSafeOptions, LineTerminator, ParseOptions } from "../options.ts";
import { skipLinesPredicate } from "./skip-lines.ts";

/**
 * What `parseToStream` reads: a `Stream` or any (async) iterable of byte blocks (a Node
 * readable, `fs.createReadStream`, a web `ReadableStream`…), or one buffer or string.
 */
export type ByteSource =
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>
  | Uint8Array
  | string;

/** Coordinates added to every error (e.g. the file path). */
type Coordinates = Readonly<Record<string, unknown>>;

const DEFAULT_MAX_RECORD_SIZE = 1_048_576;
const DEFAULT_LINE_TERMINATORS: readonly LineTerminator[] = ["\n", "\r\n"];

/** A row csv-parse rejected while in fail-safe mode; kept in order among the good rows. */
class Skipped {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

type RawRow = (string | null)[];

/**
 * csv-parse's documented Transform, with `push` collecting records into arrays instead of the
 * readable buffer: no per-record stream machinery, and the line of each record is read from
 * `info` at the moment it is emitted.
 */
class RowCollector extends Parser {
  rows: (RawRow | Skipped)[] = [];
  lines: number[] = [];

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return super.push(null, encoding);
    this.rows.push(chunk as RawRow);
    this.lines.push(this.info.lines);
    return true;
  }

  skip(error: unknown): void {
    this.rows.push(new Skipped(error));
    this.lines.push(this.info.lines);
  }
}

interface Resolved {
  readonly parser: RowCollector;
  readonly header: number | null;
  readonly customHeaders: readonly string[] | undefined;
  readonly skip: ((row: number) => boolean) | undefined;
  readonly failSafe: FailSafeOptions | undefined;
  readonly nilValue: string | undefined;
}

function resolve(options: ParseOptions): Resolved {
  if (typeof options !== "object" || options === null) {
    throw new IoError("INVALID_ARGUMENT", "parse options must be an object");
  }
  const delimiter = options.delimiter ?? ",";
  const quote = options.textEnclosure ?? '"';
  const escape = options.escapeChar ?? quote;
  for (const [name, value] of [
    ["delimiter", delimiter],
    ["textEnclosure", quote],
    ["escapeChar", escape],
  ] as const) {
    if (typeof value !== "string" || value === "") {
      throw new IoError("INVALID_ARGUMENT", `${name} must be a non-empty string, got ${JSON.stringify(value)}`);
    }
  }
  const terminators = options.lineTerminator ?? DEFAULT_LINE_TERMINATORS;
  const recordDelimiter = typeof terminators === "string" ? [terminators] : [...terminators];
  if (recordDelimiter.length === 0 || recordDelimiter.some((t) => t !== "\n" && t !== "\r\n" && t !== "\r")) {
    throw new IoError("INVALID_ARGUMENT", `lineTerminator must be "\\n", "\\r\\n" or "\\r" (or a list of them)`);
  }
  const comment = options.comment === undefined ? "#" : options.comment;
  if (comment !== null && (typeof comment !== "string" || comment === "")) {
    throw new IoError("INVALID_ARGUMENT", "comment must be a non-empty string or null");
  }
  const header = options.header === undefined ? 0 : options.header;
  if (header !== null && (!Number.isInteger(header) || header < 0)) {
    throw new IoError("INVALID_ARGUMENT", `header must be a line index ≥ 0 or null, got ${String(header)}`);
  }
  const customHeaders = options.customHeadersIfHeadersAbsent;
  if (customHeaders !== undefined) {
    if (!Array.isArray(customHeaders) || customHeaders.some((h) => typeof h !== "string")) {
      throw new IoError("INVALID_ARGUMENT", "customHeadersIfHeadersAbsent must be an array of strings");
    }
    const problem = headerProblem(customHeaders);
    if (problem !== undefined) throw new IoError("INVALID_ARGUMENT", `customHeadersIfHeadersAbsent: ${problem}`);
  }
  const maxRecordSize = options.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE;
  if (!(maxRecordSize === Infinity || (Number.isInteger(maxRecordSize) && maxRecordSize > 0))) {
    throw new IoError("INVALID_ARGUMENT", `maxRecordSize must be a positive integer or Infinity`);
  }
  const nilValue = options.nilValue;
  if (nilValue !== undefined && typeof nilValue !== "string") {
    throw new IoError("INVALID_ARGUMENT", "nilValue must be a string");
  }
  const failSafe = options.failSafe === true ? {} : options.failSafe === false ? undefined : options.failSafe;
  const skip = skipLinesPredicate(options.skipLines);

  let parser!: RowCollector;
  const csvOptions: CsvParseOptions = {
    delimiter,
    quote,
    escape,
    record_delimiter: recordDelimiter,
    comment: comment ?? "",
    comment_no_infix: true,
    from_line: header === null ? 1 : header + 1,
    skip_empty_lines: true,
    bom: true,
    encoding: options.encoding ?? "utf8",
    max_record_size: maxRecordSize === Infinity ? 0 : maxRecordSize,
    skip_records_with_error: failSafe !== undefined,
    on_skip: (error) => {
      parser.skip(error);
      return undefined;
    },
  };
  if (nilValue !== undefined) {
    csvOptions.cast = (value, context) => (context.quoting || value !== nilValue ? value : null);
  }
  try {
    parser = new RowCollector(csvOptions);
  } catch (cause) {
    throw new IoError("INVALID_ARGUMENT", `invalid CSV options: ${messageOf(cause)}`, { cause });
  }
  parser.on("error", () => undefined); // reported through the write/end callbacks
  return { parser, header, customHeaders, skip, failSafe, nilValue };
}

/**
 * Build the record stream. `coordinates` (e.g. `{ path }`) are added to every error.
 * @internal
 */
export function csvRecordStream<T>(
  input: ByteSource,
  options: ParseOptions = {},
  schema?: StandardSchemaV1,
  coordinates: Coordinates = {},
): Stream<T, IoError> {
  if (schema !== undefined && (typeof schema !== "object" && typeof schema !== "function" || schema === null || !("~standard" in schema))) {
    throw new IoError("INVALID_ARGUMENT", "the schema must be a Standard Schema (zod, valibot, arktype…)");
  }
  const { parser, header, customHeaders, skip, failSafe, nilValue } = resolve(options);
  const bytes = toStream(input);
  let it: AsyncIterator<Uint8Array | string> | undefined;
  let headers: readonly string[] | undefined = header === null ? customHeaders : undefined;
  let headerPending = header !== null;
  let row = 0;
  let inputDone = false;
  let closed = false;
  let fatal: IoError | undefined;
  let pendingError: { readonly cause: unknown; readonly line: number } | undefined;

  const where = (line: number | undefined, rowNumber: number | undefined): Coordinates => ({
    ...coordinates,
    ...(line === undefined ? {} : { line }),
    ...(rowNumber === undefined ? {} : { row: rowNumber }),
  });

  const report = (error: IoError): void => {
    const fs = failSafe as FailSafeOptions;
    fs.logger?.warn({ err: error, code: error.code, ...error.coordinates }, "skipped a malformed CSV row");
    if (fs.enableConsoleLogs === true) console.warn(`[@pirouette/io] skipped CSV row: ${error.message}`);
    fs.onError?.(error);
  };

  const parseError = (cause: unknown, fallbackLine: number | undefined, rowNumber: number | undefined): IoError => {
    if (IoError.is(cause)) return cause;
    const line = lineOf(cause) ?? fallbackLine;
    return new IoError("IO_CSV_PARSE", `malformed CSV${line === undefined ? "" : ` at line ${line}`}: ${messageOf(cause)}`, {
      cause,
      coordinates: where(line, rowNumber),
    });
  };

  const validationError = (cause: unknown, line: number, rowNumber: number): IoError =>
    new IoError("IO_CSV_VALIDATION", `CSV row ${rowNumber} (line ${line}) does not match the schema: ${messageOf(cause)}`, {
      cause,
      coordinates: where(line, rowNumber),
    });

  /** A row failed: skip and report it in fail-safe mode, else stop (rows before it still go out). */
  const rowFailed = (error: IoError): boolean => {
    if (failSafe !== undefined) {
      report(error);
      return false;
    }
    fatal = error;
    return true;
  };

  const processRows = async (): Promise<unknown[]> => {
    const rows = parser.rows;
    const lines = parser.lines;
    parser.rows = [];
    parser.lines = [];
    const out: unknown[] = [];
    const n = rows.length;
    for (let i = 0; i < n; i++) {
      const raw = rows[i] as RawRow | Skipped;
      const line = lines[i] as number;
      if (raw instanceof Skipped) {
        if (headerPending) {
          fatal = parseError(raw.error, line, undefined);
          break;
        }
        if (rowFailed(parseError(raw.error, line, ++row))) break;
        continue;
      }
      if (headerPending) {
        headerPending = false;
        const names = raw.map((name) => name ?? nilValue ?? "");
        const problem = headerProblem(names);
        if (problem !== undefined) {
          fatal = new IoError("IO_CSV_HEADER", `bad CSV header at line ${line}: ${problem}`, {
            coordinates: where(line, undefined),
          });
          break;
        }
        headers = names;
        continue;
      }
      row++;
      if (skip?.(row) === true) continue;
      let value: unknown = raw;
      if (headers !== undefined) {
        if (raw.length !== headers.length) {
          const error = new IoError(
            "IO_CSV_PARSE",
            `malformed CSV at line ${line}: the row has ${raw.length} fields, the header ${headers.length}`,
            { coordinates: where(line, row) },
          );
          if (rowFailed(error)) break;
          continue;
        }
        value = toRecord(headers, raw);
      }
      if (schema !== undefined) {
        const checked = validateRow(schema, value, where(line, row));
        if (checked instanceof Failure) {
          if (rowFailed(validationError(checked.cause, line, row))) break;
          continue;
        }
        if (checked instanceof Promise) {
          const settled: unknown = await (checked as Promise<unknown>);
          if (settled instanceof Failure) {
            if (rowFailed(validationError(settled.cause, line, row))) break;
            continue;
          }
          value = settled;
        } else value = checked;
      }
      out.push(value);
    }
    return out;
  };

  const feed = async (): Promise<void> => {
    it ??= bytes[Symbol.asyncIterator]();
    let r: IteratorResult<Uint8Array | string>;
    try {
      r = await it.next();
    } catch (cause) {
      throw IoError.is(cause)
        ? cause
        : new IoError("IO_SOURCE", `the CSV byte source failed: ${messageOf(cause)}`, {
            cause,
            coordinates: where(undefined, undefined),
          });
    }
    if (closed) return;
    let error: unknown;
    if (r.done === true) {
      inputDone = true;
      error = await new Promise<unknown>((resolveEnd) => parser.end((err?: unknown) => resolveEnd(err)));
    } else {
      const chunk = r.value;
      if (typeof chunk !== "string" && !(chunk instanceof Uint8Array)) {
        throw new IoError("INVALID_ARGUMENT", `the CSV byte source yielded ${typeof chunk}, not a Uint8Array or string`);
      }
      error = await new Promise<unknown>((resolveWrite) => parser.write(chunk, (err) => resolveWrite(err)));
    }
    if (error !== undefined && error !== null) {
      inputDone = true;
      // Built once the rows parsed before it are processed, so that `row` is right.
      pendingError = { cause: error, line: parser.info.lines };
    }
  };

  const source: StreamSource<T> = {
    async pull() {
      for (;;) {
        if (closed) return null;
        if (parser.rows.length > 0) {
          const out = await processRows();
          if (out.length > 0) return out as T[];
          continue;
        }
        if (pendingError !== undefined && fatal === undefined) {
          fatal = parseError(pendingError.cause, pendingError.line, row + 1);
        }
        if (fatal !== undefined) throw fatal;
        if (inputDone) return null;
        await feed();
      }
    },
    async close() {
      closed = true;
      parser.rows = [];
      parser.lines = [];
      parser.destroy();
      await bytes.close();
    },
  };
  return new Stream<T, IoError>(source);
}

function toStream(input: ByteSource): Stream<Uint8Array | string, unknown> {
  if (typeof input === "string" || input instanceof Uint8Array) return Stream.of<Uint8Array | string>(input);
  if (
    input === null ||
    typeof input !== "object" ||
    (typeof (input as AsyncIterable<unknown>)[Symbol.asyncIterator] !== "function" &&
      typeof (input as Iterable<unknown>)[Symbol.iterator] !== "function")
  ) {
    throw new IoError("INVALID_ARGUMENT", "parseToStream needs a byte Stream, an (async) iterable of byte blocks, bytes or a string");
  }
  return Stream.from<Uint8Array | string, unknown>(input);
}

function toRecord(headers: readonly string[], row: RawRow): Record<string, string | null> {
  const record: Record<string, string | null> = {};
  for (let i = 0; i < headers.length; i++) record[headers[i] as string] = row[i] as string | null;
  return record;
}

function headerProblem(names: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const name of names) {
    if (name === "__proto__") return "a column is named __proto__";
    if (seen.has(name)) return `the column ${JSON.stringify(name)} appears twice`;
    seen.add(name);
  }
  return undefined;
}

class Failure {
  readonly cause: unknown;
  constructor(cause: unknown) {
    this.cause = cause;
  }
}

/**
 * Validate one row. A synchronous schema that accepts the row costs no promise; a rejected
 * row (or an asynchronous schema) goes through core `validate`, which builds the
 * `PayloadValidationError` with the coordinates.
 */
function validateRow(schema: StandardSchemaV1, value: unknown, coordinates: Coordinates): unknown {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>> | undefined;
  try {
    result = schema["~standard"].validate(value);
  } catch {
    result = undefined; // core validate reports the throw as a PayloadBindingError
  }
  if (result !== undefined && !(result instanceof Promise) && result.issues === undefined) return result.value;
  return validate(schema, value, coordinates).then(
    (v): unknown => v,
    (cause: unknown) => new Failure(cause),
  );
}

function lineOf(error: unknown): number | undefined {
  const lines = (error as { lines?: unknown } | null)?.lines;
  return typeof lines === "number" && lines > 0 ? lines : undefined;
}

function messageOf(error: unknown): string {
  if (PirouetteError.is(error) || error instanceof Error) return error.message;
  return String(error);
}
