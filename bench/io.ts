/**
 * @pirouette/io benchmark: throughput and peak memory of file and CSV streams against the raw
 * Node equivalents (reference/perf.md §1 "File" and §5 "Memory suite").
 *
 *   pnpm bench io [--gib 1] [--rows 10000000] [--trials 3] [--csv-trials 2] [--slow-seconds 15] [--keep]
 *
 * Inputs, generated into os.tmpdir() and deleted at the end (unless --keep):
 *   - a 1 GiB binary file;
 *   - a CSV of 10M rows (header + 6 fields, one quoted field with a comma), about 600 MB.
 *
 * Every scenario runs in its own child process (so its peak RSS is its own), which reports
 * wall time, CPU time, `process.resourceUsage().maxRSS` and its RSS at start. Children run plain
 * `node` on the compiled packages (`tsc -b packages/io` first, then a `node_modules` next to the
 * child script holds `@pirouette/io` and `@pirouette/core` as their `dist/`): the tsx loader alone
 * costs about 50 MiB of RSS, and a module-loader hook thread another 13 MiB, which would drown the
 * figures. Raw arms do not load @pirouette/io at all.
 *
 *   raw-blocks      `for await` over `fs.createReadStream` (64 KiB chunks)
 *   io-blocks       `fileReadBlocksAsStream(path, 65536)` (same block size)
 *   io-blocks-4k    `fileReadBlocksAsStream(path)` (the Ballerina default, 4096-byte blocks)
 *   raw-csv         `fs.createReadStream(path).pipe(csv-parse({ columns: true }))`, `for await` per record
 *   io-csv          `fileReadCsvAsStream(path)`, `for await` per record (records keyed by the header)
 *   io-blocks-slow  a slow consumer: 1 ms pause after every 64 KiB block, RSS sampled every 250 ms
 *   io-csv-slow     a slow consumer: 1 ms pause every 1000 records, RSS sampled every 250 ms
 *
 * Raw and io arms alternate (ABBA). Printed: per-scenario medians (MB/s or rows/s, CPU, peak
 * RSS), the slow consumers' heap and RSS over time (medians by thirds of the run: a flat heap
 * means no growth with input), then the ratios last, as medians of per-pair ratios on CPU time (a loaded 2-core
 * machine disturbs CPU time far less than wall time; wall-time ratios are printed above them):
 *
 *   ratio io-blocks-vs-createReadStream <raw CPU ÷ io CPU for the same bytes>
 *   ratio io-csv-vs-csv-parse <raw CPU ÷ io CPU for the same rows>
 *
 * Higher is better; 1.0 means equal cost. Targets: peak RSS ≤ 128 MiB everywhere.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const MiB = 1024 * 1024;
const root = fileURLToPath(new URL("..", import.meta.url));

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

/** What a child prints (one JSON line). */
interface Report {
  readonly scenario: string;
  readonly units: number;
  readonly bytes: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly maxRssMiB: number;
  readonly startRssMiB: number;
  readonly samplesMiB: readonly number[];
  readonly heapSamplesMiB: readonly number[];
}

// ---------------------------------------------------------------------------------- child

/**
 * The child, in plain JavaScript: `node child.mjs <scenario> <path> <slowSeconds>`. The raw
 * csv-parse arm uses the csv-parse that @pirouette/io depends on (the same version).
 */
