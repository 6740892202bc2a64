/**
 * `CloseFrame`: a close code and reason, returned to close a connection and passed to `onClose`.
 *
 * @module
 */
import { WebSocketError } from "./errors.ts";

const RESERVED = new Set([1004, 1005, 1006, 1015]);

/** @internal Whether a close code may be sent in a close frame. */
export function isSendableCloseCode(code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1014 && !RESERVED.has(code)) || (code >= 3000 && code <= 4999));
}

/**
 * Ballerina's `CloseFrame`: returned from a service method, it closes the connection with
 * `status` and `reason`; `onClose` receives the one the connection closed with.
 * `CloseFrame.normal` is Ballerina's `NormalClosure` (1000).
 *
 * @example
 * ```ts
 * onTextMessage(text: string) {
 *   if (text === "bye") return websocket.CloseFrame.normal;
 *   if (text.length > 100) return new websocket.CloseFrame(4000, "too chatty");
 *   return `echo: ${text}`;
 * }
 * ```
 */
export class CloseFrame {
  /** 1000 (normal) … 4999. */
  readonly status: number;
  readonly reason: string;

  constructor(status = 1000, reason = "") {
    this.status = status;
    this.reason = reason;
  }

  /** A normal closure (1000). */
  static readonly normal: CloseFrame = new CloseFrame(1000);

  /** @internal Throw unless this frame can be sent. */
  check(): void {
    if (!isSendableCloseCode(this.status)) {
      throw new WebSocketError("INVALID_ARGUMENT", `close code ${this.status} cannot be sent (use 1000-1014 or 3000-4999)`);
    }
    if (Buffer.byteLength(this.reason, "utf8") > 123) {
      throw new WebSocketError("INVALID_ARGUMENT", "a close reason is at most 123 bytes");
    }
  }
}
