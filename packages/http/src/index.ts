/**
 * `@pirouette/http`: Ballerina's HTTP listener/service model on `node:http`. Resource
 * handlers (`@get("/orders/:id")`, … or a decorator-free resource map) with Standard Schema
 * binding; a handler returning a `Stream` serves server-sent events in Ballerina's wire
 * format; an HTTP client with typed JSON responses and `events(path)` → `Stream<SseEvent>`.
 *
 * @example
 * ```ts
 * import * as http from "@pirouette/http";
 * import { service, Stream } from "@pirouette/core";
 *
 * const listener = new http.Listener(8080);
 *
 * @service(listener, "/api")
 * class Api {
 *   @http.get("/hello/:name")
 *   hello(req: http.Request<{ name: string }>) { return { greeting: `hello ${req.params.name}` }; }
 *
 *   @http.get("/ticks")
 *   ticks(): Stream<http.SseEvent> { return Stream.from([{ id: "1", data: "tick" }]); }
 * }
 *
 * await listener.start();
 * ```
 *
 * @module
 */
export { HttpListener as Listener, HttpListener } from "./listener.ts";
export type { HttpService as Service, HttpService, UpgradeHandler } from "./listener.ts";
export { HttpClient as Client, HttpClient } from "./client.ts";
export type { ClientResponse } from "./client.ts";
export { Caller } from "./caller.ts";
export { HttpResponse as Response, HttpResponse } from "./response.ts";
export type { ResponseInit } from "./response.ts";
export { HttpError } from "./errors.ts";
export type { HttpErrorCode, HttpErrorOptions } from "./errors.ts";
export { route, get, post, put, patch, del, del as delete, head, options, resource, ServiceConfig } from "./decorators.ts";
export type { ResourceDecorator } from "./decorators.ts";
export { isSseEvent } from "./sse.ts";
export type { SseEvent } from "./sse.ts";
export type { Request, RequestFor, PathParams, Query } from "./request.ts";
export type {
  HttpListenerOptions,
  HttpServiceConfig,
  HttpClientOptions,
  HttpTlsOptions,
  SseOptions,
  ResourceOptions,
  ResourceDefinition,
  ResourceHandler,
  ResourceMap,
  RequestOptions,
  EventsOptions,
  QueryValue,
} from "./options.ts";
