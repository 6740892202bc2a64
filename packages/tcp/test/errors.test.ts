import { PirouetteError } from "@pirouette/core";
import { describe, expect, test } from "vitest";
import * as tcp from "../src/index.ts";

describe("TcpError", () => {
  test("name, code, brand, coordinates, cause", () => {
    const cause = new Error("ECONNRESET");
    const e = new tcp.TcpError("CONNECTION", "reset", { cause, coordinates: { remotePort: 1 } });
    expect(e.name).toBe("TcpError");
    expect(e).toBeInstanceOf(PirouetteError);
    expect(PirouetteError.is(e)).toBe(true);
    expect(tcp.TcpError.is(e)).toBe(true);
    expect(tcp.TcpError.is(new PirouetteError("CONNECTION", "x"))).toBe(false);
    expect(tcp.TcpError.is(new Error("x"))).toBe(false);
    expect(e.cause).toBe(cause);
    expect(e.toJSON()).toEqual({ name: "TcpError", code: "CONNECTION", message: "reset", coordinates: { remotePort: 1 } });
  });

  test("the package exports Ballerina's names as aliases", () => {
    expect(tcp.Listener).toBe(tcp.TcpListener);
    expect(tcp.Client).toBe(tcp.TcpClient);
    expect(tcp.Caller).toBe(tcp.TcpCaller);
  });
});
