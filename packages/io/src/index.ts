/**
 * `@pirouette/io`: Ballerina's `io` file streams and `data.csv` parsing for Node — read and
 * write files as `Stream`s of blocks, lines or CSV records, and parse CSV bytes from any source
 * to records one at a time, with bounded memory.
 *
 * ```ts
 * import { fileReadCsvAsStream, parseToStream } from "@pirouette/io";
 * for await (const order of fileReadCsvAsStream("orders.csv")) console.log(order["id"]);
 * for await (const row of parseToStream(sftpClient.getBytesAsStream("/in/a.csv"))) console.log(row);
 * ```
 *
 * @module
 */
export { IoError } from "./errors.ts";
export type { IoErrorCode } from "./errors.ts";
export type { ParseOptions, FailSafeOptions, LineTerminator, FileWriteOption } from "./options.ts";
export { parseToStream } from "./parse-to-stream.ts";
export type { ByteSource, CsvRow, CsvField } from "./parse-to-stream.ts";
export { stringifyCsv, stringifyToStream } from "./csv-format.ts";
export type { CsvWriteRow, CsvWriteOptions } from "./csv-format.ts";
export {
  fileReadBlocksAsStream,
  fileReadLinesAsStream,
  fileReadCsvAsStream,
  fileReadBytes,
  fileReadString,
  fileReadLines,
  fileReadCsv,
} from "./file-read.ts";
export type { ReadLinesOptions } from "./file-read.ts";
export {
  fileWriteBlocksFromStream,
  fileWriteLinesFromStream,
  fileWriteCsvFromStream,
  fileWriteBytes,
  fileWriteString,
  fileWriteLines,
  fileWriteCsv,
} from "./file-write.ts";
export type { WritableInput, WriteLinesOptions, CsvFileWriteOptions } from "./file-write.ts";
