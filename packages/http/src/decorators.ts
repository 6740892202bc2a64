/**
 * Resource decorators (`@get`, `@post`, …) and `@ServiceConfig`. Each works with legacy
 * `experimentalDecorators` and with standard decorators; none reads `design:*` metadata.
 *
 * @module
 */
import { createServiceConfigDecorator, PirouetteError, type DualClassDecorator, type HandlerContext } from "@pirouette/core";
import type { Caller } from "./caller.ts";
import type { HttpServiceConfig, ResourceDefinition, ResourceHandler, ResourceOptions } from "./options.ts";
import type { RequestFor } from "./request.ts";

/** @internal One resource recorded on a method. */
export interface ResourceSpec {
  readonly method: string;
  readonly path: string;
  readonly options: ResourceOptions;
}

// The registry: resource specs keyed by the decorated method function.
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
const registry = new WeakMap<Function, ResourceSpec[]>();

/** @internal The resources recorded on a method. */
export function getResourceSpecs(fn: unknown): readonly ResourceSpec[] | undefined {
  return typeof fn === "function" ? registry.get(fn) : undefined;
}

/**
 * A method decorator for a resource whose handler takes `TRequest` first, usable in legacy
 * and standard decorator modes. tsc checks the method's first parameter against the route's
 * request type (error TS1241 when it does not fit).
 *
 * @example
 * ```ts
 * const byId: ResourceDecorator<http.Request<{ id: string }>> = http.get("/orders/:id");
 * ```
 */
export interface ResourceDecorator<TRequest> {
  <F extends (request: TRequest, ...rest: never[]) => unknown>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<F>,
  ): void;
  <F extends (request: TRequest, ...rest: never[]) => unknown>(value: F, context: ClassMethodDecoratorContext): void;
}

function isMethodContext(x: unknown): x is ClassMethodDecoratorContext {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "method";
}

/**
 * Declare a resource for any HTTP method: `@route("GET", "/orders/:id", options)`. The
 * method-named decorators ({@link get}, {@link post}, …) are shorthands for it. Paths use
 * find-my-way syntax and are relative to the service's base path.
 *
 * @example
 * ```ts
 * class Search {
 *   @http.route("SEARCH", "/orders")
 *   search(req: http.Request) { return find(req.body); }
 * }
 * ```
 */
export function route<const P extends string, const O extends ResourceOptions = Record<never, never>>(
  method: string,
  path: P,
  options?: O,
): ResourceDecorator<RequestFor<P, O>> {
  const spec: ResourceSpec = { method: method.toUpperCase(), path, options: options ?? {} };
  return ((target: unknown, keyOrContext: unknown, descriptor?: PropertyDescriptor): void => {
    const fn: unknown = isMethodContext(keyOrContext) ? target : descriptor?.value;
    if (typeof fn !== "function") {
      throw new PirouetteError("INVALID_SERVICE", `@${method.toLowerCase()}("${path}") can only decorate methods`);
    }
    const list = registry.get(fn);
    if (list === undefined) registry.set(fn, [spec]);
    else list.push(spec);
  }) as ResourceDecorator<RequestFor<P, O>>;
}

/**
 * A `GET` resource. A HEAD request to the same path is answered by it too (without a body).
 *
 * @example
 * ```ts
 * class Orders {
 *   @http.get("/orders/:id", { params: z.object({ id: z.coerce.number().int() }) })
 *   get(req: http.Request<{ id: number }>) { return db.find(req.params.id); }
 * }
 * ```
 */
export function get<const P extends string, const O extends ResourceOptions = Record<never, never>>(
  path: P,
  options?: O,
): ResourceDecorator<RequestFor<P, O>> {
  return route("GET", path, options);
}

/**
 * A `POST` resource; a returned value answers 201.
 *
 * @example
 * ```ts
 * @http.post("/orders", { body: Order })
 * create(req: http.Request<{}, http.Query, Order>) { return save(req.body); }
 * ```
 */
export function post<const P extends string, const O extends ResourceOptions = Record<never, never>>(
  path: P,
  options?: O,
): ResourceDecorator<RequestFor<P, O>> {
  return route("POST", path, options);
}

/**
 * A `PUT` resource.
 *
 * @example
 * ```ts
 * @http.put("/orders/:id", { body: Order })
 * replace(req: http.Request<{ id: string }, http.Query, Order>) { return save(req.params.id, req.body); }
 * ```
 */
export function put<const P extends string, const O extends ResourceOptions = Record<never, never>>(
  path: P,
  options?: O,
): ResourceDecorator<RequestFor<P, O>> {
  return route("PUT", path, options);
}

/**
 * A `PATCH` resource.
 *
 * @example
 * ```ts
 * @http.patch("/orders/:id", { body: OrderPatch })
 * update(req: http.Request<{ id: string }, http.Query, OrderPatch>) { return merge(req.params.id, req.body); }
 * ```
 */
export function patch<const P extends string, const O extends ResourceOptions = Record<never, never>>(
  path: P,
  options?: O,
): ResourceDecorator<RequestFor<P, O>> {
  return route("PATCH", path, options);
}

/**
 * A `DELETE` resource (also exported as `delete`: `@http.delete("/orders/:id")`).
 *
 * @example
 * ```ts
 * @http.del("/orders/:id")
 * remove(req: http.Request<{ id: string }>) { orders.delete(req.params.id); }
 * ```
 */
export function del<const P extends string, const O extends ResourceOptions = Record<never, never>>(
  path: P,
  options?: O,
): ResourceDecorator<RequestFor<P, O>> {
  return route("DELETE", path, options);
}

/**
 * A `HEAD` resource (GET resources answer HEAD already).
 *
 * @example
 * ```ts
 * @http.head("/health")
 * health() { return undefined; }
 * ```
 */
export function head<const P extends string, const O extends ResourceOptions = Record<never, never>>(
  path: P,
  options?: O,
): ResourceDecorator<RequestFor<P, O>> {
  return route("HEAD", path, options);
}

/**
 * An `OPTIONS` resource.
 *
 * @example
 * ```ts
 * @http.options("/orders")
 * allow(_req: http.Request, caller: http.Caller) { caller.setHeader("allow", "GET, POST"); }
 * ```
 */
export function options<const P extends string, const O extends ResourceOptions = Record<never, never>>(
  path: P,
  opts?: O,
): ResourceDecorator<RequestFor<P, O>> {
  return route("OPTIONS", path, opts);
}

/**
 * Per-service configuration (base path, decorator-free resources, body limit), the same
 * fields `listener.attach(service, { ... })` accepts.
 *
 * @example
 * ```ts
 * @service(listener)
 * @http.ServiceConfig({ basePath: "/api", maxBodyBytes: 64 * 1024 })
 * class Api { @http.get("/ping") ping() { return "pong"; } }
 * ```
 */
export const ServiceConfig: (config: HttpServiceConfig) => DualClassDecorator = createServiceConfigDecorator<HttpServiceConfig>();

/**
 * A typed decorator-free resource for a `resources` map: the handler's request type follows
 * the schemas in `options`.
 *
 * @example
 * ```ts
 * await listener.attach({}, {
 *   name: "/api",
 *   resources: {
 *     "POST /orders": http.resource({ body: Order }, (req) => save(req.body)), // req.body: Order
 *   },
 * });
 * ```
 */
export function resource<const O extends ResourceOptions, const P extends string = string>(
  options: O,
  handler: (request: RequestFor<P, O>, caller: Caller, context: HandlerContext) => unknown,
): ResourceDefinition {
  return { ...options, handler: handler as ResourceHandler };
}
