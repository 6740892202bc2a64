import { fileURLToPath } from "node:url";
import * as grpcJs from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const PROTO = fileURLToPath(new URL("./fixtures/greeter.proto", import.meta.url));

export interface HelloRequest {
  name: string;
  count?: number;
  delay_ms?: number;
}
export interface HelloReply {
  message: string;
}
export interface Greeter {
  sayHello: { request: HelloRequest; response: HelloReply };
  lotsOfReplies: { request: HelloRequest; response: HelloReply };
  lotsOfGreetings: { request: HelloRequest; response: HelloReply };
  bidiHello: { request: HelloRequest; response: HelloReply };
  upload: { request: { data: Buffer }; response: HelloReply };
}

/** The grpc-js service constructor of pirouette.test.Greeter, loaded the plain way. */
export function rawGreeter(): grpcJs.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true, longs: String, enums: String });
  const pkg = grpcJs.loadPackageDefinition(def) as unknown as { pirouette: { test: { Greeter: grpcJs.ServiceClientConstructor } } };
  return pkg.pirouette.test.Greeter;
}

 
type AnyFn = (...args: any[]) => any;
/** A plain grpc-js client of pirouette.test.Greeter (or Other). */
export interface RawClient extends grpcJs.Client {
  SayHello: AnyFn;
  LotsOfReplies: AnyFn;
  LotsOfGreetings: AnyFn;
  BidiHello: AnyFn;
  Upload: AnyFn;
  Ping: AnyFn;
}

export function rawClient(port: number, options: grpcJs.ChannelOptions = {}): RawClient {
  const Ctor = rawGreeter();
  return new Ctor(`127.0.0.1:${port}`, grpcJs.credentials.createInsecure(), options) as unknown as RawClient;
}

export function rawUnary<T>(client: RawClient, method: "SayHello" | "Upload" | "Ping", request: unknown, options: { metadata?: grpcJs.Metadata; deadline?: number } = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = client[method];
    fn.call(client, request, options.metadata ?? new grpcJs.Metadata(), options.deadline === undefined ? {} : { deadline: options.deadline }, (err: Error | null, res: T) =>
      err === null ? resolve(res) : reject(err),
    );
  });
}

export function collect<T>(stream: NodeJS.EventEmitter): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on("data", (d: T) => out.push(d));
    stream.on("error", reject);
    stream.on("end", () => resolve(out));
  });
}

export function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error("condition not met in time"));
      else setTimeout(tick, 5);
    };
    tick();
  });
}
