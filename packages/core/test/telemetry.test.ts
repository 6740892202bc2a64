import {
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dispatcher, extractTraceContext, injectTraceContext, type Delivery } from "../src/index.ts";
import { resetTelemetryCheck, telemetryActive } from "../src/service/telemetry.ts";

interface Recorded {
  name: string;
  options: SpanOptions;
  parent: SpanContext | undefined;
  status?: { code: SpanStatusCode; message?: string };
  ended: boolean;
  attributes: Record<string, unknown>;
}

const recorded: Recorded[] = [];
let seq = 0;

function makeSpan(rec: Recorded, ctx: SpanContext): Span {
  const span: Span = {
    spanContext: () => ctx,
    setAttribute: (k, v) => {
      rec.attributes[k] = v;
      return span;
    },
    setAttributes: (a) => {
      Object.assign(rec.attributes, a);
      return span;
    },
    addEvent: () => span,
    addLink: () => span,
    addLinks: () => span,
    setStatus: (s) => {
      rec.status = s;
      return span;
    },
    updateName: () => span,
    end: () => {
      rec.ended = true;
    },
    isRecording: () => true,
    recordException: () => undefined,
  };
  return span;
}

const tracer: Tracer = {
  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    const parent = context === undefined ? undefined : trace.getSpanContext(context);
    const rec: Recorded = { name, options, parent, ended: false, attributes: { ...options.attributes } };
    recorded.push(rec);
    const traceId = parent?.traceId ?? "0af7651916cd43dd8448eb211c80319c";
    return makeSpan(rec, { traceId, spanId: (++seq).toString(16).padStart(16, "0"), traceFlags: 1 });
  },
  startActiveSpan: (() => {
    throw new Error("not used");
  }),
};

const provider: TracerProvider = { getTracer: () => tracer };

// A minimal W3C traceparent propagator (the real one lives in the SDK packages).
const propagator: TextMapPropagator = {
  inject(context, carrier, setter) {
    const sc = trace.getSpanContext(context);
    if (sc !== undefined) setter.set(carrier, "traceparent", `00-${sc.traceId}-${sc.spanId}-01`);
  },
  extract(context, carrier, getter) {
    const raw = getter.get(carrier, "traceparent");
    const v = Array.isArray(raw) ? raw[0] : raw;
    const m = typeof v === "string" ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(v) : null;
    if (m === null) return context;
    return trace.setSpanContext(context, { traceId: m[1]!, spanId: m[2]!, traceFlags: 1, isRemote: true });
  },
  fields: () => ["traceparent"],
};

describe("telemetry with a registered tracer provider", () => {
  beforeAll(() => {
    expect(telemetryActive()).toBe(false); // nothing registered yet: dispatch skips spans
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(propagator);
    resetTelemetryCheck();
  });
  afterAll(() => {
    trace.disable();
    propagation.disable();
    resetTelemetryCheck();
  });

  it("detects the provider", () => {
    expect(telemetryActive()).toBe(true);
  });

  it("injects and extracts a trace context through string and byte headers", () => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
    });
    const headers = injectTraceContext({}, parent);
    expect(headers.traceparent).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    const fromBytes = extractTraceContext({ traceparent: Buffer.from(headers.traceparent!) });
    expect(trace.getSpanContext(fromBytes)?.spanId).toBe("00f067aa0ba902b7");
  });

  it("wraps each dispatch in a CONSUMER 'process <destination>' span parented on the message", async () => {
    recorded.length = 0;
    const settled: string[] = [];
    const d = new Dispatcher<string>({
      telemetry: { system: "memory", consumerGroup: "g" },
      retry: false,
      invoke: (delivery) => {
        if (delivery.message === "bad") throw new Error("boom");
        return "ok";
      },
      reportError: () => undefined,
    });
    const mk = (message: string): Delivery<string> => ({
      message,
      destination: "orders",
      coordinates: { topic: "orders" },
      headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
      ack: () => void settled.push(`ack:${message}`),
      reject: () => void settled.push(`reject:${message}`),
    });
    await d.submit(mk("good"));
    await d.submit(mk("bad"));
    expect(await d.drain(5000)).toBe(true);
    expect(recorded.map((r) => r.name)).toEqual(["process orders", "process orders"]);
    for (const r of recorded) {
      expect(r.options.kind).toBe(SpanKind.CONSUMER);
      expect(r.attributes["messaging.system"]).toBe("memory");
      expect(r.attributes["messaging.operation.name"]).toBe("process");
      expect(r.attributes["messaging.consumer.group.name"]).toBe("g");
      expect(r.parent?.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
      expect(r.ended).toBe(true);
    }
    expect(recorded[0]!.status).toBeUndefined();
    expect(recorded[1]!.status?.code).toBe(SpanStatusCode.ERROR);
    expect(recorded[1]!.attributes["error.type"]).toBe("Error");
    expect(settled).toEqual(["ack:good", "ack:bad"]); // "bad" skipped after onError (no dead-letter target)
  });
});
