/**
 * `skipLines`: a list of data-row numbers or a range string, as a predicate.
 * @internal
 * @module
 */
import { IoError } from "../errors.ts";

/** `[1, 4]` or `"2-5"` / `"1-3,7"` → a predicate on 1-based row numbers, or `undefined` for none. */
export function skipLinesPredicate(spec: readonly number[] | string | undefined): ((row: number) => boolean) | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec !== "string") {
    if (!Array.isArray(spec)) throw invalid(spec);
    const rows = new Set<number>();
    for (const n of spec as readonly unknown[]) {
      if (typeof n !== "number" || !Number.isInteger(n) || n < 1) throw invalid(spec);
      rows.add(n);
    }
    return rows.size === 0 ? undefined : (row) => rows.has(row);
  }
  const ranges: [number, number][] = [];
  for (const part of spec.split(",")) {
    const text = part.trim();
    if (text === "") continue;
    const m = /^(\d+)\s*(?:-\s*(\d+))?$/.exec(text);
    if (m === null) throw invalid(spec);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to < from) throw invalid(spec);
    ranges.push([from, to]);
  }
  if (ranges.length === 0) return undefined;
  return (row) => ranges.some(([from, to]) => row >= from && row <= to);
}

function invalid(spec: unknown): IoError {
  return new IoError(
    "INVALID_ARGUMENT",
    `skipLines must be positive row numbers or a range string such as "1-3", got ${JSON.stringify(spec)}`,
  );
}
