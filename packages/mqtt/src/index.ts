/**
 * @pirouette/mqtt: MQTT listener and client on mqtt.js
 *
 * @module
 */
export {};
