/**
 * The Sink contract that publishing clients implement.
 *
 * @module
 */

/**
 * Anything a {@link Stream} can be piped into: a publishing client (Kafka producer, MQTT
 * client, WebSocket client…), a file writer, or a plain object. `write` may return a promise,
 * which the pump awaits before writing the next value (backpressure). `writeMany`, when
 * present, receives whole chunks. `abort` is called instead of `close` when the source failed.
 *
 * @example
 * ```ts
 * const lines: Sink<string> = {
 *   write: (line) => void process.stdout.write(line + "\n"),
 *   close: () => undefined,
 * };
 * await Stream.of("a", "b").pipeTo(lines);
 * ```
 */
export interface Sink<T> {
  write(value: T): unknown;
  writeMany?(values: readonly T[]): unknown;
  close(): unknown;
  abort?(reason: unknown): unknown;
}

/** Options for {@link Stream.pipeTo}. */
export interface PipeToOptions {
  /** Leave the sink open when the stream ends (default false: the sink is closed). */
  readonly preventClose?: boolean;
  /** Stop the pump (the stream is closed, the sink aborted/closed). */
  readonly signal?: AbortSignal;
}
