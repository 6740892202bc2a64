/**
 * Option checking and the translation of public options into driver settings.
 *
 * @internal
 * @module
 */
import type { Logger } from "@pirouette/core";
import { KafkaError } from "../errors.ts";
import type { ConnectionOptions, GroupOptions } from "../options.ts";
import { kafkaJsTransport } from "./kafkajs.ts";
import type { ConsumerConfig, Transport } from "./transport.ts";

/** `"a:9092,b:9092"` or `["a:9092", "b:9092"]` → hosts; `undefined` → `KAFKA_BROKERS` or localhost. */
export function parseBrokers(bootstrapServers: string | readonly string[] | undefined): string[] {
  const raw = bootstrapServers ?? process.env["KAFKA_BROKERS"] ?? "localhost:9092";
  const list = (typeof raw === "string" ? raw.split(",") : [...raw]).map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) throw new KafkaError("KAFKA_INVALID_CONFIG", "bootstrapServers must name at least one broker (host:port)");
  for (const b of list) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(b)) {
      throw new KafkaError("KAFKA_INVALID_CONFIG", `invalid broker address "${b}": expected host:port`);
    }
  }
  return list;
}

/** Check an optional number option: integer ≥ `min` (and ≤ `max`). */
export function intOption(name: string, value: number | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new KafkaError("KAFKA_INVALID_CONFIG", `${name} must be an integer in ${min} … ${max === Number.MAX_SAFE_INTEGER ? "∞" : max}`);
  }
  return value;
}

/** A driver for these connection options, logging through `logger`. */
export function createTransport(brokers: readonly string[], options: ConnectionOptions, logger: Logger): Transport {
  const sasl = options.sasl;
  if (sasl !== undefined) {
    const ok =
      sasl.mechanism === "oauthbearer"
        ? typeof sasl.oauthBearerProvider === "function"
        : ["plain", "scram-sha-256", "scram-sha-512"].includes(sasl.mechanism) &&
          typeof sasl.username === "string" &&
          typeof sasl.password === "string";
    if (!ok) {
      throw new KafkaError(
        "KAFKA_INVALID_CONFIG",
        'sasl must be { mechanism: "plain" | "scram-sha-256" | "scram-sha-512", username, password } or { mechanism: "oauthbearer", oauthBearerProvider }',
      );
    }
  }
  const retry = options.driverRetry ?? {};
  return kafkaJsTransport({
    brokers,
    clientId: options.clientId ?? "pirouette",
    ssl: options.ssl,
    sasl,
    connectionTimeoutMs: intOption("connectionTimeoutMs", options.connectionTimeoutMs, 3000, 1),
    requestTimeoutMs: intOption("requestTimeoutMs", options.requestTimeoutMs, 30_000, 1),
    retry: {
      retries: intOption("driverRetry.retries", retry.retries, 5, 0),
      initialRetryTimeMs: intOption("driverRetry.initialRetryTimeMs", retry.initialRetryTimeMs, 300, 1),
      maxRetryTimeMs: intOption("driverRetry.maxRetryTimeMs", retry.maxRetryTimeMs, 30_000, 1),
    },
    logLevel: options.driverLogLevel ?? "info",
    log: (level, namespace, message, extra) => {
      logger[level]({ driver: "kafkajs", namespace, ...extra }, message);
    },
  });
}

/** Group settings for the driver, checked. */
export function consumerConfig(groupId: string, o: GroupOptions): ConsumerConfig {
  const sessionTimeoutMs = intOption("sessionTimeoutMs", o.sessionTimeoutMs, 30_000, 1);
  const heartbeatIntervalMs = intOption("heartbeatIntervalMs", o.heartbeatIntervalMs, Math.min(3000, Math.floor(sessionTimeoutMs / 3)), 1);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new KafkaError("KAFKA_INVALID_CONFIG", "heartbeatIntervalMs must be lower than sessionTimeoutMs (about a third of it)");
  }
  if (o.isolationLevel !== undefined && o.isolationLevel !== "read_committed" && o.isolationLevel !== "read_uncommitted") {
    throw new KafkaError("KAFKA_INVALID_CONFIG", 'isolationLevel must be "read_committed" or "read_uncommitted"');
  }
  if (o.offsetReset !== undefined && o.offsetReset !== "earliest" && o.offsetReset !== "latest") {
    throw new KafkaError("KAFKA_INVALID_CONFIG", 'offsetReset must be "earliest" or "latest"');
  }
  return {
    groupId,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs: intOption("rebalanceTimeoutMs", o.rebalanceTimeoutMs, 60_000, 1),
    maxWaitTimeMs: intOption("maxWaitTimeMs", o.maxWaitTimeMs, 500, 0),
    maxBytesPerPartition: intOption("maxBytesPerPartition", o.maxBytesPerPartition, 1_048_576, 1),
    maxBytes: intOption("maxBytes", o.maxBytes, 10_485_760, 1),
    readUncommitted: o.isolationLevel === "read_uncommitted",
  };
}

/** `"orders"`, `["a", "b"]` or `/^orders-/` → a list for the driver. */
export function topicList(topics: string | readonly string[] | RegExp | undefined): (string | RegExp)[] | undefined {
  if (topics === undefined) return undefined;
  const list = typeof topics === "string" || topics instanceof RegExp ? [topics] : [...topics];
  for (const t of list) {
    if (!(t instanceof RegExp) && (typeof t !== "string" || t.length === 0)) {
      throw new KafkaError("KAFKA_INVALID_CONFIG", "topics must be a non-empty string, an array of them, or a RegExp");
    }
  }
  return list.length === 0 ? undefined : list;
}
