/**
 * Stream operator benchmark (reference/perf.md §3, §5): `map → filter → take(n/2) → collect`
 * over N numbers, in one process, arms alternated in ABBA order with gc() between trials.
 *
 *   pnpm bench stream [--n 1000000] [--trials 7] [--warmup 2] [--only raw,chunked]
 *
 * The filter keeps exactly half of the mapped values and take(n/2) ends on the last one kept,
 * so every arm consumes (almost) the whole source: ns/item is elapsed time ÷ N source items.
 * Each trial's result is checked (length, first, last, sum) before its time is accepted.
 *
 * Arms:
 *   raw             synchronous for loop over the array (the floor)
 *   asyncgen        hand-written async generators: source → map → filter → take, then for await
 *   per-item        Pirouette over the same one-item-per-yield async generator source
 *   chunked         Pirouette over the array (chunks of 1024 through fused stages)
 *   ix-array        IxJS esnext (`@reactivex/ix-esnext-esm`) over the array
 *   ix-asyncgen     IxJS esnext over the async generator source
 *
 * A second part measures the bare cost of wrapping an async generator (1e6 small items by
 * default, `--from-n`), arms alternated ABBA like the first part:
 *   gen-raw         `for await` over the async generator itself (the floor)
 *   gen-stream      `for await` over `Stream.from(generator)`
 *   gen-stream-map  `for await` over `Stream.from(generator).map(fn)`
 * and prints `ratio stream-from-async-generator-vs-raw <gen-raw ÷ gen-stream>` (CPU time, paired
 * medians; 1.0 means wrapping costs nothing) plus the same for the map arm.
 * `--part ops` or `--part from` runs one part only.
 *
 * The table gives wall-clock and process-CPU ns/item (median over trials). Last lines:
 * `chunked ns/item` (target ≤ 20), then `ratio stream-chunked-vs-ix <ix-array ÷ chunked>`
 * (target ≥ 2) and `ratio stream-per-item-vs-async-generators <asyncgen ÷ per-item>` (target
 * ≥ 0.91). Each ratio is the median of per-trial ratios of two arms that ran back to back
 * (perf.md §0: paired, interleaved ratios from one run), computed on CPU time, which a shared,
 * loaded machine disturbs far less than wall time; the wall-time ratios are printed above them.
 * Higher is better.
 */
import { Stream } from "@pirouette/core";
import { from as ixFrom, toArray as ixToArray } from "@reactivex/ix-esnext-esm/Ix.asynciterable";
import { filter as ixFilter, map as ixMap, take as ixTake } from "@reactivex/ix-esnext-esm/Ix.asynciterable.operators";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const N = arg("n", 1_000_000);
const TRIALS = arg("trials", 7);
const WARMUP = arg("warmup", 2);
const HALF = Math.floor(N / 2);

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench stream does)");
  });

const data: number[] = Array.from({ length: N }, (_, i) => i);
const mapFn = (x: number): number => x * 3;
const filterFn = (x: number): boolean => x % 2 === 0; // keeps exactly the even inputs

// Expected result, computed once from the definition.
const expected = (() => {
  let sum = 0;
  let count = 0;
  let first = -1;
  let last = -1;
  for (let i = 0; i < N && count < HALF; i++) {
    const y = mapFn(i);
    if (!filterFn(y)) continue;
    if (count === 0) first = y;
    last = y;
    sum += y;
    count++;
  }
  return { sum, count, first, last };
})();

function check(name: string, out: readonly number[]): void {
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += out[i] as number;
  if (out.length !== expected.count || out[0] !== (expected.count > 0 ? expected.first : undefined) || out[out.length - 1] !== (expected.count > 0 ? expected.last : undefined) || sum !== expected.sum) {
    throw new Error(`${name}: wrong result (length ${out.length}, sum ${sum}; expected ${expected.count}, ${expected.sum})`);
  }
}

// ---------------------------------------------------------------- sources and stages

async function* generate(items: readonly number[]): AsyncGenerator<number> {
  for (let i = 0; i < items.length; i++) yield items[i] as number;
}
async function* genMap<T, U>(src: AsyncIterable<T>, fn: (v: T) => U): AsyncGenerator<U> {
  for await (const v of src) yield fn(v);
}
async function* genFilter<T>(src: AsyncIterable<T>, fn: (v: T) => boolean): AsyncGenerator<T> {
  for await (const v of src) if (fn(v)) yield v;
}
async function* genTake<T>(src: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  if (n <= 0) return;
  let left = n;
  for await (const v of src) {
    yield v;
    if (--left === 0) return;
  }
}

// ---------------------------------------------------------------- arms

