/**
 * amqplib errors → RabbitMqError.
 * @internal
 * @module
 */
import { RabbitMqError, type RabbitMqErrorCode } from "../errors.ts";

const BY_REPLY_CODE: Readonly<Record<number, RabbitMqErrorCode>> = {
  312: "RABBITMQ_UNROUTABLE",
  320: "RABBITMQ_CONNECTION",
  403: "RABBITMQ_ACCESS_REFUSED",
  404: "RABBITMQ_NOT_FOUND",
  405: "RABBITMQ_RESOURCE_LOCKED",
  406: "RABBITMQ_PRECONDITION_FAILED",
  530: "RABBITMQ_NOT_ALLOWED",
};

function messageOf(e: unknown): string {
  const m = (e as { message?: unknown }).message;
  return typeof m === "string" ? m : "";
}

/** The AMQP reply code of an amqplib error, if it has one. */
export function replyCodeOf(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "number") return code;
  const m = /\b(403|404|405|406|530|320|541)\b/.exec(messageOf(e));
  return m === null ? undefined : Number(m[1]);
}

/** Whether an error means "the channel or connection is gone" rather than a broker refusal. */
export function isClosedChannelError(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const name = (e as { name?: unknown }).name;
  const message = messageOf(e);
  return (
    name === "IllegalOperationError" ||
    /Channel closed|Channel ended|Connection closed|Connection closing|channel closed/.test(message)
  );
}

/**
 * Wrap an amqplib error in a RabbitMqError with a code from its AMQP reply code or its kind.
 * Already-wrapped errors are returned as they are.
 */
export function toRabbitMqError(e: unknown, context: string, coordinates?: Readonly<Record<string, unknown>>): RabbitMqError {
  if (RabbitMqError.isRabbitMqError(e)) return e;
  const replyCode = replyCodeOf(e);
  const message = e instanceof Error ? e.message : String(e);
  let code: RabbitMqErrorCode;
  if (replyCode !== undefined) code = BY_REPLY_CODE[replyCode] ?? "RABBITMQ_CHANNEL";
  else if (/ACCESS.REFUSED/i.test(message)) code = "RABBITMQ_ACCESS_REFUSED";
  else if (/NOT.ALLOWED/i.test(message)) code = "RABBITMQ_NOT_ALLOWED";
  else if (isClosedChannelError(e)) code = "RABBITMQ_CONNECTION";
  else if (typeof (e as { code?: unknown } | null)?.code === "string") code = "RABBITMQ_CONNECTION"; // ECONNREFUSED, ETIMEDOUT …
  else code = "RABBITMQ_CHANNEL";
  return new RabbitMqError(code, `${context}: ${message}`, {
    cause: e,
    replyCode,
    ...(coordinates === undefined ? {} : { coordinates }),
  });
}
