import { describe, expect, it } from "vitest";
import {
  ClosedError,
  PayloadBindingError,
  PayloadValidationError,
  PirouetteError,
  TimeoutError,
  toError,
} from "../src/index.ts";

describe("errors", () => {
  const cases: [new (...args: never[]) => PirouetteError, PirouetteError, string][] = [
    [PirouetteError, new PirouetteError("STATE", "x"), "STATE"],
    [PayloadBindingError, new PayloadBindingError("bad"), "PAYLOAD_BINDING"],
    [PayloadValidationError, new PayloadValidationError([{ message: "m", path: ["a", 0, "b"] }]), "PAYLOAD_VALIDATION"],
    [TimeoutError, new TimeoutError("late"), "TIMEOUT"],
    [ClosedError, new ClosedError(), "CLOSED"],
  ];

  it.each(cases)("%o: name matches the class, code is set, brand guard works", (cls, err, code) => {
    expect(err.name).toBe(cls.name);
    expect(err.code).toBe(code);
    expect(err).toBeInstanceOf(Error);
    expect(PirouetteError.is(err)).toBe(true);
    expect(String(err)).toContain(cls.name);
  });

  it("the brand guard rejects look-alikes and accepts a copy from another module instance", () => {
    expect(PirouetteError.is(new Error("x"))).toBe(false);
    expect(PirouetteError.is({ code: "STATE", name: "PirouetteError" })).toBe(false);
    expect(PirouetteError.is(null)).toBe(false);
    // Simulate a duplicate install: the brand is a registered symbol, not a class identity.
    const foreign = Object.defineProperty(new Error("dup"), Symbol.for("@pirouette/core/PirouetteError"), { value: true });
    expect(PirouetteError.is(foreign)).toBe(true);
  });

  it("keeps cause and coordinates, and formats validation paths", () => {
    const cause = new Error("root");
    const e = new PayloadBindingError("bad", { cause, coordinates: { topic: "t", offset: 3 } });
    expect(e.cause).toBe(cause);
    expect(e.coordinates).toEqual({ topic: "t", offset: 3 });
    expect(e.toJSON()).toEqual({ name: "PayloadBindingError", code: "PAYLOAD_BINDING", message: "bad", coordinates: { topic: "t", offset: 3 } });
    const v = new PayloadValidationError([
      { message: "required", path: ["items", 0, "qty"] },
      { message: "bad", path: [] },
    ]);
    expect(v.message).toBe("payload validation failed:\n  items[0].qty: required\n  (root): bad");
  });

  it("toError wraps non-errors", () => {
    const e = new Error("e");
    expect(toError(e)).toBe(e);
    expect(toError("s").message).toBe("s");
    expect(toError({ a: 1 }).message).toBe('{"a":1}');
  });
});
