/**
 * CSV for the client and the listener: reading goes through `@pirouette/io`'s `parseToStream`
 * (Ballerina's ParseOptions), writing through core's `csv` codec (csv-stringify).
 *
 * @internal
 * @module
 */
import { csv, PayloadBindingError, PayloadValidationError, PirouetteError, type Stream } from "@pirouette/core";
import { IoError, parseToStream, type ParseOptions } from "@pirouette/io";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { FtpError } from "../errors.ts";

/**
 * Records from CSV bytes. Malformed CSV becomes a `PayloadBindingError` (a row failing the
 * schema a `PayloadValidationError`) with `coordinates.path`, `line` and `row`; a failed
 * transfer stays the `FtpError` it was.
 */
export function csvRecords(bytes: Stream<Uint8Array, FtpError>, path: string, options: ParseOptions | undefined, schema: StandardSchemaV1 | undefined): Stream<unknown, Error> {
  const parsed: Stream<unknown, IoError> = schema === undefined ? parseToStream(bytes, options) : parseToStream(bytes, options, schema);
  return parsed.mapError((e) => csvError(e, path));
}

/** An io error from CSV parsing → the binding error a listener and `getCsv` report. */
export function csvError(e: unknown, path: string): Error {
  if (FtpError.isFtpError(e)) return e;
  if (IoError.is(e)) {
    if (e.code === "IO_SOURCE" && FtpError.isFtpError(e.cause)) return e.cause;
    const coordinates = { ...e.coordinates, path };
    if (e.code === "IO_CSV_VALIDATION" && e.cause instanceof PayloadValidationError) {
      return new PayloadValidationError(e.cause.issues, { coordinates, cause: e });
    }
    if (e.code === "IO_CSV_PARSE" || e.code === "IO_CSV_HEADER" || e.code === "IO_CSV_VALIDATION") {
      return new PayloadBindingError(`${path}: ${e.message}`, { coordinates, cause: e });
    }
    return e;
  }
  if (PirouetteError.is(e) || e instanceof Error) return e;
  return new Error(String(e));
}

/**
 * A CSV row to write: an array of fields, or a record (its values in column order; `null` and
 * `undefined` are empty fields, dates ISO strings, other objects JSON).
 *
 * @example
 * ```ts
 * const rows: ftp.CsvWriteRow[] = [{ id: "a1", amount: 12 }, ["a2", 7]];
 * ```
 */
export type CsvWriteRow = readonly unknown[] | Readonly<Record<string, unknown>>;

function field(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

const rowsCodec = csv();

/** Turns rows into CSV bytes, chunk by chunk; records get a header line first unless told otherwise. */
export class CsvEncoder {
  #columns: readonly string[] | undefined;
  #headerPending: boolean;

  /** `columns`: the existing file's header (append); `writeHeader`: whether a header line is due. */
  constructor(columns: readonly string[] | undefined, writeHeader: boolean) {
    this.#columns = columns;
    this.#headerPending = writeHeader;
  }

  encode(rows: readonly CsvWriteRow[]): Uint8Array {
    const out: string[][] = [];
    for (const row of rows) {
      if (Array.isArray(row)) {
        out.push((row as readonly unknown[]).map(field));
        continue;
      }
      if (typeof row !== "object" || row === null) {
        throw new FtpError("FTP_SOURCE", `a CSV row must be an array or a record; got ${row === null ? "null" : typeof row}`);
      }
      const rec = row as Readonly<Record<string, unknown>>;
      this.#columns ??= Object.keys(rec);
      if (this.#headerPending) {
        out.push([...this.#columns]);
        this.#headerPending = false;
      }
      out.push(this.#columns.map((c) => field(rec[c])));
    }
    return out.length === 0 ? new Uint8Array(0) : rowsCodec.encode(out);
  }
}

/** Parse one header line (the first line of an existing CSV file). */
export function parseHeaderLine(line: string): string[] | undefined {
  const trimmed = line.replace(/\r?\n$/, "");
  if (trimmed === "") return undefined;
  try {
    return rowsCodec.decode(Buffer.from(trimmed, "utf8"))[0];
  } catch {
    return undefined;
  }
}
