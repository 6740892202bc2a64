/**
 * The pino-compatible logger contract (silent unless the user passes one).
 *
 * @module
 */

/** A log method in pino's shape: `(obj, msg?)` or `(msg)`. */
export type LogFn = (objOrMsg: unknown, msg?: string) => void;

/**
 * Any pino-compatible logger: `pino()`, a child logger, or a small object of your own.
 *
 * @example
 * ```ts
 * import pino from "pino";
 * new kafka.Listener(brokers, { groupId: "g", logger: pino() });
 * ```
 */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child?(bindings: Record<string, unknown>): Logger;
}

const noop: LogFn = () => undefined;

/**
 * A logger that drops everything: the default for every listener and client.
 *
 * @example
 * ```ts
 * const log = options.logger ?? silentLogger;
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
});

/**
 * A child logger with `bindings` when the logger supports `child`, else the logger itself.
 *
 * @example
 * ```ts
 * const log = childLogger(options.logger, { listener: "kafka", groupId });
 * ```
 */
export function childLogger(logger: Logger | undefined, bindings: Record<string, unknown>): Logger {
  if (logger === undefined) return silentLogger;
  return logger.child?.(bindings) ?? logger;
}
