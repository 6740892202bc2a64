/**
 * Decorators: `@service`, `@payload` and the factory behind each protocol's `ServiceConfig`.
 * Each works with TypeScript's legacy `experimentalDecorators` and with standard (TC39)
 * decorators, and none reads emitted `design:*` metadata. `reflect-metadata` is the registry.
 *
 * @module
 */
import "reflect-metadata";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { PirouetteError } from "../errors.ts";

const CONFIG_KEY = "pirouette:service-config";
const PAYLOAD_KEY = "pirouette:payload";
const ATTACHED_KEY = "pirouette:attached";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClass = abstract new (...args: any[]) => object;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyMethod = (...args: any[]) => unknown;

interface ClassContextLike {
  readonly kind: "class";
  addInitializer(fn: (this: unknown) => void): void;
}
interface MethodContextLike {
  readonly kind: "method";
  readonly name: string | symbol;
}

function isClassContext(x: unknown): x is ClassContextLike {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "class";
}
function isMethodContext(x: unknown): x is MethodContextLike {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "method";
}

/**
 * A class decorator usable in both legacy and standard decorator modes.
 */
export interface DualClassDecorator {
  <C extends AnyClass>(target: C): void;
  <C extends AnyClass>(target: C, context: ClassDecoratorContext<C>): void;
}

/** What `@service` needs from a listener. */
export interface Attachable {
  attach(service: object, options?: string | readonly string[] | Record<string, unknown>): unknown;
  /** Told when an attach made by `@service` failed; `start()` then fails with it. */
  reportAttachError?(error: unknown): void;
}

/**
 * Attach a new instance of the decorated class to `listener` when the class is declared,
 * as Ballerina's `service "name" on listener { … }`. With legacy decorators, put `@service`
 * above the protocol's `ServiceConfig` decorator (decorators apply bottom-up).
 *
 * @example
 * ```ts
 * const orders = new memory.Listener({ broker });
 *
 * @service(orders, "orders")
 * class OrderService {
 *   @payload(Order)
 *   async onMessage(order: Order) { await save(order); }
 * }
 * ```
 */
export function service(listener: Attachable, name?: string | readonly string[]): DualClassDecorator {
  const attach = (cls: AnyClass): void => {
    Reflect.defineMetadata(ATTACHED_KEY, true, cls);
    const instance = new (cls as unknown as new () => object)();
    let r: unknown;
    try {
      r = listener.attach(instance, name);
    } catch (e) {
      report(listener, e);
      return;
    }
    // Attach failures (an invalid service, a refused subscription) must neither go unhandled
    // nor vanish: the listener hears about them and its start() fails with them.
    if (r instanceof Promise) r.catch((e: unknown) => report(listener, e));
  };
  return ((target: AnyClass, context?: unknown): void => {
    if (isClassContext(context)) {
      context.addInitializer(function (this: unknown) {
        attach(this as AnyClass);
      });
      return;
    }
    attach(target);
  });
}

function report(listener: Attachable, error: unknown): void {
  if (listener.reportAttachError !== undefined) listener.reportAttachError(error);
  else queueMicrotask(() => {
    throw error; // no way to report it: fail loudly rather than run without the service
  });
}

/**
 * Make a protocol's `ServiceConfig` decorator: it records `config` for the class, and
 * {@link getServiceConfig} reads it back at attach time. Several applications merge.
 *
 * @example
 * ```ts
 * export const ServiceConfig = createServiceConfigDecorator<RabbitMqServiceConfig>();
 * // user code:
 * @ServiceConfig({ queueName: "orders" })
 * class OrderService { onMessage() {} }
 * ```
 */
export function createServiceConfigDecorator<C extends object>(): (config: C) => DualClassDecorator {
  return (config: C) =>
    ((target: AnyClass, context?: unknown): void => {
      const record = (cls: AnyClass): void => {
        if (Reflect.getOwnMetadata(ATTACHED_KEY, cls) === true) {
          throw new PirouetteError(
            "INVALID_SERVICE",
            `${cls.name}: the ServiceConfig decorator must be written below @service (decorators apply bottom-up)`,
          );
        }
        const prev = (Reflect.getOwnMetadata(CONFIG_KEY, cls) as object | undefined) ?? {};
        Reflect.defineMetadata(CONFIG_KEY, { ...prev, ...config }, cls);
      };
      if (isClassContext(context)) {
        // Standard decorators: record now (the class value is `target`).
        record(target);
        return;
      }
      record(target);
    });
}

