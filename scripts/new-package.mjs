// Scaffold packages/<name>: package.json, tsconfig.json, test/tsconfig.json, src/index.ts,
// and register it in the root project references. Usage: node scripts/new-package.mjs name "description" dep@range ...
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const [name, description, ...deps] = process.argv.slice(2);
if (!name) throw new Error("usage: new-package.mjs <name> <description> [dep@range ...]");
const dir = `packages/${name}`;
if (existsSync(dir)) throw new Error(`${dir} exists`);
mkdirSync(`${dir}/src`, { recursive: true });
mkdirSync(`${dir}/test`, { recursive: true });
const dependencies = { "@pirouette/core": "workspace:^" };
for (const d of deps) {
  const at = d.lastIndexOf("@");
  dependencies[d.slice(0, at)] = d.slice(at + 1);
}
const pkg = {
  name: `@pirouette/${name}`,
  version: "0.1.0",
  description,
  license: "Apache-2.0",
  type: "module",
  sideEffects: false,
  engines: { node: ">=20.19.0" },
  exports: { ".": "./src/index.ts", "./package.json": "./package.json", "./internal/*": null },
  publishConfig: {
    access: "public",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" }, "./package.json": "./package.json" },
  },
  files: ["dist", "src", "README.md"],
  scripts: { build: "tsc -b" },
  dependencies,
  devDependencies: { "@types/node": "^20.19.0" },
};
writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
writeFileSync(
  `${dir}/tsconfig.json`,
  JSON.stringify(
    {
      extends: "../../tsconfig.base.json",
      compilerOptions: { rootDir: "src", outDir: "dist", types: ["node"] },
      include: ["src"],
      references: [{ path: "../core" }],
    },
    null,
    2,
  ) + "\n",
);
writeFileSync(
  `${dir}/test/tsconfig.json`,
  JSON.stringify(
    {
      extends: "../../../tsconfig.base.json",
      compilerOptions: {
        composite: false,
        noEmit: true,
        types: ["node"],
        experimentalDecorators: true,
        rewriteRelativeImportExtensions: false,
        allowImportingTsExtensions: true,
      },
      include: ["."],
      exclude: ["fixtures"],
      references: [{ path: ".." }],
    },
    null,
    2,
  ) + "\n",
);
writeFileSync(`${dir}/src/index.ts`, `/**\n * @pirouette/${name}: ${description}\n *\n * @module\n */\nexport {};\n`);
for (const [file, path] of [
  ["tsconfig.json", `packages/${name}`],
  ["tsconfig.test.json", `packages/${name}/test`],
]) {
  const cfg = JSON.parse(readFileSync(file, "utf8"));
  if (!cfg.references.some((r) => r.path === path)) cfg.references.push({ path });
  writeFileSync(file, JSON.stringify(cfg, null, 2) + "\n");
}
console.log(`created ${dir}`);
