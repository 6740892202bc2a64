/**
 * Payload binding: decode with a codec, then validate with a Standard Schema.
 *
 * @module
 */

import type { StandardSchemaV1 } from "@standard-schema/spec";
import {
  PayloadBindingError,
  PayloadValidationError,
  PirouetteError,
  type ValidationIssue,
} from "../errors.ts";
import type { Codec } from "./codec.ts";
import { json } from "./json.ts";

/** Protocol coordinates attached to binding errors (topic/partition/offset, queue, path…). */
type Coordinates = Readonly<Record<string, unknown>>;

/**
 * Whether `value` implements Standard Schema v1 (zod 3.24+/4, valibot 1, arktype 2, …): it has
 * a `~standard` object with `version: 1` and a `validate` function. ArkType types are
 * functions, so functions are accepted too.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * isStandardSchema(z.string()); // true
 * isStandardSchema({ parse() {} }); // false
 * ```
 */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const props: unknown = (value as { "~standard"?: unknown })["~standard"];
  if (typeof props !== "object" || props === null) return false;
  const { version, validate: check } = props as { version?: unknown; validate?: unknown };
  return version === 1 && typeof check === "function";
}

/**
 * Validate `value` against a Standard Schema and return the schema's typed output (after any
 * transforms). Synchronous and asynchronous schemas are both supported.
 *
 * Throws a `PayloadValidationError` (code `"PAYLOAD_VALIDATION"`) listing every issue as
 * `path: message`, with `coordinates` attached. If the schema itself throws (a transform that
 * throws, for instance), the error is wrapped in a `PayloadBindingError` with it as `cause`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const Order = z.object({ id: z.string(), qty: z.coerce.number().int() });
 * const order = await validate(Order, { id: "a1", qty: "3" }, { topic: "orders", offset: 42 });
 * order.qty; // 3, typed as number
 * ```
 */
export async function validate<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
  coordinates?: Coordinates,
): Promise<StandardSchemaV1.InferOutput<S>> {
  if (!isStandardSchema(schema)) {
    throw new PirouetteError("INVALID_ARGUMENT", "validate() needs a Standard Schema (zod, valibot, arktype…)");
  }
  const where = coordinates === undefined ? {} : { coordinates };
  let result: StandardSchemaV1.Result<StandardSchemaV1.InferOutput<S>>;
  try {
    result = await schema["~standard"].validate(value);
  } catch (cause) {
    const vendor = String(schema["~standard"].vendor);
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new PayloadBindingError(`${vendor} schema threw while validating the payload: ${message}`, {
      ...where,
      cause,
    });
  }
  if (result.issues) throw new PayloadValidationError(result.issues.map(toIssue), where);
  return result.value;
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  // Array.from, not path.map: some libraries (arktype) use an Array subclass for paths.
  const path = Array.from(issue.path ?? [], (segment) =>
    typeof segment === "object" && segment !== null ? segment.key : segment,
  );
  return { message: String(issue.message), path };
}

/**
 * Options of {@link bind}.
 *
 * @example
 * ```ts
 * const options: BindOptions = { codec: text(), coordinates: { queue: "jobs", deliveryTag: 12 } };
 * const body = await bind<string>(message.content, options);
 * ```
 */
export interface BindOptions {
  /** How to read the bytes. Default: `json()` with its default limits. */
  readonly codec?: Codec<unknown>;
  /** The schema the decoded value must satisfy. Without one, the decoded value is returned as is. */
  readonly schema?: StandardSchemaV1;
  /** Protocol coordinates of the message, attached to any error thrown. */
  readonly coordinates?: Coordinates;
}

let defaultCodec: Codec<unknown> | undefined;

/**
 * Payload binding: decode `bytes` with the codec (default `json()`), then, if a schema is given,
 * validate the result with it. Every failure carries `coordinates`: decode errors are re-thrown
 * as a `PayloadBindingError` holding them (the codec's error is the `cause`), and schema failures
 * are `PayloadValidationError`s.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * const Reading = v.object({ sensor: v.string(), value: v.number() });
 * const reading = await bind(message.value, {
 *   schema: Reading,
 *   coordinates: { topic: message.topic, partition: message.partition, offset: message.offset },
 * });
 * reading.value; // number
 * ```
 */
export function bind<S extends StandardSchemaV1>(
  bytes: Uint8Array,
  options: BindOptions & { readonly schema: S },
): Promise<StandardSchemaV1.InferOutput<S>>;
export function bind<T = unknown>(bytes: Uint8Array, options?: BindOptions): Promise<T>;
export async function bind(bytes: Uint8Array, options: BindOptions = {}): Promise<unknown> {
  const codec = options.codec ?? (defaultCodec ??= json());
  const { coordinates, schema } = options;
  let decoded: unknown;
  try {
    decoded = codec.decode(bytes);
  } catch (cause) {
    throw withCoordinates(cause, codec, coordinates);
  }
  return schema === undefined ? decoded : validate(schema, decoded, coordinates);
}

function withCoordinates(cause: unknown, codec: Codec<unknown>, coordinates: Coordinates | undefined): unknown {
  if (PirouetteError.is(cause)) {
    // Already a binding error with nothing to add: keep it as thrown.
    if (coordinates === undefined && cause instanceof PayloadBindingError) return cause;
    const merged = coordinates === undefined ? cause.coordinates : { ...cause.coordinates, ...coordinates };
    return new PayloadBindingError(cause.message, {
      cause,
      code: cause.code,
      ...(merged === undefined ? {} : { coordinates: merged }),
    });
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new PayloadBindingError(`${codec.name} codec could not decode the payload: ${message}`, {
    cause,
    ...(coordinates === undefined ? {} : { coordinates }),
  });
}
