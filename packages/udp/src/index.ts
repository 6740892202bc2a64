/**
 * @pirouette/udp: UDP listener and clients
 *
 * @module
 */
export {};
