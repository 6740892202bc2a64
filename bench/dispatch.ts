/**
 * Dispatcher overhead benchmark (reference/perf.md §5): what the listener/service machinery
 * adds per message over calling the handler yourself, at concurrency 1, in one process,
 * arms alternated in ABBA order with gc() between trials.
 *
 *   pnpm bench dispatch [--n 200000] [--trials 7] [--warmup 2] [--retention N]
 *                       [--only direct,dispatcher,dispatcher-unobserved,listener]
 *
 * Arms (each trial handles N messages per repetition; ns/message = elapsed ÷ messages):
 *   direct                a loop awaiting the async handler for each message (the floor)
 *   dispatcher            `new Dispatcher({ concurrency: 1 })`, `await submit(delivery)` per
 *                         message, timed until the last message is acked (telemetry on, the
 *                         default: a no-op OpenTelemetry API without an SDK)
 *   dispatcher-unobserved the same with `observe: false` (no spans or metrics calls)
 *   listener              informational: `memory.Listener` (concurrency 1, message mode: no
 *                         JSON decoding) fed by `memory.Client.publish` of 100-byte payloads on
 *                         a fresh broker per trial, timed from the first publish until the
 *                         handler has seen every message and the group has nothing unacknowledged.
 *                         The broker keeps `--retention` messages (default N, so the log is never
 *                         trimmed during a trial): with the broker's default of 10 000, each
 *                         publish/ack past 10 000 splices the head of the log, which costs
 *                         O(log length) per message (try `--retention 10000`).
 *
 * Every trial checks that each message reached the handler exactly once and was acked.
 *
 * Figures are medians of wall time per message; `cpu ns/msg` is this process's CPU time per
 * message (steadier when other processes share the cores). Last lines: `overhead-cpu-ns`,
 * `overhead-ns <dispatcher − direct>` (wall; target ≤ 300) and
 * `ratio dispatch-direct-vs-dispatcher <direct ns ÷ dispatcher ns>`.
 */
import { Dispatcher, memory, type Delivery } from "@pirouette/core";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const N = arg("n", 200_000);
const TRIALS = arg("trials", 7);
const WARMUP = arg("warmup", 2);
const RETENTION = arg("retention", N);
const TARGET_OVERHEAD_NS = 300;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench dispatch does)");
  });

// ---------------------------------------------------------------- the handler

interface Msg {
  readonly n: number;
}

const messages: Msg[] = Array.from({ length: N }, (_, n) => ({ n }));
const EXPECTED_SUM = (N * (N - 1)) / 2;
const PAYLOAD = new Uint8Array(100); // listener arm: 100-byte payloads (perf.md §5)

/** What every arm calls once per message: an async no-op that leaves a checkable trace. */
let seen = 0;
let sum = 0;
async function handler(m: Msg): Promise<void> {
  seen++;
  sum += m.n;
}

function resetCounters(): void {
  seen = 0;
  sum = 0;
}

function check(arm: string, acked: number, expectedSum: number | undefined): void {
  if (seen !== N || acked !== N || (expectedSum !== undefined && sum !== expectedSum)) {
    throw new Error(`${arm}: handled ${seen}, acked ${acked}, sum ${sum}; expected ${N}, ${N}, ${expectedSum ?? "-"}`);
  }
}

// ---------------------------------------------------------------- arms

interface Arm {
  readonly name: string;
  /** Repetitions of N messages per trial, so a fast arm's trial is long enough to time. */
  readonly reps: number;
  /** Set up (untimed), run N messages, tear down (untimed); resolves with the elapsed ns. */
  run(): Promise<number>;
}

function now(): bigint {
  return process.hrtime.bigint();
}

async function runDirect(): Promise<number> {
  resetCounters();
  const t0 = now();
  for (let i = 0; i < N; i++) await handler(messages[i] as Msg);
  const t1 = now();
  check("direct", N, EXPECTED_SUM);
  return Number(t1 - t0);
}

async function runDispatcher(observe: boolean): Promise<number> {
  resetCounters();
  let acked = 0;
  let allAcked!: () => void;
  const done = new Promise<void>((resolve) => {
    allAcked = resolve;
  });
  const ack = (): void => {
    if (++acked === N) allAcked();
  };
  const reject = (e: Error): void => {
    throw e;
  };
  const d = new Dispatcher<Msg>({
    concurrency: 1,
    observe,
    telemetry: { system: "bench" },
    invoke: (delivery) => handler(delivery.message),
    reportError: (e) => {
      throw e;
    },
  });
  const coordinates = {};
  const t0 = now();
  for (let i = 0; i < N; i++) {
    const delivery: Delivery<Msg> = { message: messages[i] as Msg, destination: "bench", coordinates, ack, reject };
    await d.submit(delivery);
  }
  await done;
  const t1 = now();
  check(observe ? "dispatcher" : "dispatcher-unobserved", acked, EXPECTED_SUM);
  await d.drain(1000);
  return Number(t1 - t0);
}

