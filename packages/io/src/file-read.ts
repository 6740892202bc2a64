/**
 * Reading files: as streams of blocks, lines and CSV records (Ballerina's `io:fileRead*AsStream`),
 * and whole (`fileReadBytes`, `fileReadString`, `fileReadLines`, `fileReadCsv`).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { isStandardSchema, Stream } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { fsError, IoError } from "./errors.ts";
import { csvRecordStream } from "./internal/csv-source.ts";
import { blockSource, checkPath, lineSource } from "./internal/file-source.ts";

const CSV_BLOCK_SIZE = 65_536;
import type { ParseOptions } from "./options.ts";
import type { CsvRow } from "./parse-to-stream.ts";

/** Options of {@link fileReadLinesAsStream} and {@link fileReadLines}. */
export interface ReadLinesOptions {
  /** Text encoding. Default `"utf8"`. */
  readonly encoding?: BufferEncoding;
}

/**
 * Read a file as a lazy stream of byte blocks of `blockSize` bytes (the last one may be shorter),
 * Ballerina's `io:fileReadBlocksAsStream`. The file is opened on the first pull and closed when the
 * stream ends, fails or is closed early; only one 256 KiB read is held ahead, so memory stays flat
 * whatever the file size and however slow the consumer. Errors are `IoError`s (`IO_NOT_FOUND`,
 * `IO_PERMISSION`, `IO_IS_DIRECTORY`, `IO_READ`) with `coordinates.path`.
 *
 * @param path - the file
 * @param blockSize - bytes per block, a positive integer. Default 4096.
 *
 * @example
 * ```ts
 * const hash = createHash("sha256");
 * for await (const block of fileReadBlocksAsStream("big.bin", 65536)) hash.update(block);
 *
 * // pipe to another file, or parse it: blocks are what parseToStream reads
 * await fileWriteBlocksFromStream("copy.bin", fileReadBlocksAsStream("big.bin"));
 * ```
 */
export function fileReadBlocksAsStream(path: string, blockSize = 4096): Stream<Uint8Array, IoError> {
  const file = checkPath(path);
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 2 ** 30) {
    throw new IoError("INVALID_ARGUMENT", `blockSize must be an integer from 1 to 2^30, got ${String(blockSize)}`);
  }
  return new Stream<Uint8Array, IoError>(blockSource(file, blockSize));
}

/**
 * Read a text file as a lazy stream of lines (without the `\n` / `\r\n` terminator),
 * Ballerina's `io:fileReadLinesAsStream`. Multi-byte characters split across reads are decoded
 * correctly; memory stays flat.
 *
 * @example
 * ```ts
 * const errors = await fileReadLinesAsStream("app.log").filter((l) => l.includes("ERROR")).count();
 * ```
 */
export function fileReadLinesAsStream(path: string, options: ReadLinesOptions = {}): Stream<string, IoError> {
  return new Stream<string, IoError>(lineSource(checkPath(path), options.encoding ?? "utf8"));
}

/**
 * Read a CSV file as a lazy stream of records, Ballerina's `io:fileReadCsvAsStream` with
 * `data.csv` options: `parseToStream` over the file's blocks (same {@link ParseOptions}, same
 * element types, same errors, with `coordinates.path` added). With the default `header: 0` each
 * element is a record keyed by the header; with `header: null`, a `string[]`; with a Standard
 * Schema, the schema's output. The schema may come second or third.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const Order = z.object({ id: z.string(), amount: z.coerce.number() });
 * for await (const order of fileReadCsvAsStream("orders.csv", Order)) total += order.amount;
 *
 * for await (const fields of fileReadCsvAsStream("raw.csv", { header: null })) console.log(fields[0]);
 * ```
 */
export function fileReadCsvAsStream<S extends StandardSchemaV1>(path: string, schema: S): Stream<StandardSchemaV1.InferOutput<S>, IoError>;
export function fileReadCsvAsStream<S extends StandardSchemaV1>(
  path: string,
  options: ParseOptions | undefined,
  schema: S,
): Stream<StandardSchemaV1.InferOutput<S>, IoError>;
export function fileReadCsvAsStream<const O extends ParseOptions = Record<never, never>>(
  path: string,
  options?: O,
): Stream<CsvRow<O>, IoError>;
export function fileReadCsvAsStream(
  path: string,
  optionsOrSchema?: ParseOptions | StandardSchemaV1,
  schema?: StandardSchemaV1,
): Stream<unknown, IoError> {
  const file = checkPath(path);
  let options: ParseOptions | undefined;
  if (isStandardSchema(optionsOrSchema)) schema = optionsOrSchema;
  else options = optionsOrSchema;
  // 64 KiB blocks: a block is parsed into one chunk of records, and smaller chunks keep the heap smaller
  return csvRecordStream(new Stream<Uint8Array, IoError>(blockSource(file, CSV_BLOCK_SIZE)), options, schema, { path: file });
}

/**
 * Read a whole file as bytes (Ballerina's `io:fileReadBytes`). For large files prefer
 * {@link fileReadBlocksAsStream}.
 *
 * @example
 * ```ts
 * const png = await fileReadBytes("logo.png");
 * ```
 */
export async function fileReadBytes(path: string): Promise<Uint8Array> {
  const file = checkPath(path);
  try {
    return await readFile(file);
  } catch (cause) {
    throw fsError(cause, file, "read");
  }
}

/**
 * Read a whole text file (Ballerina's `io:fileReadString`).
 *
 * @example
 * ```ts
 * const config = JSON.parse(await fileReadString("config.json"));
 * ```
 */
export async function fileReadString(path: string, options: ReadLinesOptions = {}): Promise<string> {
  const file = checkPath(path);
  try {
    return await readFile(file, { encoding: options.encoding ?? "utf8" });
  } catch (cause) {
    throw fsError(cause, file, "read");
  }
}

/**
 * Read a whole text file as lines (Ballerina's `io:fileReadLines`), same splitting as
 * {@link fileReadLinesAsStream}.
 *
 * @example
 * ```ts
 * const hosts = await fileReadLines("hosts.txt");
 * ```
 */
export function fileReadLines(path: string, options: ReadLinesOptions = {}): Promise<string[]> {
  return fileReadLinesAsStream(path, options).toArray();
}

/**
 * Read a whole CSV file into an array (Ballerina's `io:fileReadCsv`), same options, schema and
 * errors as {@link fileReadCsvAsStream}.
 *
 * @example
 * ```ts
 * const rows = await fileReadCsv("small.csv", { header: null }); // string[][]
 * ```
 */
export function fileReadCsv<S extends StandardSchemaV1>(path: string, schema: S): Promise<StandardSchemaV1.InferOutput<S>[]>;
export function fileReadCsv<S extends StandardSchemaV1>(
  path: string,
  options: ParseOptions | undefined,
  schema: S,
): Promise<StandardSchemaV1.InferOutput<S>[]>;
export function fileReadCsv<const O extends ParseOptions = Record<never, never>>(path: string, options?: O): Promise<CsvRow<O>[]>;
export function fileReadCsv(
  path: string,
  optionsOrSchema?: ParseOptions | StandardSchemaV1,
  schema?: StandardSchemaV1,
): Promise<unknown[]> {
  return fileReadCsvAsStream(path, optionsOrSchema as ParseOptions | undefined, schema as StandardSchemaV1).toArray();
}
