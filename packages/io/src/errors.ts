/**
 * The one error class of `@pirouette/io`.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The codes an {@link IoError} carries.
 *
 * - `INVALID_ARGUMENT`: a bad option or argument (a delimiter of the wrong kind, a negative block size…).
 * - `IO_NOT_FOUND`: the file (or a parent directory) does not exist (`ENOENT`).
 * - `IO_PERMISSION`: the process may not read or write the path (`EACCES`, `EPERM`).
 * - `IO_IS_DIRECTORY`: the path is a directory (`EISDIR`); `IO_NOT_DIRECTORY`: a parent is not one (`ENOTDIR`).
 * - `IO_READ` / `IO_WRITE`: any other read or write failure (`cause` is Node's error, `cause.code` e.g. `ENOSPC`).
 * - `IO_SOURCE`: the byte stream given to `parseToStream` (or the value stream given to a writer) failed; `cause` is its error.
 * - `IO_CSV_PARSE`: malformed CSV (an unclosed or stray quote, a row with the wrong number of fields,
 *   a record over `maxRecordSize`); `coordinates.line` says where.
 * - `IO_CSV_HEADER`: the header row is unusable (a duplicate or `__proto__` column name, no header for records).
 * - `IO_CSV_VALIDATION`: a row did not satisfy the schema; `cause` is core's `PayloadValidationError` (with `issues`).
 * - `CLOSED`: the stream or writer was already closed.
 */
export type IoErrorCode =
  | "INVALID_ARGUMENT"
  | "IO_NOT_FOUND"
  | "IO_PERMISSION"
  | "IO_IS_DIRECTORY"
  | "IO_NOT_DIRECTORY"
  | "IO_READ"
  | "IO_WRITE"
  | "IO_SOURCE"
  | "IO_CSV_PARSE"
  | "IO_CSV_HEADER"
  | "IO_CSV_VALIDATION"
  | "CLOSED";

/**
 * Every error `@pirouette/io` raises or completes a stream with. Check the `code`; file errors
 * carry `coordinates.path`, CSV errors `coordinates.line` (1-based physical line where the row
 * ends) and `coordinates.row` (1-based data row, header excluded). Node's error is the `cause`.
 *
 * @example
 * ```ts
 * try {
 *   for await (const order of fileReadCsvAsStream("orders.csv")) handle(order);
 * } catch (e) {
 *   if (IoError.is(e) && e.code === "IO_NOT_FOUND") console.error("no such file", e.coordinates?.["path"]);
 *   else if (IoError.is(e) && e.code === "IO_CSV_PARSE") console.error("bad CSV at line", e.line);
 *   else throw e;
 * }
 * ```
 */
export class IoError extends PirouetteError {
  override name = "IoError";
  declare readonly code: IoErrorCode;

  constructor(code: IoErrorCode, message: string, options: PirouetteErrorOptions = {}) {
    super(code, message, options);
  }

  /**
   * The 1-based line of the CSV row concerned, when there is one (same as `coordinates.line`).
   *
   * @example
   * ```ts
   * stream.catch((e) => console.error(`line ${e.line}: ${e.message}`));
   * ```
   */
  get line(): number | undefined {
    const line = this.coordinates?.["line"];
    return typeof line === "number" ? line : undefined;
  }

  /**
   * Whether `value` is an `IoError` (by brand and name, so it works across package copies).
   *
   * @example
   * ```ts
   * if (IoError.is(e) && e.code === "IO_NOT_FOUND") return [];
   * ```
   */
  static override is(value: unknown): value is IoError {
    return PirouetteError.is(value) && value.name === "IoError";
  }
}

/** Map a Node fs error to an {@link IoError} with the path in `coordinates`. @internal */
export function fsError(cause: unknown, path: string, action: "read" | "write"): IoError {
  if (IoError.is(cause)) return cause;
  const errno = (cause as { code?: unknown } | null)?.code;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const coordinates = { path };
  switch (errno) {
    case "ENOENT":
      return new IoError("IO_NOT_FOUND", `no such file or directory: ${path}`, { cause, coordinates });
    case "EACCES":
    case "EPERM":
      return new IoError("IO_PERMISSION", `permission denied to ${action} ${path}`, { cause, coordinates });
    case "EISDIR":
      return new IoError("IO_IS_DIRECTORY", `${path} is a directory`, { cause, coordinates });
    case "ENOTDIR":
      return new IoError("IO_NOT_DIRECTORY", `a parent of ${path} is not a directory`, { cause, coordinates });
    default:
      return new IoError(action === "read" ? "IO_READ" : "IO_WRITE", `cannot ${action} ${path}: ${detail}`, {
        cause,
        coordinates,
      });
  }
}
