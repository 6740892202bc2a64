/**
 * Rows → CSV text on csv-stringify, with the header and column rules of the writers.
 * @internal
 * @module
 */
import { stringify, type Options as StringifyOptions } from "csv-stringify/sync";
import { IoError } from "../errors.ts";
import type { CsvWriteOptions, CsvWriteRow } from "../csv-format.ts";

/** What an append found in the existing file. */
export interface ExistingCsv {
  /** The existing header's column names (its first row), when it could be read. */
  readonly columns: readonly string[] | undefined;
  /** Why the first row could not be read as a header. */
  readonly error?: IoError;
}

/**
 * Encodes batches of rows. The first row decides the kind: arrays are written as they are;
 * records become arrays in column order (`columns`, else the first record's keys), a header
 * line first unless `header: false` or the columns came from an existing file.
 */
export class CsvEncoder {
  readonly #stringifyOptions: StringifyOptions;
  readonly #wantHeader: boolean;
  #columns: readonly string[] | undefined;
  #columnSet: ReadonlySet<string> | undefined;
  #kind: "list" | "record" | undefined;
  #headerWritten: boolean;
  #count = 0;
  #existingError: IoError | undefined;

  constructor(options: CsvWriteOptions = {}, existing?: ExistingCsv) {
    const delimiter = options.delimiter ?? ",";
    const quote = options.textEnclosure ?? '"';
    const escape = options.escapeChar ?? quote;
    const terminator = options.lineTerminator ?? "\n";
    const nilValue = options.nilValue ?? "";
    for (const [name, value] of [
      ["delimiter", delimiter],
      ["textEnclosure", quote],
      ["escapeChar", escape],
    ] as const) {
      if (typeof value !== "string" || value === "") {
        throw new IoError("INVALID_ARGUMENT", `${name} must be a non-empty string, got ${JSON.stringify(value)}`);
      }
    }
    if (terminator !== "\n" && terminator !== "\r\n") {
      throw new IoError("INVALID_ARGUMENT", `lineTerminator must be "\\n" or "\\r\\n"`);
    }
    if (typeof nilValue !== "string") throw new IoError("INVALID_ARGUMENT", "nilValue must be a string");
    if (options.columns !== undefined) checkColumns(options.columns, "columns");
    const nil = { value: nilValue, quoted_empty: false, quoted_match: null } as const;
    this.#stringifyOptions = {
      delimiter,
      quote,
      escape,
      record_delimiter: terminator === "\n" ? "unix" : "windows",
      // An empty string is written "" and null/undefined as nilValue unquoted, so that a reader
      // (PostgreSQL, or parseToStream with nilValue) can tell them apart.
      quoted_empty: true,
      ...(nilValue === "" ? {} : { quoted_match: new RegExp(`^${escapeRegExp(nilValue)}$`) }),
      cast: {
        boolean: (value) => (value ? "true" : "false"),
        date: (value) => (Number.isNaN(value.getTime()) ? "" : value.toISOString()),
        null: () => nil,
        undefined: () => nil,
        object: (value) => JSON.stringify(value),
      },
    };
    this.#wantHeader = options.header !== false;
    if (existing !== undefined) {
      // Appending to a file with content: never a second header; records follow its column order.
      this.#columns = existing.columns;
      this.#existingError = existing.columns === undefined ? existing.error : undefined;
      this.#headerWritten = true;
    } else {
      this.#columns = options.columns;
      this.#headerWritten = false;
    }
    this.#columnSet = this.#columns === undefined ? undefined : new Set(this.#columns);
  }

  /** CSV text for `rows` (with the header before the first record). */
  encode(rows: readonly CsvWriteRow[]): string {
    if (rows.length === 0) return "";
    const first = rows[0];
    if (this.#kind === undefined) this.#kind = Array.isArray(first) ? "list" : "record";
    if (this.#kind === "list") {
      for (const row of rows) {
        this.#count++;
        if (!Array.isArray(row)) throw this.#mixed(row);
      }
      return stringify(rows as unknown[][], this.#stringifyOptions);
    }
    const lists: unknown[][] = new Array<unknown[]>(rows.length);
    let head = "";
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      this.#count++;
      if (typeof row !== "object" || row === null || Array.isArray(row)) throw this.#mixed(row);
      let columns = this.#columns;
      if (columns === undefined && this.#existingError !== undefined) throw this.#existingError;
      if (columns === undefined) {
        columns = Object.keys(row);
        checkColumns(columns, `the keys of row ${this.#count}`);
        this.#columns = columns;
        this.#columnSet = new Set(columns);
      }
      if (!this.#headerWritten) {
        this.#headerWritten = true;
        if (this.#wantHeader) head = this.header();
      }
      const set = this.#columnSet as ReadonlySet<string>;
      const record = row as Record<string, unknown>;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) continue;
        if (!set.has(key)) {
          throw new IoError(
            "IO_CSV_HEADER",
            `CSV row ${this.#count} has the field ${JSON.stringify(key)}, which is not a column (columns: ${columns.join(", ")})`,
            { coordinates: { row: this.#count } },
          );
        }
      }
      const list = new Array<unknown>(columns.length);
      for (let c = 0; c < columns.length; c++) list[c] = record[columns[c] as string];
      lists[i] = list;
    }
    return head + stringify(lists, this.#stringifyOptions);
  }

  /** The header line, when records are written with known columns (else ""). */
  header(): string {
    if (this.#columns === undefined) return "";
    return stringify([this.#columns], { ...this.#stringifyOptions, quoted_empty: false });
  }

  /** For an empty input: a header-only file when `columns` were given and a header is wanted. */
  finish(): string {
    if (this.#kind !== undefined || this.#headerWritten || !this.#wantHeader || this.#columns === undefined) return "";
    this.#headerWritten = true;
    return this.header();
  }

  #mixed(row: unknown): IoError {
    const expected = this.#kind === "list" ? "an array" : "an object";
    return new IoError("INVALID_ARGUMENT", `CSV row ${this.#count} is ${describe(row)}, expected ${expected} like the first row`, {
      coordinates: { row: this.#count },
    });
  }
}

function checkColumns(columns: readonly unknown[], what: string): void {
  if (!Array.isArray(columns) || columns.some((c) => typeof c !== "string")) {
    throw new IoError("INVALID_ARGUMENT", `${what} must be an array of strings`);
  }
  if (new Set(columns).size !== columns.length) throw new IoError("INVALID_ARGUMENT", `${what} name a column twice`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
