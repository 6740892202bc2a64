/**
 * Service validation: the runtime stand-in for Ballerina's per-module compiler plugins.
 *
 * @module
 */
import { PirouetteError } from "../errors.ts";

/**
 * The service methods a protocol's listener accepts.
 *
 * @example
 * ```ts
 * const spec: ServiceSpec = {
 *   protocol: "rabbitmq",
 *   methods: { onMessage: {}, onRequest: {}, onError: {} },
 *   exactlyOneOf: [["onMessage", "onRequest"]],
 * };
 * ```
 */
export interface ServiceSpec {
  /** Used in error codes and messages, e.g. `"kafka"`. */
  readonly protocol: string;
  /** Every allowed `on*` method; `mandatory` ones must be present. */
  readonly methods: Readonly<Record<string, { readonly mandatory?: boolean }>>;
  /** Groups of which exactly one method must be present. */
  readonly exactlyOneOf?: readonly (readonly string[])[];
  /** Groups of which at least one method must be present. */
  readonly atLeastOneOf?: readonly (readonly string[])[];
  /** Build the protocol's error (defaults to a PirouetteError). */
  readonly error?: (code: string, message: string) => Error;
}

/** Every method name on an object and its prototype chain (not Object.prototype). */
export function serviceMethodNames(service: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = service; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (d !== undefined && typeof d.value === "function") names.add(k);
    }
  }
  return [...names];
}

/**
 * Check a service against a spec: unknown `on*` methods, missing mandatory methods and
 * exclusive groups are rejected with a coded error (`<PROTOCOL>_UNKNOWN_METHOD`,
 * `<PROTOCOL>_MISSING_METHOD`, `<PROTOCOL>_METHOD_CONFLICT`).
 *
 * @example
 * ```ts
 * validateService({ onMesage() {} }, spec); // throws RABBITMQ_UNKNOWN_METHOD: did you mean onMessage?
 * ```
 */
export function validateService(service: unknown, spec: ServiceSpec): void {
  const P = spec.protocol.toUpperCase();
  const fail = (code: string, message: string): never => {
    throw spec.error?.(`${P}_${code}`, message) ?? new PirouetteError(`${P}_${code}`, message);
  };
  if (typeof service !== "object" || service === null) fail("INVALID_SERVICE", `a ${spec.protocol} service must be an object`);
  const names = serviceMethodNames(service as object);
  const allowed = Object.keys(spec.methods);
  for (const n of names) {
    if (/^on[A-Z]/.test(n) && !allowed.includes(n)) {
      const hint = closest(n, allowed);
      fail(
        "UNKNOWN_METHOD",
        `${spec.protocol} services cannot have a method named ${n}${hint === undefined ? "" : ` (did you mean ${hint}?)`}; allowed: ${allowed.join(", ")}`,
      );
    }
  }
  for (const [n, m] of Object.entries(spec.methods)) {
    if (m.mandatory === true && !names.includes(n)) fail("MISSING_METHOD", `a ${spec.protocol} service must have a ${n} method`);
  }
  for (const group of spec.exactlyOneOf ?? []) {
    const present = group.filter((n) => names.includes(n));
    if (present.length !== 1) {
      fail(
        present.length === 0 ? "MISSING_METHOD" : "METHOD_CONFLICT",
        present.length === 0
          ? `a ${spec.protocol} service must have one of ${group.join(", ")}`
          : `a ${spec.protocol} service may have only one of ${group.join(", ")}; found ${present.join(" and ")}`,
      );
    }
  }
  for (const group of spec.atLeastOneOf ?? []) {
    if (!group.some((n) => names.includes(n))) fail("MISSING_METHOD", `a ${spec.protocol} service must have at least one of ${group.join(", ")}`);
  }
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}
