/**
 * One system call for the frames of a tick. amqplib writes every frame to the socket on its
 * own (its muxer drains the channels' buffers in a `setImmediate`), and with TCP_NODELAY (which
 * we set, for latency) each write is its own TCP segment: the client and the broker then pay
 * per publish for what could be one segment per tick. A publish corks the connection's socket
 * until just after the muxer ran: the uncork is a `setImmediate` scheduled from a `nextTick`,
 * so it queues behind the muxer's own `setImmediate` (scheduled from the `nextTick` in which the
 * channel's buffer turns readable). Latency is unchanged: the frames leave in the same loop
 * iteration as before, together.
 * @internal
 * @module
 */
import type { ChannelModel } from "amqplib";

interface Corkable {
  cork(): void;
  uncork(): void;
}

function isCorkable(s: unknown): s is Corkable {
  return typeof s === "object" && s !== null && typeof (s as Corkable).cork === "function" && typeof (s as Corkable).uncork === "function";
}

function scheduleRelease(c: WriteCoalescer): void {
  setImmediate(release, c);
}

function release(c: WriteCoalescer): void {
  c.release();
}

/** Corks one connection's socket for the rest of a tick (see the module comment). */
export class WriteCoalescer {
  readonly #socket: Corkable;
  #held = false;

  constructor(socket: Corkable) {
    this.#socket = socket;
  }

  /** Call after handing amqplib a frame: the tick's frames are written together. */
  hold(): void {
    if (this.#held) return;
    this.#held = true;
    this.#socket.cork();
    process.nextTick(scheduleRelease, this);
  }

  /** Write what was held. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#socket.uncork();
  }
}

const bySocket = new WeakMap<object, WriteCoalescer>();

/**
 * The coalescer of a connection's socket (shared by its channels), or undefined when amqplib
 * does not expose a socket we can cork (the writes then go out one by one, as before).
 */
export function coalescerOf(model: ChannelModel): WriteCoalescer | undefined {
  const stream = (model as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  if (!isCorkable(stream)) return undefined;
  let c = bySocket.get(stream);
  if (c === undefined) {
    c = new WriteCoalescer(stream);
    bySocket.set(stream, c);
  }
  return c;
}