async function runListener(): Promise<number> {
  resetCounters();
  const broker = new memory.Broker({ retention: RETENTION });
  const listener = new memory.Listener({ broker, groupId: "bench", concurrency: 1, retry: false, deadLetter: false });
  let allSeen!: () => void;
  const done = new Promise<void>((resolve) => {
    allSeen = resolve;
  });
  const msg: Msg = { n: 0 };
  await listener.attach(
    {
      // Message mode (no payload schema): the service gets the memory.Message, no JSON decoding.
      onMessage: async (_m: memory.Message) => {
        await handler(msg);
        if (seen === N) allSeen();
      },
    },
    "bench",
  );
  await listener.start();
  const client = new memory.Client({ broker });
  const t0 = now();
  for (let i = 0; i < N; i++) await client.publish("bench", PAYLOAD);
  await done;
  // The last ack runs right after the handler resolves; wait for it (a few microtasks at most).
  while (broker.pending("bench", "bench") !== 0) await new Promise<void>((r) => setImmediate(r));
  const t1 = now();
  check("listener", N, undefined);
  await listener.gracefulStop();
  return Number(t1 - t0);
}

const allArms: Arm[] = [
  { name: "direct", reps: 10, run: runDirect },
  { name: "dispatcher", reps: 2, run: () => runDispatcher(true) },
  { name: "dispatcher-unobserved", reps: 2, run: () => runDispatcher(false) },
  { name: "listener", reps: 1, run: runListener },
];

// --only direct,dispatcher restricts the run to some arms (for profiling); the ratio needs both.
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? "").split(",")) : undefined;
const arms = only === undefined ? allArms : allArms.filter((a) => only.has(a.name));

async function trial(arm: Arm): Promise<{ ns: number; cpuNs: number }> {
  gc();
  let elapsed = 0;
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < arm.reps; r++) elapsed += await arm.run();
  const cpu = process.cpuUsage(cpu0);
  return { ns: elapsed / (arm.reps * N), cpuNs: ((cpu.user + cpu.system) * 1000) / (arm.reps * N) };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  console.log(
    `dispatch bench: async no-op handler, concurrency 1, N=${N}, ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA order), listener broker retention ${RETENTION}, node ${process.version}`,
  );
  for (let w = 0; w < WARMUP; w++) for (const arm of arms) await trial(arm);

  const samples = new Map<string, number[]>(arms.map((a) => [a.name, []]));
  const cpuSamples = new Map<string, number[]>(arms.map((a) => [a.name, []]));
  for (let t = 0; t < TRIALS; t++) {
    // ABBA: forward order on even trials, reversed on odd ones.
    const order = t % 2 === 0 ? arms : [...arms].reverse();
    for (const arm of order) {
      const { ns, cpuNs } = await trial(arm);
      samples.get(arm.name)?.push(ns);
      cpuSamples.get(arm.name)?.push(cpuNs);
    }
  }

  const med = new Map<string, number>();
  const cpuMed = new Map<string, number>();
  const rows = arms.map((arm) => {
    const xs = samples.get(arm.name) ?? [];
    const m = median(xs);
    med.set(arm.name, m);
    cpuMed.set(arm.name, median(cpuSamples.get(arm.name) ?? []));
    return {
      arm: arm.name,
      "ns/msg (median)": m.toFixed(1),
      min: Math.min(...xs).toFixed(1),
      max: Math.max(...xs).toFixed(1),
      "cpu ns/msg": (cpuMed.get(arm.name) ?? Number.NaN).toFixed(1),
      "k msg/s": (1e6 / m).toFixed(0),
    };
  });
  console.table(rows);

  const get = (name: string): number => med.get(name) ?? Number.NaN;
  const direct = get("direct");
  const overhead = get("dispatcher") - direct;
  const overheadUnobserved = get("dispatcher-unobserved") - direct;
  console.log(`direct ns/msg ${direct.toFixed(1)}`);
  console.log(`dispatcher ns/msg ${get("dispatcher").toFixed(1)} (observe: true, the default)`);
  console.log(`dispatcher-unobserved ns/msg ${get("dispatcher-unobserved").toFixed(1)} (observe: false)`);
  console.log(`listener ns/msg ${get("listener").toFixed(1)} (memory.Listener + memory.Client.publish; informational)`);
  console.log(`telemetry-ns ${(get("dispatcher") - get("dispatcher-unobserved")).toFixed(1)} (observe: true − observe: false)`);
  console.log(`overhead-ns-unobserved ${overheadUnobserved.toFixed(1)}`);
  // Process CPU time per message: steadier than wall time when other processes share the cores.
  const cpu = (name: string): number => cpuMed.get(name) ?? Number.NaN;
  console.log(
    `overhead-cpu-ns ${(cpu("dispatcher") - cpu("direct")).toFixed(1)} (unobserved ${(cpu("dispatcher-unobserved") - cpu("direct")).toFixed(1)})`,
  );
  console.log(`overhead-ns ${overhead.toFixed(1)} (target <= ${TARGET_OVERHEAD_NS}: ${overhead <= TARGET_OVERHEAD_NS ? "met" : "MISSED"})`);
  console.log(`ratio dispatch-direct-vs-dispatcher ${(direct / get("dispatcher")).toFixed(3)}`);
}

await main();
