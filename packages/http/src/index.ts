/**
 * @pirouette/http: HTTP listener with resource handlers and server-sent events, and an HTTP/SSE client
 *
 * @module
 */
export {};