interface Arm {
  readonly name: string;
  /** Runs of the pipeline per trial (fast arms repeat so that a trial is long enough to time). */
  readonly reps: number;
  run(): Promise<number[]> | number[];
}

const allArms: Arm[] = [
  {
    name: "raw",
    reps: 20,
    run() {
      const out: number[] = [];
      for (let i = 0; i < data.length; i++) {
        const y = mapFn(data[i] as number);
        if (!filterFn(y)) continue;
        out.push(y);
        if (out.length === HALF) break;
      }
      return out;
    },
  },
  {
    name: "asyncgen",
    reps: 1,
    async run() {
      const out: number[] = [];
      for await (const v of genTake(genFilter(genMap(generate(data), mapFn), filterFn), HALF)) out.push(v);
      return out;
    },
  },
  {
    name: "per-item",
    reps: 1,
    run: () => Stream.from(generate(data)).map(mapFn).filter(filterFn).take(HALF).toArray(),
  },
  {
    name: "chunked",
    reps: 10,
    run: () => Stream.from(data).map(mapFn).filter(filterFn).take(HALF).toArray(),
  },
  {
    name: "ix-array",
    reps: 1,
    run: () => ixToArray(ixFrom(data).pipe(ixMap(mapFn), ixFilter(filterFn), ixTake(HALF))),
  },
  {
    name: "ix-asyncgen",
    reps: 1,
    run: () => ixToArray(ixFrom(generate(data)).pipe(ixMap(mapFn), ixFilter(filterFn), ixTake(HALF))),
  },
];

// --only raw,chunked restricts the run to some arms (for profiling); ratios need all arms.
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? "").split(",")) : undefined;
const arms = only === undefined ? allArms : allArms.filter((a) => only.has(a.name));

interface Sample {
  /** Wall-clock ns per item. */
  readonly wall: number;
  /** Process CPU ns per item (user + system, all threads: includes the GC's helpers). */
  readonly cpu: number;
}

async function trial(arm: Arm): Promise<Sample> {
  gc();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < arm.reps; r++) check(arm.name, await arm.run());
  const t1 = process.hrtime.bigint();
  const c = process.cpuUsage(c0);
  const items = arm.reps * N;
  return { wall: Number(t1 - t0) / items, cpu: ((c.user + c.system) * 1000) / items };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  console.log(`stream bench: map → filter → take(n/2) → toArray, N=${N}, ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA order), node ${process.version}`);
  for (let w = 0; w < WARMUP; w++) for (const arm of arms) await trial(arm);

  const samples = new Map<string, Sample[]>(arms.map((a) => [a.name, []]));
  for (let t = 0; t < TRIALS; t++) {
    // ABBA: forward order on even trials, reversed on odd ones.
    const order = t % 2 === 0 ? arms : [...arms].reverse();
    for (const arm of order) samples.get(arm.name)?.push(await trial(arm));
  }

  const med = new Map<string, Sample>();
  const rows = arms.map((arm) => {
    const xs = samples.get(arm.name) ?? [];
    const wall = xs.map((x) => x.wall);
    const cpu = xs.map((x) => x.cpu);
    const m = { wall: median(wall), cpu: median(cpu) };
    med.set(arm.name, m);
    return {
      arm: arm.name,
      "ns/item (median)": m.wall.toFixed(1),
      "min-max": `${Math.min(...wall).toFixed(1)}-${Math.max(...wall).toFixed(1)}`,
      "cpu ns/item (median)": m.cpu.toFixed(1),
      "M items/s": (1e3 / m.wall).toFixed(2),
    };
  });
  console.table(rows);

  const get = (name: string): Sample => med.get(name) ?? { wall: Number.NaN, cpu: Number.NaN };
  // Ratios are paired (perf.md §0): reference ÷ ours within each trial, where the two arms ran
  // back to back, then the median over trials. The ratio lines use process CPU time, which a
  // shared, loaded machine disturbs far less than wall time; the wall-time ratio is shown too.
  const paired = (reference: string, ours: string, key: keyof Sample): { median: number; min: number; max: number } => {
    const a = samples.get(reference) ?? [];
    const b = samples.get(ours) ?? [];
    const rs = a.map((x, i) => x[key] / (b[i]?.[key] ?? Number.NaN));
    return { median: rs.length > 0 ? median(rs) : Number.NaN, min: Math.min(...rs), max: Math.max(...rs) };
  };
  const show = (name: string, reference: string, ours: string): string => {
    const cpu = paired(reference, ours, "cpu");
    const wall = paired(reference, ours, "wall");
    return `${name}: cpu ${cpu.median.toFixed(2)} (${cpu.min.toFixed(2)}-${cpu.max.toFixed(2)}), wall ${wall.median.toFixed(2)} (${wall.min.toFixed(2)}-${wall.max.toFixed(2)})`;
  };
  console.log(`paired ratios, median (min-max): ${show("stream-chunked-vs-ix", "ix-array", "chunked")}; ${show("stream-per-item-vs-async-generators", "asyncgen", "per-item")}`);
  console.log(`per-item ns/item ${get("per-item").wall.toFixed(1)} (cpu ${get("per-item").cpu.toFixed(1)}), asyncgen ns/item ${get("asyncgen").wall.toFixed(1)} (cpu ${get("asyncgen").cpu.toFixed(1)})`);
  console.log(`chunked ns/item ${get("chunked").wall.toFixed(1)} (cpu ${get("chunked").cpu.toFixed(1)}; target <= 20)`);
  console.log(`ratio stream-chunked-vs-ix ${paired("ix-array", "chunked", "cpu").median.toFixed(2)}`);
  console.log(`ratio stream-per-item-vs-async-generators ${paired("asyncgen", "per-item", "cpu").median.toFixed(2)}`);
}

