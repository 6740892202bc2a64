/**
 * gRPC benchmark (reference/perf.md §5, "gRPC (grpc-js)"): our grpc.Listener + grpc.Client
 * against raw @grpc/grpc-js server + client on the same workloads over loopback, in one process
 * (server and client share it), arms alternated in ABBA order with gc() between trials, medians
 * of paired ratios.
 *
 *   pnpm bench grpc [--calls 4000] [--messages 100000] [--trials 5] [--warmup 1] [--only unary1,unary10,unary100,stream]
 *
 * Workloads (each trial checks the count of replies before its time is accepted):
 *   unaryN   --calls unary calls with a ~100 B request and reply, N in flight at once:
 *            raw makeUnaryRequest callbacks + a raw handler vs `await client.unary(...)` + a
 *            service method returning the reply
 *   stream   one server-streaming call of --messages ~100 B replies: a raw handler writing
 *            with drain and a raw `data` counter vs a handler returning a Stream and
 *            `client.serverStream(...).count()`
 *
 * Last lines: `ratio grpc-unary-c1`, `ratio grpc-unary-c10`, `ratio grpc-unary-c100`,
 * `ratio grpc-server-stream` (ours ÷ raw, throughput; targets: unary ≥ 0.97, streaming ≥ 0.95).
 */
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpcJs from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Stream } from "@pirouette/core";
import * as grpc from "@pirouette/grpc";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const CALLS = arg("calls", 4000);
const MESSAGES = arg("messages", 100_000);
const TRIALS = arg("trials", 5);
const WARMUP = arg("warmup", 1);
const onlyAt = process.argv.indexOf("--only");
const ONLY = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? "").split(",")) : undefined;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench grpc does)");
  });

const PROTO_TEXT = `syntax = "proto3";
package bench;
message Req { string name = 1; int32 count = 2; }
message Res { string message = 1; }
service Bench {
  rpc Echo (Req) returns (Res);
  rpc Replies (Req) returns (stream Res);
}
`;
const protoPath = join(mkdtempSync(join(tmpdir(), "pirouette-grpc-bench-")), "bench.proto");
writeFileSync(protoPath, PROTO_TEXT);

interface Req {
  name: string;
  count: number;
}
interface Res {
  message: string;
}
interface BenchRpcs {
  echo: grpc.Rpc<Req, Res>;
  replies: grpc.Rpc<Req, Res>;
}

const NAME = "x".repeat(96);
const REPLY: Res = { message: "y".repeat(96) };
const LOADER = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
const rawDef = grpcJs.loadPackageDefinition(protoLoader.loadSync(protoPath, LOADER)) as unknown as {
  bench: { Bench: grpcJs.ServiceClientConstructor };
};
const RawBench = rawDef.bench.Bench;
const OPTIONS = { "grpc.max_receive_message_length": 4 * 1024 * 1024, "grpc.max_send_message_length": 4 * 1024 * 1024 };

// ---------------------------------------------------------------- arms

interface Arm {
  /** Run one trial; returns the units done (calls or messages). */
  run(): Promise<number>;
  close(): Promise<void>;
}

