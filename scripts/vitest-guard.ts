// Test-wide guard: any uncaught exception or unhandled rejection fails the file that caused it.
import { afterAll } from "vitest";

const seen: unknown[] = [];
const onError = (e: unknown): void => {
  seen.push(e);
};
process.on("uncaughtException", onError);
process.on("unhandledRejection", onError);

afterAll(() => {
  process.off("uncaughtException", onError);
  process.off("unhandledRejection", onError);
  if (seen.length > 0) {
    const first = seen[0];
    throw new Error(
      `${seen.length} uncaught exception(s)/unhandled rejection(s) during this file; first: ${
        first instanceof Error ? (first.stack ?? first.message) : JSON.stringify(first)
      }`,
    );
  }
});