/**
 * The configuration a `ServiceConfig` decorator recorded for a service's class (merged up
 * the class hierarchy), or `undefined`.
 *
 * @example
 * ```ts
 * const cfg = getServiceConfig<RabbitMqServiceConfig>(service) ?? {};
 * ```
 */
export function getServiceConfig<C extends object>(service: object): C | undefined {
  const ctor = (service as { constructor?: unknown }).constructor;
  if (typeof ctor !== "function") return undefined;
  return Reflect.getMetadata(CONFIG_KEY, ctor) as C | undefined;
}

/**
 * The methods `@payload(schema)` decorates, for a schema whose output is `T`: the first
 * parameter takes one payload (`T`), or a batch of them (`T[]`, as Kafka's `onConsumerRecord`
 * gets in payload mode). The schema always describes one message's payload.
 *
 * @example
 * ```ts
 * const one: PayloadHandler<Order> = (order: Order) => save(order);
 * const batch: PayloadHandler<Order> = (orders: Order[]) => saveAll(orders);
 * ```
 */
export type PayloadHandler<T> = ((payload: T, ...rest: never[]) => unknown) | ((payloads: T[], ...rest: never[]) => unknown);

/**
 * The argument types `@payload(schema)` accepts: a method whose first parameter takes `T` or
 * `T[]` ({@link PayloadHandler}), in legacy (`experimentalDecorators`) or standard decorators.
 *
 * @example
 * ```ts
 * const decorate: PayloadDecorator<Order> = payload(Order);
 * ```
 */
export interface PayloadDecorator<T> {
  <F extends PayloadHandler<T>>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<F>): void;
  <F extends PayloadHandler<T>>(value: F, context: ClassMethodDecoratorContext): void;
}

/**
 * Bind and validate a service method's payload with any Standard Schema (zod, valibot,
 * arktype…). The payload is decoded with the listener's codec, then validated; a failure
 * goes to `onError` as a `PayloadValidationError` carrying the message coordinates. tsc
 * checks that the method's first parameter accepts the schema's output type, or an array of
 * it for batch methods (the schema then describes each element: Kafka validates every record).
 *
 * @example
 * ```ts
 * const Order = z.object({ id: z.string(), amount: z.number() });
 * class Orders {
 *   @payload(Order)
 *   onMessage(order: z.infer<typeof Order>) {}
 * }
 * class OrderBatches {
 *   @payload(Order)
 *   onConsumerRecord(orders: z.infer<typeof Order>[]) {}
 * }
 * ```
 */
export function payload<S extends StandardSchemaV1>(schema: S): PayloadDecorator<StandardSchemaV1.InferOutput<S>> {
  return ((target: unknown, keyOrContext: unknown, descriptor?: PropertyDescriptor): void => {
    if (isMethodContext(keyOrContext)) {
      Reflect.defineMetadata(PAYLOAD_KEY, schema, target as AnyMethod);
      return;
    }
    const fn = descriptor?.value as unknown;
    if (typeof fn !== "function") {
      throw new PirouetteError("INVALID_SERVICE", `@payload can only decorate methods (${String(keyOrContext)})`);
    }
    Reflect.defineMetadata(PAYLOAD_KEY, schema, fn);
  }) as PayloadDecorator<StandardSchemaV1.InferOutput<S>>;
}

/**
 * The schema `@payload` recorded on `service[method]`, if any.
 *
 * @example
 * ```ts
 * const schema = getPayloadSchema(service, "onMessage");
 * ```
 */
export function getPayloadSchema(service: object, method: string): StandardSchemaV1 | undefined {
  const fn = (service as Record<string, unknown>)[method];
  if (typeof fn !== "function") return undefined;
  return Reflect.getMetadata(PAYLOAD_KEY, fn) as StandardSchemaV1 | undefined;
}
