/**
 * OpenTelemetry spans, metrics and trace-context propagation for dispatch. Everything goes
 * through `@opentelemetry/api`, so it is a no-op until the application installs an SDK.
 *
 * @module
 */
import {
  context as otelContext,
  metrics,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";

import { toError } from "../errors.ts";

const SCOPE = "@pirouette/core";

/** Message headers as protocols carry them: strings, bytes, or arrays of either. */
export type HeaderValue = string | Uint8Array | readonly (string | Uint8Array)[] | undefined;

const getter: TextMapGetter<Readonly<Record<string, HeaderValue>>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const v = carrier[key] ?? carrier[key.toLowerCase()];
    if (v === undefined) return undefined;
    const one = Array.isArray(v) ? (v as readonly (string | Uint8Array)[])[0] : (v as string | Uint8Array);
    if (one === undefined) return undefined;
    return typeof one === "string" ? one : Buffer.from(one).toString("utf8");
  },
};

const setter: TextMapSetter<Record<string, string>> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

/**
 * Write the active trace context (W3C `traceparent`, `tracestate`, baggage) into outgoing
 * message headers. Producers call it before publishing.
 *
 * @example
 * ```ts
 * const headers: Record<string, string> = {};
 * injectTraceContext(headers);
 * await producer.send({ topic, value, headers });
 * ```
 */
export function injectTraceContext(headers: Record<string, string>, ctx: Context = otelContext.active()): Record<string, string> {
  propagation.inject(ctx, headers, setter);
  return headers;
}

/**
 * Read a trace context from incoming headers (string or byte values, as Kafka delivers them).
 *
 * @example
 * ```ts
 * const parent = extractTraceContext(record.headers);
 * ```
 */
export function extractTraceContext(headers: Readonly<Record<string, HeaderValue>> | undefined): Context {
  if (headers === undefined) return otelContext.active();
  return propagation.extract(otelContext.active(), headers, getter);
}

/** Describes what a dispatcher processes, for span names and metric attributes. */
export interface TelemetryTarget {
  /** `messaging.system`, e.g. `"kafka"`, `"rabbitmq"`, `"memory"`. */
  readonly system: string;
  /** `messaging.consumer.group.name`, when there is one. */
  readonly consumerGroup?: string;
}

/** @internal Metric instruments, created once per process. */
export interface Instruments {
  readonly duration: ReturnType<ReturnType<typeof metrics.getMeter>["createHistogram"]>;
  readonly consumed: ReturnType<ReturnType<typeof metrics.getMeter>["createCounter"]>;
  readonly failed: ReturnType<ReturnType<typeof metrics.getMeter>["createCounter"]>;
  readonly retried: ReturnType<ReturnType<typeof metrics.getMeter>["createCounter"]>;
  readonly deadLettered: ReturnType<ReturnType<typeof metrics.getMeter>["createCounter"]>;
  readonly inFlight: ReturnType<ReturnType<typeof metrics.getMeter>["createUpDownCounter"]>;
}

let instruments: Instruments | undefined;
/** Calls of {@link telemetryActive} left before it looks at the clock again. */
let countdown = 0;
/** `Date.now()` after which the providers are looked at again. */
let nextCheckAt = 0;
let active = false;

/**
 * @internal Whether an OpenTelemetry SDK is registered (tracer or meter provider). Checked at
 * most once a second, so dispatch skips spans and metrics entirely while nothing listens. It
 * runs once per message: the common case is a decrement and a compare.
 */
export function telemetryActive(): boolean {
  if (--countdown > 0) return active;
  return recheck();
}

function recheck(): boolean {
  // Look at the clock only every 256 calls.
  countdown = 256;
  const now = Date.now();
  if (now < nextCheckAt) return active;
  nextCheckAt = now + 1000;
  const tp = trace.getTracerProvider() as unknown as { getDelegate?: () => unknown };
  const delegate = (tp.getDelegate?.() ?? tp) as { constructor?: { name?: string } };
  const mp = metrics.getMeterProvider() as unknown as { constructor?: { name?: string } };
  active = delegate.constructor?.name !== "NoopTracerProvider" || mp.constructor?.name !== "NoopMeterProvider";
  return active;
}

/** @internal For tests: forget the cached answer of {@link telemetryActive}. */
export function resetTelemetryCheck(): void {
  countdown = 0;
  nextCheckAt = 0;
}

/** @internal */
export function getInstruments(): Instruments {
  if (instruments !== undefined) return instruments;
  const meter = metrics.getMeter(SCOPE);
  instruments = {
    duration: meter.createHistogram("messaging.process.duration", {
      unit: "s",
      description: "Duration of processing one message by a service method",
    }),
    consumed: meter.createCounter("messaging.client.consumed.messages", { description: "Messages delivered to a service" }),
    failed: meter.createCounter("pirouette.messages.failed", { description: "Messages whose handling failed after retries" }),
    retried: meter.createCounter("pirouette.messages.retried", { description: "Handler retries" }),
    deadLettered: meter.createCounter("pirouette.messages.dead_lettered", { description: "Messages sent to a dead-letter target" }),
    inFlight: meter.createUpDownCounter("pirouette.messages.in_flight", { description: "Messages accepted and not yet settled" }),
  };
  return instruments;
}

let cachedTracer: ReturnType<typeof trace.getTracer> | undefined;
function tracer(): ReturnType<typeof trace.getTracer> {
  return (cachedTracer ??= trace.getTracer(SCOPE));
}

/** @internal Start a CONSUMER `process <destination>` span, parented on the message's trace context. */
export function startProcessSpan(
  target: TelemetryTarget,
  destination: string,
  headers: Readonly<Record<string, HeaderValue>> | undefined,
): { span: Span; ctx: Context } {
  const parent = headers === undefined ? otelContext.active() : extractTraceContext(headers);
  const attributes: Attributes = {
    "messaging.system": target.system,
    "messaging.operation.name": "process",
    "messaging.operation.type": "process",
    "messaging.destination.name": destination,
  };
  if (target.consumerGroup !== undefined) attributes["messaging.consumer.group.name"] = target.consumerGroup;
  const span = tracer().startSpan(`process ${destination}`, { kind: SpanKind.CONSUMER, attributes }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** @internal */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const err = toError(error);
    span.recordException(err);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    span.setAttribute("error.type", error instanceof Error ? error.name : "Error");
  }
  span.end();
}

/** @internal Run `fn` with `ctx` active so that nested spans and injected headers follow it. */
export function withContext<R>(ctx: Context, fn: () => R): R {
  return otelContext.with(ctx, fn);
}
