/**
 * Conversions between grpc-js values and ours: metadata, errors and statuses.
 * @internal
 * @module
 */
import { Metadata, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { GrpcError, statusName, type GrpcMetadata } from "../errors.ts";

/** grpc-js Metadata from plain values (`-bin` keys take Buffers). */
export function toMetadata(values: GrpcMetadata | undefined): Metadata {
  const md = new Metadata();
  if (values === undefined) return md;
  for (const [k, v] of Object.entries(values)) {
    const list = Array.isArray(v) ? (v as readonly (string | Buffer)[]) : [v as string | Buffer];
    for (const one of list) md.add(k, one);
  }
  return md;
}

/** Plain values from grpc-js Metadata: one value per key, or an array when repeated. */
export function fromMetadata(md: Metadata | undefined | null): GrpcMetadata {
  const out: Record<string, string | Buffer | (string | Buffer)[]> = {};
  if (md === undefined || md === null) return out;
  for (const [k, values] of Object.entries(md.toJSON() as Record<string, (string | Buffer)[]>)) {
    out[k] = values.length === 1 ? (values[0] as string | Buffer) : values;
  }
  return out;
}

/** A GrpcError from a grpc-js client error (ServiceError) or status. */
export function fromServiceError(e: unknown): GrpcError {
  if (GrpcError.is(e)) return e;
  const se = e as Partial<ServiceError> & Partial<StatusObject>;
  if (typeof se.code === "number") {
    return new GrpcError(statusName(se.code), se.details ?? se.message ?? "", {
      cause: e,
      metadata: fromMetadata(se.metadata),
    });
  }
  return new GrpcError("UNKNOWN", (e as Error).message ?? String(e), { cause: e });
}

/** What a server sends for an error a handler threw: its status for a GrpcError, else INTERNAL. */
export function toStatus(e: unknown): { code: number; details: string; metadata: Metadata } {
  if (GrpcError.is(e) && e.isStatus && e.grpcStatus !== 0) {
    return { code: e.grpcStatus, details: e.message, metadata: toMetadata(e.metadata) };
  }
  return { code: 13, details: "internal error", metadata: new Metadata() };
}
