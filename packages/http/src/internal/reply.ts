/**
 * Writing a handler's result (or error) as an HTTP response.
 * @internal
 * @module
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { PirouetteError, PayloadValidationError, Stream, toError } from "@pirouette/core";
import { CLIENT_CODES, HttpError, statusForCode } from "../errors.ts";
import { HttpResponse } from "../response.ts";

export type Headers = Record<string, string | readonly string[]>;

/** Starts a server-sent events response (the listener owns the sessions). */
export type SseStarter = (stream: Stream<unknown, unknown>, status: number, headers: Headers) => void;

/** Whether a value is streamed as server-sent events. */
export function isEventStream(value: unknown): value is Stream<unknown, unknown> | AsyncIterable<unknown> {
  if (value instanceof Stream) return true;
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof Readable) return false;
  return typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === "function";
}

function isBytes(value: unknown): value is Uint8Array | ArrayBuffer {
  return value instanceof Uint8Array || value instanceof ArrayBuffer;
}

/**
 * Answer with a handler's value: `HttpResponse` (explicit status/headers), `undefined` → 204,
 * a string → text, bytes → octet-stream, a Readable → piped bytes, a Stream or async
 * iterable → server-sent events, anything else → JSON. The default status is 201 for a POST
 * with a body, else 200.
 */
export function sendValue(res: ServerResponse, method: string, value: unknown, extra: Headers, startSse: SseStarter): void {
  let body = value;
  let status: number | undefined;
  let headers: Headers = extra;
  if (value instanceof HttpResponse) {
    body = value.body;
    status = value.status;
    headers = { ...extra, ...lowerKeys(value.headers) };
  }
  if (body === undefined) {
    writeWhole(res, status ?? 204, headers, undefined, undefined);
    return;
  }
  const ok = status ?? (method === "POST" ? 201 : 200);
  if (typeof body === "string") {
    writeWhole(res, ok, headers, "text/plain; charset=utf-8", Buffer.from(body, "utf8"));
    return;
  }
  if (isBytes(body)) {
    const buf = body instanceof ArrayBuffer ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    writeWhole(res, ok, headers, "application/octet-stream", buf);
    return;
  }
  if (body instanceof Readable) {
    res.writeHead(ok, { "content-type": "application/octet-stream", ...headers } as OutgoingHttpHeaders);
    body.on("error", () => res.destroy());
    body.pipe(res);
    return;
  }
  if (isEventStream(body)) {
    startSse(body instanceof Stream ? body : Stream.from(body), ok, headers);
    return;
  }
  const json = JSON.stringify(body) as string | undefined;
  writeWhole(res, ok, headers, "application/json", json === undefined ? undefined : Buffer.from(json, "utf8"));
}

/** Write a complete response with a content length. */
export function writeWhole(res: ServerResponse, status: number, headers: Headers, contentType: string | undefined, body: Buffer | undefined): void {
  if (res.headersSent || res.destroyed) return;
  const h: OutgoingHttpHeaders = {};
  if (body !== undefined && contentType !== undefined) h["content-type"] = contentType;
  Object.assign(h, headers);
  if (status === 204 || status === 304 || body === undefined) {
    if (status !== 204 && status !== 304) h["content-length"] = "0";
    res.writeHead(status, h);
    res.end();
    return;
  }
  h["content-length"] = String(body.length);
  res.writeHead(status, h);
  res.end(body);
}

/** The status and JSON body an error answers with. 5xx errors other than HttpErrors do not leak their message. */
export function errorBody(error: unknown): { status: number; body: Record<string, unknown>; headers: Headers } {
  const err = toError(error);
  if (HttpError.is(err)) {
    if (CLIENT_CODES.has(err.code)) {
      // A failed call to another service escaped the handler: do not relay its status or details.
      return { status: 502, body: { error: { code: "BAD_GATEWAY", message: "an upstream request failed" } }, headers: {} };
    }
    const status = err.status >= 100 && err.status <= 599 ? err.status : 500;
    return { status, body: { error: { code: err.code, message: err.message } }, headers: lowerKeys(err.headers ?? {}) };
  }
  if (PirouetteError.is(err)) {
    const status = statusForCode(err.code);
    if (status < 500) {
      const payload: Record<string, unknown> = { code: err.code, message: err.message };
      if (err instanceof PayloadValidationError) {
        payload["issues"] = err.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
      }
      return { status, body: { error: payload }, headers: {} };
    }
    if (err.code === "TIMEOUT") return { status: 504, body: { error: { code: "GATEWAY_TIMEOUT", message: "the handler timed out" } }, headers: {} };
  }
  return { status: 500, body: { error: { code: "INTERNAL", message: "internal server error" } }, headers: {} };
}

/** Answer with an error (when nothing was sent yet; otherwise the connection is cut). */
export function sendError(res: ServerResponse, error: unknown, extra: Headers = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, body, headers } = errorBody(error);
  writeWhole(res, status, { ...extra, ...headers }, "application/json", Buffer.from(JSON.stringify(body), "utf8"));
}

function lowerKeys(h: Readonly<Record<string, string | readonly string[]>>): Headers {
  const out: Headers = {};
  for (const k of Object.keys(h)) out[k.toLowerCase()] = h[k] as string | readonly string[];
  return out;
}
