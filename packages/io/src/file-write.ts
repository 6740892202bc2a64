/**
 * Writing files from streams (Ballerina's `io:fileWrite*FromStream`) and whole
 * (`fileWriteBytes`, `fileWriteString`, `fileWriteLines`, `fileWriteCsv`).
 *
 * @module
 */
import { open, stat } from "node:fs/promises";
import { Stream } from "@pirouette/core";
import { encodeStream, newEncoder, sourceError, type CsvWriteOptions, type CsvWriteRow } from "./csv-format.ts";
import { fsError, IoError } from "./errors.ts";
import { fileReadBlocksAsStream } from "./file-read.ts";
import type { ExistingCsv } from "./internal/csv-encoder.ts";
import { batches } from "./internal/batch.ts";
import { checkPath } from "./internal/file-source.ts";
import { FileSink } from "./internal/file-sink.ts";
import type { FileWriteOption } from "./options.ts";
import { parseToStream } from "./parse-to-stream.ts";

/** What the stream writers accept: a `Stream` or any (async) iterable. */
export type WritableInput<T> = Stream<T, unknown> | AsyncIterable<T> | Iterable<T>;

/**
 * Options of {@link fileWriteLinesFromStream} and {@link fileWriteLines}.
 *
 * @example
 * ```ts
 * await fileWriteLines("out.txt", ["a", "b"], { option: "APPEND", lineTerminator: "\r\n" });
 * ```
 */
export interface WriteLinesOptions {
  /** Default `"OVERWRITE"`. */
  readonly option?: FileWriteOption;
  /** Written after every line. Default `"\n"`. */
  readonly lineTerminator?: string;
  /** Default `"utf8"`. */
  readonly encoding?: BufferEncoding;
}

/**
 * Options of {@link fileWriteCsvFromStream} and {@link fileWriteCsv}: the CSV format plus the
 * write option.
 *
 * @example
 * ```ts
 * await fileWriteCsvFromStream("out.csv", records, { option: "APPEND", delimiter: ";" });
 * ```
 */
export interface CsvFileWriteOptions extends CsvWriteOptions {
  /** Default `"OVERWRITE"`. */
  readonly option?: FileWriteOption;
}

/**
 * Write a stream of byte blocks to a file (Ballerina's `io:fileWriteBlocksFromStream`). Blocks
 * are pulled only as fast as the disk takes them (each write is awaited, small blocks are
 * gathered into 64 KiB writes), so memory stays flat.
 *
 * - `"OVERWRITE"` (default) is atomic: the data goes to a temporary file next to the target,
 *   which is flushed to disk and renamed over it at the end. Readers never see a partial file,
 *   a failure leaves the old file as it was, and reading the target while writing it works.
 *   The old file's permission bits are kept. (A target that is not a regular file, such as a
 *   FIFO, is written in place.)
 * - `"APPEND"` appends in place (creating the file); on a failure what was written stays.
 *
 * Resolves when the data is on disk; rejects with an `IoError` (`IO_NOT_FOUND` for a missing
 * directory, `IO_PERMISSION`, `IO_WRITE`, or `IO_SOURCE` when `blocks` failed, its error as
 * `cause`). `blocks` is closed either way.
 *
 * @example
 * ```ts
 * await fileWriteBlocksFromStream("copy.bin", fileReadBlocksAsStream("big.bin", 65536));
 * await fileWriteBlocksFromStream("log.bin", Stream.of(new Uint8Array([1, 2])), "APPEND");
 * ```
 */
export async function fileWriteBlocksFromStream(
  path: string,
  blocks: WritableInput<Uint8Array>,
  option: FileWriteOption = "OVERWRITE",
): Promise<void> {
  const file = checkPath(path);
  const input = toStream(blocks);
  await pump(file, option, input, async (chunk, sink) => {
    for (const block of chunk) {
      if (!(block instanceof Uint8Array)) {
        throw new IoError("INVALID_ARGUMENT", `the block stream yielded ${typeof block}, not a Uint8Array`);
      }
      await sink.write(block);
    }
  }, 1);
}

/**
 * Write a stream of lines to a text file, each followed by the line terminator (Ballerina's
 * `io:fileWriteLinesFromStream`). Same atomic OVERWRITE, APPEND and backpressure as
 * {@link fileWriteBlocksFromStream}.
 *
 * @param option - `"OVERWRITE"` (default), `"APPEND"`, or {@link WriteLinesOptions}
 *
 * @example
 * ```ts
 * const errors = fileReadLinesAsStream("app.log").filter((l) => l.includes("ERROR"));
 * await fileWriteLinesFromStream("errors.log", errors);
 * ```
 */
