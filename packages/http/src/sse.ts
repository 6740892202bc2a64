/**
 * Server-sent events: the event type and Ballerina's wire format.
 *
 * @module
 */

/**
 * One server-sent event, as Ballerina's `http:SseEvent`: at least one field is set. On the
 * wire it is written as the comment (`: text`), `id:`, `event:`, `retry:` and one `data:`
 * line per line of `data`, then a blank line.
 *
 * @example
 * ```ts
 * const tick: SseEvent = { id: "42", event: "price", data: JSON.stringify({ sym: "ACME", px: 12.5 }) };
 * ```
 */
export interface SseEvent {
  /** The event name (`event:`); clients dispatch unnamed events as `message`. */
  readonly event?: string;
  /** The event id (`id:`): the client sends the last one back as `Last-Event-ID` when it reconnects. */
  readonly id?: string;
  /** The payload; each line becomes one `data:` line. */
  readonly data?: string;
  /** The reconnection delay the client should use, in milliseconds (`retry:`). */
  readonly retry?: number;
  /** A comment line (`: text`), ignored by clients. */
  readonly comment?: string;
}

const LINE_BREAK = /\r\n|\r|\n/;
const LINE_BREAKS = /[\r\n]/g;

function hasLineBreak(text: string): boolean {
  return text.indexOf("\n") >= 0 || text.indexOf("\r") >= 0;
}

/**
 * Whether `value` has the shape of an {@link SseEvent}: a plain object whose own keys are all
 * SSE fields (at least one), with string `event`/`id`/`data`/`comment` and a numeric `retry`.
 * Any other stream element is sent as `data` (strings as they are, other values as JSON).
 *
 * @example
 * ```ts
 * isSseEvent({ data: "hi" }); // true
 * isSseEvent({ data: "hi", price: 3 }); // false: sent as data: {"data":"hi","price":3}
 * ```
 */
export function isSseEvent(value: unknown): value is SseEvent {
  if (typeof value !== "object" || value === null) return false;
  const ctor: unknown = (value as { constructor?: unknown }).constructor;
  if (ctor !== Object && (ctor !== undefined || Object.getPrototypeOf(value) !== null)) return false;
  let n = 0;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    switch (key) {
      case "data":
      case "id":
      case "event":
      case "comment":
        if (v === undefined) continue;
        if (typeof v !== "string") return false;
        break;
      case "retry":
        if (v === undefined) continue;
        if (typeof v !== "number") return false;
        break;
      default:
        return false;
    }
    n++;
  }
  return n > 0;
}

/** @internal Write `text` as one `prefix`-line per line. */
function lines(prefix: string, text: string): string {
  if (!hasLineBreak(text)) return prefix + text + "\n";
  let out = "";
  for (const line of text.split(LINE_BREAK)) out += prefix + line + "\n";
  return out;
}

/** `id` and `event` are single-line fields: a line break would inject fields, so it is dropped. */
function field(text: string): string {
  return hasLineBreak(text) ? text.replace(LINE_BREAKS, "") : text;
}

/**
 * @internal Encode one event in Ballerina's order: comment, id, event, retry, data lines, then
 * the blank line that ends the event.
 */
export function formatSseEvent(e: SseEvent): string {
  const { comment, id, event, retry, data } = e;
  // Fast path: `data` (and `id`) on one line each, the commonest events.
  if (comment === undefined && event === undefined && retry === undefined && data !== undefined && !hasLineBreak(data)) {
    if (id === undefined) return "data: " + data + "\n\n";
    if (!hasLineBreak(id)) return "id: " + id + "\ndata: " + data + "\n\n";
  }
  let s = "";
  if (comment !== undefined) s += lines(": ", comment);
  if (id !== undefined) s += "id: " + field(id) + "\n";
  if (event !== undefined) s += "event: " + field(event) + "\n";
  if (retry !== undefined && Number.isFinite(retry)) s += "retry: " + String(Math.max(0, Math.trunc(retry))) + "\n";
  if (data !== undefined) s += lines("data: ", data);
  return s + "\n";
}

const decoder = new TextDecoder();

/** @internal Encode any stream element: an SseEvent as is, a string or bytes as data, anything else as JSON data. */
export function formatSseElement(value: unknown): string {
  if (typeof value === "string") return lines("data: ", value) + "\n";
  if (isSseEvent(value)) return formatSseEvent(value);
  if (value instanceof Uint8Array) return lines("data: ", decoder.decode(value)) + "\n";
  const json = JSON.stringify(value) as string | undefined;
  return "data: " + (json ?? "null") + "\n\n";
}