// ---------------------------------------------------------------- part 2: Stream.from(async generator)

const FROM_N = arg("from-n", 1_000_000);

async function* small(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}
const FROM_SUM = (FROM_N * (FROM_N - 1)) / 2;
const inc = (x: number): number => x + 1;

const fromArms: Arm[] = [
  {
    name: "gen-raw",
    reps: 1,
    async run() {
      let sum = 0;
      for await (const v of small(FROM_N)) sum += v;
      return [sum];
    },
  },
  {
    name: "gen-stream",
    reps: 1,
    async run() {
      let sum = 0;
      for await (const v of Stream.from(small(FROM_N))) sum += v;
      return [sum];
    },
  },
  {
    name: "gen-stream-map",
    reps: 1,
    async run() {
      let sum = 0;
      for await (const v of Stream.from(small(FROM_N)).map(inc)) sum += v;
      return [sum - FROM_N];
    },
  },
];

async function fromTrial(arm: Arm): Promise<Sample> {
  gc();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < arm.reps; r++) {
    const [sum] = await arm.run();
    if (sum !== FROM_SUM) throw new Error(`${arm.name}: wrong sum ${String(sum)}, expected ${FROM_SUM}`);
  }
  const t1 = process.hrtime.bigint();
  const c = process.cpuUsage(c0);
  const items = arm.reps * FROM_N;
  return { wall: Number(t1 - t0) / items, cpu: ((c.user + c.system) * 1000) / items };
}

async function fromMain(): Promise<void> {
  console.log(`stream bench: for await over Stream.from(async generator), N=${FROM_N}, ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA order)`);
  for (let w = 0; w < WARMUP; w++) for (const arm of fromArms) await fromTrial(arm);
  const samples = new Map<string, Sample[]>(fromArms.map((a) => [a.name, []]));
  for (let t = 0; t < TRIALS; t++) {
    const order = t % 2 === 0 ? fromArms : [...fromArms].reverse();
    for (const arm of order) samples.get(arm.name)?.push(await fromTrial(arm));
  }
  console.table(
    fromArms.map((arm) => {
      const xs = samples.get(arm.name) ?? [];
      const wall = median(xs.map((x) => x.wall));
      return { arm: arm.name, "ns/item (median)": wall.toFixed(1), "cpu ns/item (median)": median(xs.map((x) => x.cpu)).toFixed(1), "M items/s": (1e3 / wall).toFixed(2) };
    }),
  );
  const paired = (ours: string, key: keyof Sample): number => {
    const a = samples.get("gen-raw") ?? [];
    const b = samples.get(ours) ?? [];
    return median(a.map((x, i) => x[key] / (b[i]?.[key] ?? Number.NaN)));
  };
  console.log(`paired wall ratios: gen-stream ${paired("gen-stream", "wall").toFixed(2)}, gen-stream-map ${paired("gen-stream-map", "wall").toFixed(2)}`);
  console.log(`ratio stream-from-async-generator-map-vs-raw ${paired("gen-stream-map", "cpu").toFixed(2)}`);
  console.log(`ratio stream-from-async-generator-vs-raw ${paired("gen-stream", "cpu").toFixed(2)}`);
}

const partAt = process.argv.indexOf("--part");
const part = partAt >= 0 ? process.argv[partAt + 1] : undefined;
if (part !== undefined && part !== "ops" && part !== "from") throw new Error("--part needs ops or from");
if (part !== "from") await main();
if (part !== "ops") await fromMain();
