/**
 * Dead-letter targets: where a message goes when its handler failed after every retry.
 *
 * @module
 */

/**
 * What a dead-letter target receives: the original message, where it came from, how many
 * attempts were made and the last error.
 *
 * @example
 * ```ts
 * const target: DeadLetterTarget<Msg> = {
 *   async send(rec) { await db.insert("dead_letters", { ...rec.coordinates, error: rec.error.message }); },
 * };
 * ```
 */
export interface DeadLetterRecord<M> {
  readonly message: M;
  /** The original coordinates (topic/partition/offset, queue/delivery tag, path…). */
  readonly coordinates: Readonly<Record<string, unknown>>;
  readonly error: Error;
  readonly attempts: number;
  /** ISO-8601 time of the first failure. */
  readonly firstFailureAt: string;
}

/**
 * A place to put messages that could not be handled: Kafka `<topic>.DLT`, a RabbitMQ
 * dead-letter exchange, a directory for files, or your own. `send` must resolve only once the
 * record is stored; if it rejects, the message is not acknowledged and `onError` is told.
 *
 * @example
 * ```ts
 * const dlt: DeadLetterTarget<Order> = { send: async (rec) => { failed.push(rec); } };
 * listener.attach(service, { deadLetter: dlt });
 * ```
 */
export interface DeadLetterTarget<M> {
  send(record: DeadLetterRecord<M>): Promise<void>;
}

/**
 * Standard header names for dead-lettered messages, shared by the protocol packages.
 *
 * @example
 * ```ts
 * headers[DeadLetterHeaders.error] = rec.error.message;
 * ```
 */
export const DeadLetterHeaders = Object.freeze({
  error: "x-pirouette-error",
  errorName: "x-pirouette-error-name",
  errorCode: "x-pirouette-error-code",
  attempts: "x-pirouette-attempts",
  firstFailureAt: "x-pirouette-first-failure-at",
  coordinates: "x-pirouette-original",
});

/**
 * Headers describing a dead-letter record, for protocols whose DLT is a message.
 *
 * @example
 * ```ts
 * await producer.send({ topic: `${topic}.DLT`, value, headers: deadLetterHeaders(rec) });
 * ```
 */
export function deadLetterHeaders(record: DeadLetterRecord<unknown>): Record<string, string> {
  const code = (record.error as { code?: unknown }).code;
  const headers: Record<string, string> = {
    [DeadLetterHeaders.error]: record.error.message.slice(0, 4096),
    [DeadLetterHeaders.errorName]: record.error.name,
    [DeadLetterHeaders.attempts]: String(record.attempts),
    [DeadLetterHeaders.firstFailureAt]: record.firstFailureAt,
    [DeadLetterHeaders.coordinates]: JSON.stringify(record.coordinates, (_k, v: unknown) =>
      typeof v === "bigint" ? v.toString() : v,
    ),
  };
  if (typeof code === "string") headers[DeadLetterHeaders.errorCode] = code;
  return headers;
}
