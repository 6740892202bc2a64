#!/usr/bin/env node
// Run one benchmark: `pnpm bench <name> [args…]` runs bench/<name>.ts through tsx in a single
// Node process with --expose-gc (the harness calls gc() between trials). Extra arguments are
// passed through to the benchmark.
import { spawnSync } from "node:child_process";
import console from "node:console";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = join(root, "bench");
const available = existsSync(benchDir)
  ? readdirSync(benchDir)
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.startsWith("_"))
      .map((f) => f.slice(0, -3))
      .sort()
  : [];

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === "--help" || name === "-h") {
  console.log(`usage: pnpm bench <name> [args…]\navailable: ${available.join(", ") || "(none)"}`);
  process.exit(name === undefined ? 1 : 0);
}
if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name) || !available.includes(name)) {
  console.error(`unknown benchmark "${name}"; available: ${available.join(", ") || "(none)"}`);
  process.exit(1);
}

// tsx is resolved from bench/ (its devDependency), so run from there.
const result = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", join(benchDir, `${name}.ts`), ...rest], {
  cwd: benchDir,
  stdio: "inherit",
});
if (result.error !== undefined) {
  console.error(result.error.message);
  process.exit(1);
}
process.exit(result.status ?? (result.signal !== null ? 1 : 0));