export async function fileWriteLinesFromStream(
  path: string,
  lines: WritableInput<string>,
  option: FileWriteOption | WriteLinesOptions = "OVERWRITE",
): Promise<void> {
  const file = checkPath(path);
  const options: WriteLinesOptions = typeof option === "string" ? { option } : option;
  const terminator = options.lineTerminator ?? "\n";
  const encoding = options.encoding ?? "utf8";
  const input = toStream(lines);
  await pump(file, options.option ?? "OVERWRITE", input, async (chunk, sink) => {
    let text = "";
    for (const line of chunk) {
      if (typeof line !== "string") throw new IoError("INVALID_ARGUMENT", `the line stream yielded ${typeof line}, not a string`);
      text += line + terminator;
      if (text.length >= 65_536) {
        await sink.write(Buffer.from(text, encoding));
        text = "";
      }
    }
    if (text !== "") await sink.write(Buffer.from(text, encoding));
  }, 256);
}

/**
 * Write a stream of CSV rows to a file (Ballerina's `io:fileWriteCsvFromStream`), on
 * csv-stringify. Rows are arrays of fields or records (see {@link CsvWriteRow}); same atomic
 * OVERWRITE, APPEND and backpressure as {@link fileWriteBlocksFromStream}.
 *
 * Header rules, as in Ballerina:
 * - OVERWRITE with records: a header line (the first record's keys, or `columns`) comes first.
 * - APPEND to a file with content: no header is written again, and records are written in the
 *   column order of the file's existing header (its first row); a missing final line break is
 *   added first. APPEND to a missing or empty file behaves as OVERWRITE.
 * - Arrays never get a header; `header: false` turns it off for records.
 * - A record with a key that is not a column fails with `IO_CSV_HEADER` (nothing is dropped).
 *
 * @param option - `"OVERWRITE"` (default), `"APPEND"`, or {@link CsvFileWriteOptions}
 *
 * @example
 * ```ts
 * const big = fileReadCsvAsStream("orders.csv", Order).filter((o) => o.amount > 1000);
 * await fileWriteCsvFromStream("big-orders.csv", big);
 * await fileWriteCsvFromStream("big-orders.csv", Stream.of({ id: "x9", amount: 2000 }), "APPEND");
 * ```
 */
export async function fileWriteCsvFromStream(
  path: string,
  rows: WritableInput<CsvWriteRow>,
  option: FileWriteOption | CsvFileWriteOptions = "OVERWRITE",
): Promise<void> {
  const file = checkPath(path);
  const options: CsvFileWriteOptions = typeof option === "string" ? { option } : option;
  const input = toStream(rows);
  const mode = options.option ?? "OVERWRITE";
  let prefix = "";
  let existing: ExistingCsv | undefined;
  try {
    if (mode === "APPEND") ({ existing, prefix } = await inspectForAppend(file, options));
    const bytes = encodeStream(input, newEncoder(options, existing));
    const first = prefix === "" ? undefined : Buffer.from(prefix);
    // The encoder already gathers rows into one block per batch: pass blocks on one by one.
    await pump(
      file,
      mode,
      bytes,
      async (chunk, sink) => {
        if (first !== undefined && !sink.started) await sink.write(first);
        sink.started = true;
        for (const block of chunk) await sink.write(block);
      },
      1,
    );
  } finally {
    await input.close().catch(() => undefined);
  }
}

/**
 * Write bytes to a file (Ballerina's `io:fileWriteBytes`); OVERWRITE is atomic as in
 * {@link fileWriteBlocksFromStream}.
 *
 * @example
 * ```ts
 * await fileWriteBytes("out.bin", new Uint8Array([1, 2, 3]));
 * ```
 */
export function fileWriteBytes(path: string, bytes: Uint8Array, option: FileWriteOption = "OVERWRITE"): Promise<void> {
  if (!(bytes instanceof Uint8Array)) throw new IoError("INVALID_ARGUMENT", "fileWriteBytes needs a Uint8Array");
  return fileWriteBlocksFromStream(path, [bytes], option);
}

/**
 * Write a string to a file (Ballerina's `io:fileWriteString`), UTF-8.
 *
 * @example
 * ```ts
 * await fileWriteString("hello.txt", "hello\n");
 * ```
 */
export function fileWriteString(path: string, text: string, option: FileWriteOption = "OVERWRITE"): Promise<void> {
  if (typeof text !== "string") throw new IoError("INVALID_ARGUMENT", "fileWriteString needs a string");
  return fileWriteBlocksFromStream(path, [Buffer.from(text)], option);
}

