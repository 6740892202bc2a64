/**
 * @pirouette/grpc: gRPC listener and client with the four call kinds as streams
 *
 * @module
 */
export {};
