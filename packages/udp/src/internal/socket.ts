/**
 * Opening, configuring and sending on dgram sockets.
 *
 * @internal
 * @module
 */
import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import { UdpError } from "../errors.ts";
import type { UdpSocketOptions } from "../options.ts";

/** The largest UDP payload over IPv4. */
export const MAX_UDP_PAYLOAD = 65_507;

export function checkPort(port: number | undefined, what: string, allowZero: boolean): void {
  if (port === undefined) return;
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new UdpError("INVALID_ARGUMENT", `${what} must be an integer in ${allowZero ? 0 : 1}..65535, got ${String(port)}`);
  }
}

export function checkSocketOptions(o: UdpSocketOptions): void {
  const chunk = o.sendChunkSize;
  if (chunk !== undefined && (!Number.isInteger(chunk) || chunk < 1 || chunk > MAX_UDP_PAYLOAD)) {
    throw new UdpError("INVALID_ARGUMENT", `sendChunkSize must be an integer in 1..${MAX_UDP_PAYLOAD}, got ${String(chunk)}`);
  }
  if (o.type !== undefined && o.type !== "udp4" && o.type !== "udp6") {
    throw new UdpError("INVALID_ARGUMENT", `type must be "udp4" or "udp6", got ${String(o.type)}`);
  }
}

export interface OpenOptions extends UdpSocketOptions {
  readonly localHost?: string | undefined;
  readonly localPort?: number | undefined;
  /** Connect the socket to this peer after binding. */
  readonly connectTo?: { readonly host: string; readonly port: number } | undefined;
}

function connectionError(what: string, e: unknown): UdpError {
  const err = e as Error;
  return new UdpError("CONNECTION", `${what}: ${err.message}`, { cause: e });
}

/**
 * Create a socket, bind it, connect it if asked, and apply the options. The returned socket has
 * an `'error'` listener that forwards to `onError`.
 */
export async function openSocket(o: OpenOptions, onError: (error: UdpError) => void): Promise<dgram.Socket> {
  const type = o.type ?? (isIPv6(o.localHost ?? "") || isIPv6(o.connectTo?.host ?? "") ? "udp6" : "udp4");
  const socket = dgram.createSocket({
    type,
    reuseAddr: o.reuseAddr === true,
    ...(o.recvBufferSize === undefined ? {} : { recvBufferSize: o.recvBufferSize }),
    ...(o.sendBufferSize === undefined ? {} : { sendBufferSize: o.sendBufferSize }),
  });
  const where = `${o.localHost ?? "*"}:${o.localPort ?? 0}`;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ port: o.localPort ?? 0, ...(o.localHost === undefined ? {} : { address: o.localHost }) }, () => {
        socket.off("error", reject);
        resolve();
      });
    }).catch((e: unknown) => {
      throw connectionError(`cannot bind ${where}`, e);
    });
    if (o.connectTo !== undefined) {
      const { host, port } = o.connectTo;
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.connect(port, host, () => {
          socket.off("error", reject);
          resolve();
        });
      }).catch((e: unknown) => {
        throw connectionError(`cannot connect to ${host}:${port}`, e);
      });
    }
    try {
      if (o.broadcast === true) socket.setBroadcast(true);
      if (o.ttl !== undefined) socket.setTTL(o.ttl);
      const m = o.multicast;
      if (m !== undefined) {
        if (m.interface !== undefined) socket.setMulticastInterface(m.interface);
        if (m.loopback !== undefined) socket.setMulticastLoopback(m.loopback);
        if (m.ttl !== undefined) socket.setMulticastTTL(m.ttl);
        for (const g of m.groups ?? []) socket.addMembership(g, m.interface);
      }
    } catch (e) {
      throw connectionError("cannot apply the socket options (broadcast/multicast/ttl)", e);
    }
  } catch (e) {
    try {
      socket.close();
    } catch {
      // already closed
    }
    throw e;
  }
  socket.on("error", (e: Error) => onError(connectionError("socket error", e)));
  return socket;
}

export function localAddress(socket: dgram.Socket): { host: string; port: number } {
  const a = socket.address();
  return { host: a.address, port: a.port };
}

/** Send one datagram; `done` gets the error, if any (never throws). */
export function sendRaw(
  socket: dgram.Socket,
  data: Uint8Array,
  port: number | undefined,
  host: string | undefined,
  done: (error: UdpError | undefined) => void,
): void {
  // Closures are passed inline: a named one costs a keep-names helper call per send under tsx.
  try {
    if (port === undefined) {
      socket.send(data, (e: Error | null) => done(e === null ? undefined : connectionError(`cannot send to ${host ?? "peer"}:${port ?? ""}`, e)));
    } else {
      socket.send(data, port, host, (e: Error | null) => done(e === null ? undefined : connectionError(`cannot send to ${host ?? "peer"}:${port ?? ""}`, e)));
    }
  } catch (e) {
    done(e instanceof UdpError ? e : connectionError(`cannot send to ${host ?? "peer"}:${port ?? ""}`, e));
  }
}

/** Send `data` as one or more datagrams of at most `chunk` bytes; resolves when all are sent. */
export function sendChunked(socket: dgram.Socket, data: Uint8Array, chunk: number, port: number | undefined, host: string | undefined): Promise<void> {
  if (data.length <= chunk) {
    return new Promise((resolve, reject) => sendRaw(socket, data, port, host, (e) => (e === undefined ? resolve() : reject(e))));
  }
  const sends: Promise<void>[] = [];
  for (let o = 0; o < data.length; o += chunk) {
    const piece = data.subarray(o, Math.min(o + chunk, data.length));
    sends.push(new Promise((resolve, reject) => sendRaw(socket, piece, port, host, (e) => (e === undefined ? resolve() : reject(e)))));
  }
  return Promise.all(sends).then(() => undefined);
}

/** Bytes of an outgoing payload: a string is UTF-8. */
export function payloadBytes(value: Uint8Array | string): Uint8Array {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value instanceof Uint8Array) return value;
  throw new UdpError("INVALID_ARGUMENT", `expected a Uint8Array or a string, got ${value === null ? "null" : typeof value}`);
}

export function checkDatagram(d: unknown): asserts d is { remoteHost: string; remotePort: number; data: Uint8Array | string } {
  const x = d as { remoteHost?: unknown; remotePort?: unknown } | null;
  if (typeof x !== "object" || x === null || typeof x.remoteHost !== "string" || typeof x.remotePort !== "number") {
    throw new UdpError("INVALID_ARGUMENT", "a datagram needs remoteHost (string), remotePort (number) and data");
  }
  checkPort(x.remotePort, "remotePort", false);
}
