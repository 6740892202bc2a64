/**
 * Request bodies: read with a size cap, decode by content type.
 * @internal
 * @module
 */
import type { IncomingMessage } from "node:http";
import { bind, json, text, validate, type Codec } from "@pirouette/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { HttpError } from "../errors.ts";

/** True when the request announces a body (a non-zero length or a transfer encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers["content-length"];
  if (len !== undefined) return len !== "0";
  return req.headers["transfer-encoding"] !== undefined;
}

/**
 * Read the whole body, refusing more than `limit` bytes: an announced length over the limit
 * is refused before reading; a chunked body is cut off as soon as it passes the limit.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const announced = Number(req.headers["content-length"]);
  if (Number.isFinite(announced) && announced > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.on("error", () => undefined);
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      parts.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new HttpError("BAD_REQUEST", `reading the request body failed: ${e.message}`, { cause: e }));
    };
    const onClose = (): void => {
      if (req.complete) return;
      cleanup();
      reject(new HttpError("BAD_REQUEST", "the client closed the connection before sending the whole body"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError("PAYLOAD_TOO_LARGE", `the request body is larger than ${limit} bytes`);
}

function mediaType(req: IncomingMessage): string {
  const ct = req.headers["content-type"];
  if (ct === undefined) return "";
  const semi = ct.indexOf(";");
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
}

const textCodec = text();

/**
 * Decode a body by its content type and validate it: JSON (`application/json`, `*+json`, or
 * no content type when a schema is given), text (`text/*`), form (`x-www-form-urlencoded`),
 * else the bytes. Failures are `PayloadBindingError` / `PayloadValidationError` (400).
 */
export async function decodeBody(
  req: IncomingMessage,
  body: Buffer | undefined,
  schema: StandardSchemaV1 | undefined,
  codec: Codec<unknown> | undefined,
  limit: number,
  coordinates: Readonly<Record<string, unknown>>,
): Promise<unknown> {
  if (body === undefined || body.length === 0) {
    return schema === undefined ? undefined : validate(schema, undefined, coordinates);
  }
  const type = mediaType(req);
  const opts = { coordinates, ...(schema === undefined ? {} : { schema }) };
  if (type === "application/json" || type.endsWith("+json") || (type === "" && schema !== undefined)) {
    return bind(body, { ...opts, codec: codec ?? json({ maxBytes: limit }) });
  }
  if (type.startsWith("text/")) return bind(body, { ...opts, codec: textCodec });
  if (type === "application/x-www-form-urlencoded") {
    const form = parseQuery(body.toString("utf8"));
    return schema === undefined ? form : validate(schema, form, coordinates);
  }
  const bytes = new Uint8Array(body.buffer, body.byteOffset, body.length);
  return schema === undefined ? bytes : validate(schema, bytes, coordinates);
}

/** `a=1&b=2&b=3` → `{ a: "1", b: ["2", "3"] }`, on a null-prototype object (no `__proto__` surprises). */
export function parseQuery(qs: string): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  if (qs.length === 0) return out;
  for (const [k, v] of new URLSearchParams(qs)) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}
