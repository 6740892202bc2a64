import { PirouetteError } from "@pirouette/core";
import { describe, expect, it } from "vitest";
import * as grpc from "../src/index.ts";
import { PROTO } from "./helpers.ts";

describe("GrpcError and Status", () => {
  it("carries the status number for status names and UNKNOWN for package codes", () => {
    const e = new grpc.GrpcError("NOT_FOUND", "gone", { metadata: { "x-a": "1" } });
    expect(e.name).toBe("GrpcError");
    expect(e.grpcStatus).toBe(5);
    expect(e.isStatus).toBe(true);
    expect(e.metadata).toEqual({ "x-a": "1" });
    expect(grpc.GrpcError.is(e) && PirouetteError.is(e)).toBe(true);
    expect(grpc.GrpcError.is(new PirouetteError("X", "y"))).toBe(false);
    const p = new grpc.GrpcError("GRPC_PROTO", "bad");
    expect(p.grpcStatus).toBe(grpc.Status.UNKNOWN);
    expect(p.isStatus).toBe(false);
    expect(grpc.statusName(14)).toBe("UNAVAILABLE");
    expect(grpc.statusName(99)).toBe("UNKNOWN");
  });

  it("loads protos and resolves service names", () => {
    const proto = grpc.loadProto(PROTO);
    expect(proto.serviceNames()).toEqual(["pirouette.test.Greeter", "pirouette.test.Other"]);
    expect(proto.resolveService("Greeter")).toBe("pirouette.test.Greeter");
    expect(proto.rpcs("Greeter").map((r) => [r.camelName, r.kind])).toEqual([
      ["sayHello", "unary"],
      ["lotsOfReplies", "serverStreaming"],
      ["lotsOfGreetings", "clientStreaming"],
      ["bidiHello", "bidiStreaming"],
      ["upload", "unary"],
    ]);
    expect(() => proto.resolveService("Nope")).toThrow(/has no service "Nope"/);
    expect(() => grpc.loadProto("/does/not/exist.proto")).toThrow(expect.objectContaining({ code: "GRPC_PROTO" }) as Error);
  });
});
