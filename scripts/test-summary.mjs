// Prints the suite's closing line, "vitest: N passed, N failed, N skipped", from vitest's JSON
// report, and fails if no test ran at all.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? "test-results/vitest.json";
const r = JSON.parse(readFileSync(file, "utf8"));
const passed = r.numPassedTests ?? 0;
const failed = (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0);
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`vitest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed === 0 || failed > 0) process.exit(1);