/**
 * Write lines to a file, each followed by the terminator (Ballerina's `io:fileWriteLines`).
 *
 * @example
 * ```ts
 * await fileWriteLines("hosts.txt", ["a.example", "b.example"]);
 * ```
 */
export function fileWriteLines(
  path: string,
  lines: readonly string[],
  option: FileWriteOption | WriteLinesOptions = "OVERWRITE",
): Promise<void> {
  return fileWriteLinesFromStream(path, lines, option);
}

/**
 * Write CSV rows to a file (Ballerina's `io:fileWriteCsv`), with the header rules of
 * {@link fileWriteCsvFromStream}.
 *
 * @example
 * ```ts
 * await fileWriteCsv("people.csv", [{ name: "Ada", born: 1815 }]); // name,born\nAda,1815\n
 * ```
 */
export function fileWriteCsv(
  path: string,
  rows: readonly CsvWriteRow[],
  option: FileWriteOption | CsvFileWriteOptions = "OVERWRITE",
): Promise<void> {
  return fileWriteCsvFromStream(path, rows, option);
}

// ------------------------------------------------------------------------------------------

interface PumpSink {
  write(bytes: Uint8Array): Promise<void>;
  started: boolean;
}

/**
 * Pull `input` in batches (of up to `maxBatch` elements when it yields them one by one), hand
 * each to `write`, commit at the end; abort and rethrow on a failure. `input` is closed either way.
 * A batch is held in memory while it is written: keep `maxBatch` × element size small.
 */
async function pump<T>(
  path: string,
  option: FileWriteOption,
  input: Stream<T, unknown>,
  write: (batch: readonly T[], sink: PumpSink) => Promise<void>,
  maxBatch: number,
): Promise<void> {
  let sink: FileSink;
  try {
    sink = await FileSink.open(path, option);
  } catch (e) {
    await input.close().catch(() => undefined);
    throw e;
  }
  const target: PumpSink = { write: (bytes) => sink.write(bytes), started: false };
  const reader = batches(input, maxBatch);
  try {
    for (;;) {
      let batch: T[] | null;
      try {
        batch = await reader.next();
      } catch (cause) {
        throw sourceError(cause);
      }
      if (batch === null) break;
      await write(batch, target);
    }
    await sink.commit();
  } catch (e) {
    await sink.abort();
    throw e;
  } finally {
    await reader.close().catch(() => undefined);
  }
}

function toStream<T>(input: WritableInput<T>): Stream<T, unknown> {
  if (
    input === null ||
    typeof input !== "object" ||
    (typeof (input as AsyncIterable<T>)[Symbol.asyncIterator] !== "function" &&
      typeof (input as Iterable<T>)[Symbol.iterator] !== "function")
  ) {
    throw new IoError("INVALID_ARGUMENT", "the data to write must be a Stream, an array or an (async) iterable");
  }
  return Stream.from<T, unknown>(input as Iterable<T>);
}

/** For APPEND: the existing header (first row) and whether a line break must come first. */
async function inspectForAppend(
  path: string,
  options: CsvFileWriteOptions,
): Promise<{ existing: ExistingCsv | undefined; prefix: string }> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) return { existing: undefined, prefix: "" };
    size = info.size;
  } catch (cause) {
    if ((cause as { code?: unknown }).code === "ENOENT") return { existing: undefined, prefix: "" };
    throw fsError(cause, path, "write");
  }
  if (size === 0) return { existing: undefined, prefix: "" };
  let last: number;
  try {
    const handle = await open(path, "r");
    try {
      const { buffer } = await handle.read(Buffer.alloc(1), 0, 1, size - 1);
      last = buffer[0] as number;
    } finally {
      await handle.close();
    }
  } catch (cause) {
    throw fsError(cause, path, "write");
  }
  const prefix = last === 0x0a || last === 0x0d ? "" : (options.lineTerminator ?? "\n");
  if (options.header === false) return { existing: { columns: options.columns }, prefix };
  try {
    const header = await parseToStream(fileReadBlocksAsStream(path, 65_536), {
      header: null,
      comment: null,
      ...(options.delimiter === undefined ? {} : { delimiter: options.delimiter }),
      ...(options.textEnclosure === undefined ? {} : { textEnclosure: options.textEnclosure }),
      ...(options.escapeChar === undefined ? {} : { escapeChar: options.escapeChar }),
    }).first();
    return { existing: { columns: header }, prefix };
  } catch (cause) {
    const error = new IoError("IO_CSV_HEADER", `cannot read the header of ${path} to append records to it`, {
      cause,
      coordinates: { path },
    });
    return { existing: { columns: undefined, error }, prefix };
  }
}
