/**
 * `@pirouette/udp`: Ballerina's `udp` module for Node — a listener that hands each datagram to
 * a service (`onDatagram` or `onBytes`, a returned value is sent back), an unconnected
 * `Client` (`sendDatagram`, `receiveDatagram`, `stream()`), a `ConnectClient` for one peer,
 * broadcast and multicast options.
 *
 * ```ts
 * import * as udp from "@pirouette/udp";
 * const listener = new udp.Listener(9000);
 * await listener.attach({ onBytes: (data) => data }); // echo
 * await listener.start();
 * ```
 *
 * @module
 */
export { UdpListener, UdpListener as Listener } from "./listener.ts";
export { UdpClient, UdpClient as Client, UdpConnectClient, UdpConnectClient as ConnectClient } from "./client.ts";
export { UdpCaller, UdpCaller as Caller } from "./caller.ts";
export { UdpError } from "./errors.ts";
export type { UdpErrorCode } from "./errors.ts";
export type {
  Datagram,
  OutgoingDatagram,
  MulticastOptions,
  UdpSocketOptions,
  UdpListenerOptions,
  UdpListenerOptions as ListenerOptions,
  UdpClientOptions,
  UdpClientOptions as ClientOptions,
  UdpConnectClientOptions,
  UdpConnectClientOptions as ConnectClientOptions,
  UdpService,
  UdpService as Service,
} from "./options.ts";