function childSource(): string {
  return `
import { createReadStream } from "node:fs";
const [scenario] = process.argv.slice(2);
const { fileReadBlocksAsStream, fileReadCsvAsStream } = scenario.startsWith("io-") ? await import("@pirouette/io") : {};
const { parse } = scenario === "raw-csv" ? await import("csv-parse") : {};
const MiB = ${MiB};
const [, path, slowArg] = process.argv.slice(2);
const slowSeconds = Number(slowArg);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const startRss = process.memoryUsage().rss;
const samples = [];
const heapSamples = [];
const sampler = scenario.endsWith("-slow")
  ? setInterval(() => {
      const m = process.memoryUsage();
      samples.push(m.rss / MiB);
      heapSamples.push(m.heapUsed / MiB);
    }, 250)
  : undefined;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let units = 0;
let bytes = 0;
const deadline = Date.now() + slowSeconds * 1000;
switch (scenario) {
  case "raw-blocks":
    for await (const chunk of createReadStream(path)) { units++; bytes += chunk.length; }
    break;
  case "io-blocks":
  case "io-blocks-4k":
    for await (const block of fileReadBlocksAsStream(path, scenario === "io-blocks" ? 65536 : 4096)) { units++; bytes += block.length; }
    break;
  case "raw-csv":
    for await (const record of createReadStream(path).pipe(parse({ columns: true }))) { units++; bytes += record.qty.length; }
    break;
  case "io-csv":
    for await (const record of fileReadCsvAsStream(path)) { units++; bytes += record.qty.length; }
    break;
  case "io-blocks-slow":
    for await (const block of fileReadBlocksAsStream(path, 65536)) {
      units++; bytes += block.length;
      await sleep(1); if (Date.now() > deadline) break;
    }
    break;
  case "io-csv-slow":
    for await (const record of fileReadCsvAsStream(path)) {
      units++; bytes += record.qty.length;
      if (units % 1000 === 0) { await sleep(1); if (Date.now() > deadline) break; }
    }
    break;
  default:
    throw new Error("unknown scenario " + scenario);
}
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
if (sampler !== undefined) clearInterval(sampler);
process.stdout.write(JSON.stringify({
  scenario, units, bytes, wallMs, cpuMs: (cpu.user + cpu.system) / 1000,
  maxRssMiB: process.resourceUsage().maxRSS / 1024, startRssMiB: startRss / MiB, samplesMiB: samples, heapSamplesMiB: heapSamples,
}) + "\\n");
`;
}

/**
 * Lay out `dir` so that plain `node dir/child.mjs` finds the compiled packages:
 * `node_modules/@pirouette/io` is a copy of `packages/io/dist` (so that its `@pirouette/core`
 * import resolves here), `@pirouette/core` points at `packages/core/dist` (its own dependencies
 * resolve from there), and csv-parse / csv-stringify link to @pirouette/io's own copies.
 */
function writeChildFiles(dir: string): string {
  const modules = join(dir, "node_modules");
  const pkg = (name: string, dist: "copy" | "link"): void => {
    const target = join(modules, "@pirouette", name);
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, "package.json"), JSON.stringify({ name: `@pirouette/${name}`, type: "module", exports: "./dist/index.js" }));
    const source = join(root, "packages", name, "dist");
    if (dist === "copy") cpSync(source, join(target, "dist"), { recursive: true });
    else symlinkSync(source, join(target, "dist"), "dir");
  };
  pkg("io", "copy");
  pkg("core", "link");
  for (const dep of ["csv-parse", "csv-stringify"]) {
    symlinkSync(realpathSync(join(root, "packages", "io", "node_modules", dep)), join(modules, dep), "dir");
  }
  const child = join(dir, "child.mjs");
  writeFileSync(child, childSource());
  return child;
}

// ---------------------------------------------------------------------------------- parent

let childScript: string | undefined;

