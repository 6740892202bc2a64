/**
 * `@pirouette/core`: the Stream type, query expressions, codecs, errors and the
 * listener/service model shared by every Pirouette package.
 *
 * @module
 */
export {
  PirouetteError,
  PayloadBindingError,
  PayloadValidationError,
  TimeoutError,
  ClosedError,
  toError,
} from "./errors.ts";
export type { PirouetteErrorCode, PirouetteErrorOptions, ValidationIssue } from "./errors.ts";
export { Stream } from "./stream/stream.ts";
export type { StreamValue, StreamInput, StreamFromOptions, StreamImplementation, Aggregate } from "./stream/stream.ts";
export type { StreamSource } from "./stream/source.ts";
export type { Sink, PipeToOptions } from "./stream/sink.ts";
export type { MapConcurrentContext } from "./stream/async-operators.ts";
export { PushSource } from "./stream/push-source.ts";
export type { PushSourceOptions, OverflowPolicy } from "./stream/push-source.ts";
export { from, Query, OrderedQuery } from "./query/query.ts";
export type { QuerySource, AggregateResults, WithField, Group } from "./query/query.ts";
export type { OrderDirection, OrderKey } from "./query/order.ts";
export { sum, avg, min, max, count, first, last, some, every, array } from "./query/aggregates.ts";
export type { QueryAggregate } from "./query/aggregates.ts";
export {
  json,
  text,
  bytes,
  csv,
  bind,
  validate,
  isStandardSchema,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
} from "./codec/index.ts";
export type {
  Codec,
  JsonCodecOptions,
  TextCodecOptions,
  BytesCodecOptions,
  CsvCodecOptions,
  CsvRecord,
  BindOptions,
} from "./codec/index.ts";
export { silentLogger, childLogger } from "./service/logger.ts";
export type { Logger, LogFn } from "./service/logger.ts";
export { injectTraceContext, extractTraceContext } from "./service/telemetry.ts";
export type { HeaderValue, TelemetryTarget } from "./service/telemetry.ts";
export { defaultRetryPolicy, backoffDelay } from "./service/retry-policy.ts";
export type { RetryPolicy, BackoffSchedule } from "./service/retry-policy.ts";
export { DeadLetterHeaders, deadLetterHeaders } from "./service/dead-letter.ts";
export type { DeadLetterRecord, DeadLetterTarget } from "./service/dead-letter.ts";
export { validateService, serviceMethodNames } from "./service/service-spec.ts";
export type { ServiceSpec } from "./service/service-spec.ts";
export { service, payload, createServiceConfigDecorator, getServiceConfig, getPayloadSchema } from "./service/decorators.ts";
export type { DualClassDecorator, PayloadDecorator, PayloadHandler, Attachable } from "./service/decorators.ts";
export { Dispatcher } from "./service/dispatcher.ts";
export type { AckOutcome, Delivery, DispatcherOptions, FailureAction, HandlerContext } from "./service/dispatcher.ts";
export { AbstractListener } from "./service/listener.ts";
export type { Listener, AttachOptions, ListenerOptions, Attachment, StopMode } from "./service/listener.ts";
export { serve } from "./service/serve.ts";
export type { ServeOptions, Served } from "./service/serve.ts";
import * as memory from "./memory/index.ts";
export { memory };
