/**
 * One server-sent events response: pumps a Stream into the socket, one write per chunk
 * (writes within one tick are corked together), with drain backpressure, heartbeats, a stall
 * timeout, `event: error` on failure, and the source closed when the client goes away.
 * Heartbeats and stall checks run from the listener's sweep ({@link SseSession.sweep}), so the
 * hot path creates no timers and no closures.
 * @internal
 * @module
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { toError, type Stream } from "@pirouette/core";
import { formatSseElement, formatSseEvent } from "../sse.ts";

export interface SseSessionOptions {
  /** A client that takes nothing for this long while we wait to write is disconnected. */
  readonly stallTimeoutMs: number;
  /** A heartbeat comment goes to a feed idle this long; 0: never. */
  readonly heartbeatIntervalMs: number;
  /** The stream failed: after `event: error` was sent (or could not be). */
  readonly onStreamError: (error: Error) => void;
  /** A client that did not drain in time was disconnected. */
  readonly onStall: () => void;
  /** The session is over (ended, failed, disconnected or stopped). */
  readonly onDone: (session: SseSession) => void;
}

const HEARTBEAT = ":\n\n";

export class SseSession {
  readonly #res: ServerResponse;
  readonly #o: SseSessionOptions;
  readonly #chunks: Stream<readonly unknown[], unknown>;
  #closed = false;
  #corked = false;
  #lastWrite = 0;
  /** When we started waiting for 'drain' (0: not waiting). */
  #waitingSince = 0;
  #drainWaiter: ((ok: boolean) => void) | undefined;

  constructor(res: ServerResponse, stream: Stream<unknown, unknown>, status: number, headers: Readonly<Record<string, string | readonly string[]>>, options: SseSessionOptions) {
    this.#res = res;
    this.#o = options;
    this.#chunks = stream.chunks();
    const h: OutgoingHttpHeaders = {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
      ...headers,
    };
    if (res.req.httpVersionMajor === 1 && res.req.httpVersionMinor >= 1) h["connection"] = "keep-alive";
    res.writeHead(status, h);
    res.flushHeaders();
    this.#lastWrite = Date.now();
    res.on("close", this.#onClose);
    res.on("drain", this.#onDrain);
    void this.#pump();
  }

  /** True once the session ended, failed or the client went away. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Periodic housekeeping (called by the listener): disconnect a client that has taken
   * nothing for `stallTimeoutMs`, or write a heartbeat to a feed idle for `heartbeatIntervalMs`.
   */
  sweep(now: number): void {
    if (this.#closed) return;
    if (this.#waitingSince !== 0) {
      if (now - this.#waitingSince >= this.#o.stallTimeoutMs) {
        this.#o.onStall();
        this.#res.destroy();
        this.#finish();
      }
      return;
    }
    const beat = this.#o.heartbeatIntervalMs;
    if (beat > 0 && now - this.#lastWrite >= beat && !this.#res.writableNeedDrain) {
      this.#lastWrite = now;
      this.#write(HEARTBEAT);
    }
  }

  /** End the feed (listener stop): close the source, end the response. */
  stop(): void {
    if (this.#closed) return;
    this.#finish();
    this.#res.end();
  }

  readonly #onClose = (): void => {
    // The client went away (or the response finished): release the source.
    this.#finish();
  };

  readonly #onDrain = (): void => {
    this.#settleDrain(true);
  };

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#res.uncork();
  };

  readonly #captureDrainWaiter = (resolve: (ok: boolean) => void): void => {
    this.#drainWaiter = resolve;
  };

  #settleDrain(ok: boolean): void {
    this.#waitingSince = 0;
    const w = this.#drainWaiter;
    this.#drainWaiter = undefined;
    w?.(ok);
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settleDrain(false);
    this.#res.off("drain", this.#onDrain);
    this.#chunks.close().catch(() => undefined);
    this.#o.onDone(this);
  }

  #write(s: string): boolean {
    const res = this.#res;
    if (!this.#corked) {
      this.#corked = true;
      res.cork();
      process.nextTick(this.#uncork);
    }
    return res.write(s);
  }

  #waitDrain(): Promise<boolean> {
    this.#waitingSince = Date.now();
    return new Promise<boolean>(this.#captureDrainWaiter);
  }

  async #pump(): Promise<void> {
    try {
      for await (const chunk of this.#chunks) {
        if (this.#closed) return;
        let s = "";
        for (let i = 0; i < chunk.length; i++) s += formatSseElement(chunk[i]);
        if (s.length > 0) {
          this.#lastWrite = Date.now();
          if (!this.#write(s) && !(await this.#waitDrain())) return;
        }
        if (this.#closed) return;
      }
      if (!this.#closed) {
        this.#finish();
        this.#res.end();
      }
    } catch (e) {
      if (this.#closed) return;
      const error = toError(e);
      this.#write(formatSseEvent({ event: "error", data: error.message }));
      this.#finish();
      this.#res.end();
      this.#o.onStreamError(error);
    }
  }
}
