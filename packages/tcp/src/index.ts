/**
 * @pirouette/tcp: TCP listener and client with optional framing and TLS
 *
 * @module
 */
export {};