function runChild(scenario: string, path: string, slowSeconds: number): Promise<Report> {
  const child = childScript as string;
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, scenario, path, String(slowSeconds)], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", (d: string) => (out += d));
    proc.on("error", reject);
    proc.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${scenario} exited with ${String(code)}`));
      const line = out.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(line) as Report);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

function generateBinary(path: string, bytes: number): void {
  const piece = randomBytes(4 * MiB);
  const fd = openSync(path, "w");
  try {
    for (let written = 0; written < bytes; ) {
      const n = Math.min(piece.length, bytes - written);
      writeSync(fd, piece, 0, n);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
}

function generateCsv(path: string, rows: number): void {
  const fd = openSync(path, "w");
  try {
    writeSync(fd, "id,customer,item,qty,price,ts\n");
    const items = ['"widget, large"', "gadget", '"bolt ""M8"""', "nut"];
    for (let start = 0; start < rows; start += 20_000) {
      let text = "";
      const end = Math.min(rows, start + 20_000);
      for (let i = start; i < end; i++) {
        text += `${i},c${i % 9973},${items[i % 4] as string},${i % 17},${(i % 100_000) / 100},2024-01-01T00:00:${String(i % 60).padStart(2, "0")}Z\n`;
      }
      writeSync(fd, text);
    }
  } finally {
    closeSync(fd);
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (x: number, digits = 1): string => x.toFixed(digits);

async function pairs(
  raw: string,
  ours: string,
  path: string,
  trials: number,
  slowSeconds: number,
): Promise<{ raw: Report[]; ours: Report[] }> {
  const out = { raw: [] as Report[], ours: [] as Report[] };
  // warm-up (page cache, tsx cache), not counted
  await runChild(raw, path, slowSeconds);
  await runChild(ours, path, slowSeconds);
  for (let t = 0; t < trials; t++) {
    const order = t % 2 === 0 ? [raw, ours] : [ours, raw];
    for (const scenario of order) {
      const r = await runChild(scenario, path, slowSeconds);
      (scenario === raw ? out.raw : out.ours).push(r);
    }
  }
  return out;
}

function check(reports: readonly Report[], units: number | undefined, bytes: number | undefined): void {
  for (const r of reports) {
    if (units !== undefined && r.units !== units) throw new Error(`${r.scenario}: ${r.units} units, expected ${units}`);
    if (bytes !== undefined && r.bytes !== bytes) throw new Error(`${r.scenario}: ${r.bytes} bytes, expected ${bytes}`);
  }
}

function row(name: string, reports: readonly Report[], per: (r: Report) => number, unit: string): void {
  const rate = median(reports.map((r) => per(r) / (r.wallMs / 1000)));
  const cpu = median(reports.map((r) => r.cpuMs));
  const peak = Math.max(...reports.map((r) => r.maxRssMiB));
  const start = median(reports.map((r) => r.startRssMiB));
  const verdict = peak <= 128 ? "ok" : "OVER 128 MiB";
  console.log(
    `${name.padEnd(14)} ${fmt(rate, 0).padStart(12)} ${unit.padEnd(7)} cpu ${fmt(cpu, 0).padStart(7)} ms   peak RSS ${fmt(peak).padStart(6)} MiB (start ${fmt(start)}) ${verdict}`,
  );
}

function ratios(raw: readonly Report[], ours: readonly Report[]): { cpu: number; wall: number; each: number[] } {
  const cpu = raw.map((r, i) => r.cpuMs / (ours[i] as Report).cpuMs);
  const wall = raw.map((r, i) => r.wallMs / (ours[i] as Report).wallMs);
  return { cpu: median(cpu), wall: median(wall), each: cpu };
}

/**
 * Memory under a slow consumer: medians of each third of the run's samples, for RSS and for the
 * V8 heap in use. Growing with the input would show as a rise of the heap from the middle third
 * to the last one (the first third includes the warm-up; RSS also reflects the heap reserving
 * room up to its steady size, which is not growth with the input).
 */
function slowSummary(r: Report): string {
  const thirds = (s: readonly number[]): [number, number, number] => {
    const t = Math.floor(s.length / 3);
    return [s.slice(0, t), s.slice(t, 2 * t), s.slice(2 * t)].map(median) as [number, number, number];
  };
  if (r.samplesMiB.length < 9) return `${r.samplesMiB.length} samples (too short to judge)`;
  const rss = thirds(r.samplesMiB);
  const heap = thirds(r.heapSamplesMiB);
  const verdict = heap[2] - heap[1] > 8 ? "GROWING" : "flat";
  return (
    `heap used by thirds ${heap.map((x) => fmt(x)).join(" / ")} MiB (${verdict}), RSS ${rss.map((x) => fmt(x)).join(" / ")} MiB, ` +
    `peak ${fmt(r.maxRssMiB)} MiB, ${r.units} units in ${fmt(r.wallMs / 1000)} s`
  );
}

async function parent(): Promise<void> {
  const gib = arg("gib", 1);
  const rows = Math.floor(arg("rows", 10_000_000));
  const trials = Math.floor(arg("trials", 3));
  const csvTrials = Math.floor(arg("csv-trials", 2));
  const slowSeconds = arg("slow-seconds", 15);
  const keep = process.argv.includes("--keep");
  const dir = mkdtempSync(join(tmpdir(), "pirouette-bench-io-"));
  const binPath = join(dir, "blocks.bin");
  const csvPath = join(dir, "rows.csv");
  try {
    console.log("building the packages (tsc -b packages/io) …");
    execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-b", join(root, "packages", "io")], {
      stdio: "inherit",
    });
    childScript = writeChildFiles(join(dir, "child"));
    const size = Math.floor(gib * 1024 * MiB);
    console.log(`generating ${fmt(size / MiB, 0)} MiB binary and ${rows} CSV rows in ${dir} …`);
    generateBinary(binPath, size);
    generateCsv(csvPath, rows);
    console.log(`csv file: ${fmt(statSync(csvPath).size / MiB, 0)} MiB; node ${process.version}\n`);

    const blocks = await pairs("raw-blocks", "io-blocks", binPath, trials, slowSeconds);
    check([...blocks.raw, ...blocks.ours], undefined, size);
    const blocks4k = [await runChild("io-blocks-4k", binPath, slowSeconds)];
    check(blocks4k, Math.ceil(size / 4096), size);
    const csv = await pairs("raw-csv", "io-csv", csvPath, csvTrials, slowSeconds);
    check([...csv.raw, ...csv.ours], rows, undefined);
    const slowBlocks = await runChild("io-blocks-slow", binPath, slowSeconds);
    const slowCsv = await runChild("io-csv-slow", csvPath, slowSeconds);

    const mbps = (r: Report): number => r.bytes / 1e6;
    const rps = (r: Report): number => r.units;
    console.log("scenario             rate            CPU (median)      peak RSS (max over trials)");
    row("raw-blocks", blocks.raw, mbps, "MB/s");
    row("io-blocks", blocks.ours, mbps, "MB/s");
    row("io-blocks-4k", blocks4k, mbps, "MB/s");
    row("raw-csv", csv.raw, rps, "rows/s");
    row("io-csv", csv.ours, rps, "rows/s");
    console.log(`\nslow consumer, blocks: ${slowSummary(slowBlocks)}`);
    console.log(`slow consumer, csv:    ${slowSummary(slowCsv)}`);

    const b = ratios(blocks.raw, blocks.ours);
    const c = ratios(csv.raw, csv.ours);
    console.log(`\nwall-time ratios: io-blocks-vs-createReadStream ${fmt(b.wall, 3)}, io-csv-vs-csv-parse ${fmt(c.wall, 3)}`);
    console.log(`CPU ratios per pair: blocks ${b.each.map((x) => fmt(x, 3)).join(" ")}, csv ${c.each.map((x) => fmt(x, 3)).join(" ")}`);
    const peaks = [...blocks.ours, ...blocks4k, ...csv.ours, slowBlocks, slowCsv].map((r) => r.maxRssMiB);
    console.log(`peak RSS of every io scenario ≤ 128 MiB: ${Math.max(...peaks) <= 128 ? "yes" : "NO"} (max ${fmt(Math.max(...peaks))} MiB)`);
    console.log(`ratio io-blocks-vs-createReadStream ${fmt(b.cpu, 3)}`);
    console.log(`ratio io-csv-vs-csv-parse ${fmt(c.cpu, 3)}`);
  } finally {
    if (keep) console.error(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

await parent();
