/**
 * Loading `.proto` files: the descriptor services and clients are bound to.
 *
 * @module
 */
import * as protoLoader from "@grpc/proto-loader";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { GrpcError } from "./errors.ts";

/** The four call kinds. */
export type CallKind = "unary" | "serverStreaming" | "clientStreaming" | "bidiStreaming";

/** One RPC of a proto service. */
export interface RpcInfo {
  /** The RPC name as written in the proto (`SayHello`). */
  readonly name: string;
  /** The lower-camel-case name (`sayHello`); service methods may use either. */
  readonly camelName: string;
  /** `/package.Service/Method`. */
  readonly path: string;
  readonly kind: CallKind;
}

/** Options for {@link loadProto}. */
export interface LoadProtoOptions {
  /** Directories searched for imports. */
  readonly includeDirs?: readonly string[];
  /**
   * Keep field names as written in the proto (`user_id`) instead of lowerCamelCase. Default true.
   */
  readonly keepCase?: boolean;
}

/**
 * A loaded `.proto`: its services and their RPCs. Load it once and share it between
 * listeners and clients, or pass the file path and let them load it.
 *
 * @example
 * ```ts
 * const proto = grpc.loadProto("hello.proto");
 * proto.serviceNames(); // ["helloworld.HelloWorld"]
 * ```
 */
export class Proto {
  readonly #definition: protoLoader.PackageDefinition;
  /** Where it was loaded from (for messages). */
  readonly source: string;

  /** @internal Use {@link loadProto}. */
  constructor(definition: protoLoader.PackageDefinition, source: string) {
    this.#definition = definition;
    this.source = source;
  }

  /** The fully qualified names of the services the proto defines. */
  serviceNames(): string[] {
    return Object.entries(this.#definition)
      .filter(([, v]) => isServiceDefinition(v))
      .map(([k]) => k);
  }

  /**
   * Resolve a service name: fully qualified (`helloworld.HelloWorld`) or, when unambiguous, the
   * short name (`HelloWorld`). Throws `GRPC_UNKNOWN_SERVICE`.
   */
  resolveService(name: string): string {
    const names = this.serviceNames();
    if (names.includes(name)) return name;
    const short = names.filter((n) => n.split(".").at(-1) === name);
    if (short.length === 1) return short[0] as string;
    throw new GrpcError(
      "GRPC_UNKNOWN_SERVICE",
      short.length > 1
        ? `service name "${name}" is ambiguous in ${this.source}: ${short.join(", ")}`
        : `${this.source} has no service "${name}"; it defines: ${names.join(", ") || "(none)"}`,
    );
  }

  /** The RPCs of a service (name as accepted by {@link Proto.resolveService}). */
  rpcs(service: string): RpcInfo[] {
    const def = this.definition(service);
    return Object.entries(def).map(([name, m]) => ({
      name,
      camelName: name.charAt(0).toLowerCase() + name.slice(1),
      path: m.path,
      kind: m.requestStream ? (m.responseStream ? "bidiStreaming" : "clientStreaming") : m.responseStream ? "serverStreaming" : "unary",
    }));
  }

  /** @internal The grpc-js service definition. */
  definition(service: string): ServiceDefinition {
    return this.#definition[this.resolveService(service)] as unknown as ServiceDefinition;
  }
}

function isServiceDefinition(v: unknown): boolean {
  if (typeof v !== "object" || v === null || "format" in v) return false;
  const first = Object.values(v)[0] as { path?: unknown } | undefined;
  return first !== undefined && typeof first.path === "string";
}

/**
 * Load a `.proto` file (and its imports) with @grpc/proto-loader. Messages are plain objects;
 * 64-bit integers and enums come as strings, absent fields as their defaults, oneofs name
 * their set field.
 *
 * @throws {GrpcError} `GRPC_PROTO` when the file cannot be read or parsed.
 * @example
 * ```ts
 * const proto = grpc.loadProto(new URL("./hello.proto", import.meta.url).pathname);
 * ```
 */
export function loadProto(path: string | readonly string[], options: LoadProtoOptions = {}): Proto {
  const files = typeof path === "string" ? [path] : [...path];
  try {
    const def = protoLoader.loadSync(files, {
      keepCase: options.keepCase ?? true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
      ...(options.includeDirs === undefined ? {} : { includeDirs: [...options.includeDirs] }),
    });
    return new Proto(def, files.join(", "));
  } catch (e) {
    throw new GrpcError("GRPC_PROTO", `cannot load ${files.join(", ")}: ${(e as Error).message}`, { cause: e });
  }
}

/** @internal A proto from a path or an already loaded one. */
export function toProto(p: string | Proto, options?: LoadProtoOptions): Proto {
  return typeof p === "string" ? loadProto(p, options) : p;
}
