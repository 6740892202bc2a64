/**
 * The one error class of `@pirouette/grpc`, and the gRPC status codes.
 *
 * @module
 */
import { PirouetteError, type PirouetteErrorOptions } from "@pirouette/core";

/**
 * The gRPC status codes (grpc/grpc doc/statuscodes.md), by name.
 *
 * @example
 * ```ts
 * if (err.grpcStatus === grpc.Status.NOT_FOUND) return undefined;
 * ```
 */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status name: `"NOT_FOUND"`, `"UNAVAILABLE"`, … */
export type StatusName = keyof typeof Status;
/** A gRPC status number (0–16). */
export type StatusCode = (typeof Status)[StatusName];

const NAMES = Object.keys(Status) as StatusName[];

/**
 * The name of a status number (`UNKNOWN` for numbers outside 0–16).
 *
 * @example
 * ```ts
 * statusName(14); // "UNAVAILABLE"
 * ```
 */
export function statusName(code: number): StatusName {
  return NAMES[code] ?? "UNKNOWN";
}

/**
 * The codes a {@link GrpcError} carries: a gRPC status name (the error came from the wire, or a
 * handler threw it to send that status), or one of the package's own codes:
 *
 * - `GRPC_UNKNOWN_SERVICE`: the attach name or client `service` is not a service of the proto.
 * - `GRPC_UNKNOWN_METHOD`, `GRPC_MISSING_METHOD`, `GRPC_INVALID_SERVICE`: the service object has
 *   the wrong shape (an `on*` method other than `onError`, no RPC implemented, a method whose
 *   name is an RPC of a different call kind on the client).
 * - `GRPC_PROTO`: the `.proto` could not be loaded or parsed.
 * - `STATE`: the listener or client is in the wrong state for the call.
 */
export type GrpcErrorCode =
  | StatusName
  | "GRPC_UNKNOWN_SERVICE"
  | "GRPC_UNKNOWN_METHOD"
  | "GRPC_MISSING_METHOD"
  | "GRPC_METHOD_CONFLICT"
  | "GRPC_INVALID_SERVICE"
  | "GRPC_PROTO"
  | "STATE";

/** Metadata as plain values: text keys carry strings, `-bin` keys carry Buffers. */
export type GrpcMetadata = Readonly<Record<string, string | Buffer | readonly (string | Buffer)[]>>;

/** Options of {@link GrpcError}. */
export interface GrpcErrorOptions extends PirouetteErrorOptions {
  /** Trailing metadata sent with (or received with) the status. */
  readonly metadata?: GrpcMetadata;
}

/**
 * Every error `@pirouette/grpc` raises, and the error a handler throws to answer with a status.
 * `code` is the status name (`"NOT_FOUND"`) or a package code; `grpcStatus` is the number on
 * the wire. A handler that throws anything else answers `INTERNAL` with the message
 * `"internal error"` (the real error goes to the service's `onError`, never to the peer).
 *
 * @example
 * ```ts
 * class Users {
 *   async getUser(req: { id: string }) {
 *     const user = await db.find(req.id);
 *     if (user === undefined) throw new grpc.GrpcError("NOT_FOUND", `no user ${req.id}`);
 *     return user;
 *   }
 * }
 * ```
 */
export class GrpcError extends PirouetteError {
  override name = "GrpcError";
  declare readonly code: GrpcErrorCode;
  /** The gRPC status number (UNKNOWN for the package's own codes). */
  readonly grpcStatus: StatusCode;
  /** Trailing metadata (received from the peer, or to send with the status). */
  readonly metadata: GrpcMetadata;

  constructor(code: GrpcErrorCode, message: string, options: GrpcErrorOptions = {}) {
    super(code, message, options);
    this.grpcStatus = code in Status ? Status[code as StatusName] : Status.UNKNOWN;
    this.metadata = options.metadata ?? {};
  }

  /**
   * Whether `value` is a `GrpcError` (by brand and name, so it works across package copies).
   *
   * @example
   * ```ts
   * if (GrpcError.is(e) && e.code === "UNAVAILABLE") reconnect();
   * ```
   */
  static override is(value: unknown): value is GrpcError {
    return PirouetteError.is(value) && value.name === "GrpcError";
  }

  /** Whether this error carries a wire status (its code is a status name). */
  get isStatus(): boolean {
    return this.code in Status;
  }
}