async function rawArm(): Promise<{ port: number; close: () => Promise<void>; client: grpcJs.Client }> {
  const server = new grpcJs.Server(OPTIONS);
  server.addService(RawBench.service, {
    Echo: (_call: grpcJs.ServerUnaryCall<Req, Res>, cb: grpcJs.sendUnaryData<Res>) => cb(null, REPLY),
    Replies: (call: grpcJs.ServerWritableStream<Req, Res>) => {
      let i = 0;
      const n = call.request.count;
      const pump = (): void => {
        while (i < n) {
          i++;
          if (!call.write(REPLY)) {
            call.once("drain", pump);
            return;
          }
        }
        call.end();
      };
      pump();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpcJs.ServerCredentials.createInsecure(), (e, p) => (e === null ? resolve(p) : reject(e))),
  );
  const client = new RawBench(`127.0.0.1:${port}`, grpcJs.credentials.createInsecure(), OPTIONS);
  return {
    port,
    client,
    close: async () => {
      client.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

async function ourArm(): Promise<{ client: grpc.Client<BenchRpcs>; close: () => Promise<void> }> {
  const listener = new grpc.Listener(0, { host: "127.0.0.1" });
  await listener.attach(
    {
      echo: (): Res => REPLY,
      replies: (req: Req) =>
        Stream.from(function* () {
          for (let i = 0; i < req.count; i++) yield REPLY;
        }),
    },
    { name: "Bench", descriptor: protoPath },
  );
  await listener.start();
  const client = new grpc.Client<BenchRpcs>(`127.0.0.1:${listener.port}`, { descriptor: protoPath, service: "Bench", deadlineMs: 0 });
  return {
    client,
    close: async () => {
      client.close();
      await listener.gracefulStop();
    },
  };
}

async function unaryRaw(concurrency: number): Promise<Arm> {
  const a = await rawArm();
  const echo = (a.client as unknown as Record<string, (req: Req, cb: (e: Error | null, r: Res) => void) => void>)["Echo"]!.bind(a.client);
  return {
    run: async () => {
      let done = 0;
      let started = 0;
      await new Promise<void>((resolve, reject) => {
        const next = (): void => {
          if (started >= CALLS) return;
          started++;
          echo({ name: NAME, count: 0 }, (e, r) => {
            if (e !== null || r.message.length !== REPLY.message.length) {
              reject(e ?? new Error("bad reply"));
              return;
            }
            if (++done === CALLS) resolve();
            else next();
          });
        };
        for (let i = 0; i < concurrency; i++) next();
      });
      return done;
    },
    close: a.close,
  };
}

async function unaryOurs(concurrency: number): Promise<Arm> {
  const a = await ourArm();
  return {
    run: async () => {
      let done = 0;
      let started = 0;
      const worker = async (): Promise<void> => {
        while (started < CALLS) {
          started++;
          const r = await a.client.unary("echo", { name: NAME, count: 0 });
          if (r.message.length !== REPLY.message.length) throw new Error("bad reply");
          done++;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return done;
    },
    close: a.close,
  };
}

async function streamRaw(): Promise<Arm> {
  const a = await rawArm();
  const replies = (a.client as unknown as Record<string, (req: Req) => grpcJs.ClientReadableStream<Res>>)["Replies"]!.bind(a.client);
  return {
    run: async () => {
      let n = 0;
      const call = replies({ name: NAME, count: MESSAGES });
      call.on("data", () => void n++);
      await once(call, "end");
      return n;
    },
    close: a.close,
  };
}

async function streamOurs(): Promise<Arm> {
  const a = await ourArm();
  return {
    run: () => a.client.serverStream("replies", { name: NAME, count: MESSAGES }).count(),
    close: a.close,
  };
}

// ---------------------------------------------------------------- harness

interface Workload {
  readonly name: string;
  readonly ratio: string;
  readonly units: number;
  readonly unit: string;
  raw(): Promise<Arm>;
  ours(): Promise<Arm>;
}

const workloads: Workload[] = [
  ...[1, 10, 100].map((c) => ({
    name: `unary${c}`,
    ratio: `grpc-unary-c${c}`,
    units: CALLS,
    unit: "calls/s",
    raw: () => unaryRaw(c),
    ours: () => unaryOurs(c),
  })),
  { name: "stream", ratio: "grpc-server-stream", units: MESSAGES, unit: "msg/s", raw: streamRaw, ours: streamOurs },
];

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Sample {
  readonly rate: number;
  readonly cpuUsPerUnit: number;
}

async function trial(arm: Arm, w: Workload): Promise<Sample> {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const n = await arm.run();
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  if (n !== w.units) throw new Error(`${w.name}: expected ${w.units}, got ${n}`);
  return { rate: n / (ns / 1e9), cpuUsPerUnit: (cpu.user + cpu.system) / n };
}

async function runWorkload(w: Workload): Promise<number[]> {
  const raw = await w.raw();
  const ours = await w.ours();
  try {
    for (let i = 0; i < WARMUP; i++) {
      await trial(raw, w);
      await trial(ours, w);
    }
    const r: Sample[] = [];
    const o: Sample[] = [];
    for (let i = 0; i < TRIALS; i++) {
      // ABBA: alternate which arm goes first.
      if (i % 2 === 0) {
        r.push(await trial(raw, w));
        o.push(await trial(ours, w));
      } else {
        o.push(await trial(ours, w));
        r.push(await trial(raw, w));
      }
    }
    const ratios = r.map((s, i) => (o[i] as Sample).rate / s.rate);
    for (const [label, xs] of [
      ["raw grpc-js", r],
      ["pirouette  ", o],
    ] as const) {
      console.log(
        `${w.name.padEnd(9)} ${label}  median ${median(xs.map((s) => s.rate)).toFixed(0).padStart(8)} ${w.unit}  cpu ${median(xs.map((s) => s.cpuUsPerUnit)).toFixed(1)} µs/${w.unit === "msg/s" ? "msg" : "call"}`,
      );
    }
    return ratios;
  } finally {
    await ours.close();
    await raw.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `grpc bench: unary ${CALLS} calls per trial at concurrency 1/10/100, server streaming ${MESSAGES} messages; ~100 B payloads; ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA), node ${process.version}`,
  );
  const results: [Workload, number[]][] = [];
  for (const w of workloads.filter((x) => ONLY === undefined || ONLY.has(x.name))) results.push([w, await runWorkload(w)]);
  for (const [w, r] of results) {
    console.log(`${w.ratio}: median ${median(r).toFixed(3)} (min ${Math.min(...r).toFixed(3)}, max ${Math.max(...r).toFixed(3)})`);
  }
  for (const [w, r] of results) console.log(`ratio ${w.ratio} ${median(r).toFixed(3)}`);
}

await main();
