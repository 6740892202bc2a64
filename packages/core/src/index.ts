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
