/**
 * The receive side of the UDP clients: a bounded queue (a PushSource that drops past its
 * high-water mark, since a datagram socket cannot be paused) read by `receive…`/`read…` with a
 * timeout, or consumed as a Stream.
 *
 * @internal
 * @module
 */
import { PushSource, type Stream } from "@pirouette/core";
import { UdpError } from "../errors.ts";

export class Receiver<T> {
  readonly source: PushSource<T, UdpError>;
  #dropped = 0;
  #pendingRead: ReturnType<Stream<T, UdpError>["next"]> | undefined;

  constructor(highWaterMark: number, onClose: () => unknown) {
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
      throw new UdpError("INVALID_ARGUMENT", "highWaterMark must be an integer >= 1");
    }
    this.source = new PushSource<T, UdpError>({
      highWaterMark,
      limit: highWaterMark,
      overflow: "drop-newest",
      onDrop: () => {
        this.#dropped++;
      },
      onClose,
    });
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** The next element, or TIMEOUT (nothing is lost: the next call gets it), or CLOSED. */
  async next(timeoutMs: number, what: string): Promise<T> {
    const p = (this.#pendingRead ??= this.source.stream.next());
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      p,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (r === "timeout") throw new UdpError("TIMEOUT", `no datagram ${what} within ${timeoutMs} ms`);
    this.#pendingRead = undefined;
    if (r === undefined) throw new UdpError("CLOSED", "the client is closed");
    if (r instanceof Error) throw r;
    return r.value;
  }
}
