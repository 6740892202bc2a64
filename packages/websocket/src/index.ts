/**
 * @pirouette/websocket: WebSocket listener and client on ws
 *
 * @module
 */
export {};
