import { defineConfig } from "vitest/config";

// One config for the workspace. "unit" tests never open a network connection to a broker;
// "integration" tests talk to real servers started by `scripts/services up`.
export default defineConfig({
  test: {
    setupFiles: ["./scripts/vitest-guard.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
          exclude: ["**/*.integration.test.ts", "**/node_modules/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["packages/*/test/**/*.integration.test.ts", "examples/*/test/**/*.integration.test.ts"],
          fileParallelism: false,
        },
      },
    ],
  },
});
