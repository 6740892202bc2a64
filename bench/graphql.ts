/**
 * GraphQL subscription benchmark (reference/perf.md §5, "graphql-ws: subscription fan-out of N
 * events over ws"): events/s delivered to a graphql-ws client, over loopback, in one process,
 * arms alternated in ABBA order with gc() between trials, medians.
 *
 *   pnpm bench graphql [--n 50000] [--subs 4] [--trials 6] [--warmup 1]
 *
 * Each trial opens `subs` subscriptions `subscription($n: Int!) { events(n: $n) }` on one socket
 * and stops the clock when the client has received every `next` and every `complete` (a count
 * mismatch fails the run). The source is the same async generator on both servers, emitting n
 * integers (n = N / subs per subscription); the client is the same graphql-ws `createClient`.
 *
 * Arms:
 *   raw       graphql-ws `useServer` on a plain `ws` server, schema from `buildSchema` with the
 *             generator as the field's `subscribe`
 *   listener  a graphql.Listener service whose subscription method returns `Stream.from(generator)`:
 *             limits, auth hook, error masking, subscription tracking and the Stream adapter included
 *
 * Last line: `ratio graphql-subscription-vs-raw-graphql-ws <listener ÷ raw>` (target ≥ 0.9), after
 * the same comparison on CPU per event (`…-cpu-…`, raw ÷ ours; steadier on a loaded machine).
 */
import type { AddressInfo } from "node:net";
import { Stream } from "@pirouette/core";
import * as graphql from "@pirouette/graphql";
import { buildSchema } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocket, WebSocketServer } from "ws";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const N = arg("n", 50_000);
const SUBS = arg("subs", 4);
const TRIALS = arg("trials", 6);
const WARMUP = arg("warmup", 1);
const PER_SUB = Math.floor(N / SUBS);
const TOTAL = PER_SUB * SUBS;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench graphql does)");
  });

const SDL = `type Query { ok: Boolean } type Subscription { events(n: Int!): Int! }`;

/** The one source both servers use. */
async function* events(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (x: number, d = 0): string => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

interface Sample {
  readonly rate: number;
  readonly cpuUsPerEvent: number;
}

/** Run `SUBS` subscriptions to completion; resolves with the number of `next` messages seen. */
function consume(client: Client): Promise<number> {
  let got = 0;
  let completed = 0;
  return new Promise<number>((resolve, reject) => {
    for (let s = 0; s < SUBS; s++) {
      client.subscribe<{ events: number }>(
        { query: "subscription($n: Int!) { events(n: $n) }", variables: { n: PER_SUB } },
        {
          next: (r) => {
            if (r.errors !== undefined) reject(new Error(JSON.stringify(r.errors)));
            else got++;
          },
          error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
          complete: () => {
            if (++completed === SUBS) resolve(got);
          },
        },
      );
    }
  });
}

async function main(): Promise<void> {
  // raw: graphql-ws on a plain ws server.
  const rawSchema = buildSchema(SDL);
  const field = rawSchema.getSubscriptionType()?.getFields()["events"];
  if (field === undefined) throw new Error("no Subscription.events");
  field.subscribe = (_root, args: { n: number }) => events(args.n);
  field.resolve = (value: unknown) => value;
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const rawServer = useServer({ schema: rawSchema }, wss);
  const rawUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/graphql`;

  // listener: the same schema and source behind graphql.Listener.
  const listener = new graphql.Listener(0, { host: "127.0.0.1" });
  await listener.attach(
    { ok: () => true, events: ({ n }: { n: number }) => Stream.from(events(n)) },
    { name: "/graphql", schema: SDL },
  );
  await listener.start();
  const ourUrl = `ws://127.0.0.1:${listener.port}/graphql`;

  const clients: Record<string, Client> = {
    raw: createClient({ url: rawUrl, webSocketImpl: WebSocket, lazy: false }),
    listener: createClient({ url: ourUrl, webSocketImpl: WebSocket, lazy: false }),
  };
  const names = Object.keys(clients);
  const trial = async (name: string): Promise<Sample> => {
    gc();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const got = await consume(clients[name] as Client);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    if (got !== TOTAL) throw new Error(`${name}: received ${got} events, expected ${TOTAL}`);
    return { rate: TOTAL / secs, cpuUsPerEvent: (cpu.user + cpu.system) / TOTAL };
  };

  console.log(
    `graphql bench: ${fmt(TOTAL)} subscription events (${SUBS} subscription(s) × ${fmt(PER_SUB)} on one socket), ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA), node ${process.version}`,
  );
  for (let w = 0; w < WARMUP; w++) for (const n of names) await trial(n);
  const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
  for (let t = 0; t < TRIALS; t++) {
    const order = t % 2 === 0 ? names : [...names].reverse();
    for (const n of order) samples.get(n)?.push(await trial(n));
  }

  for (const c of Object.values(clients)) await c.dispose();
  await listener.gracefulStop();
  await rawServer.dispose();

  for (const n of names) {
    const xs = samples.get(n) ?? [];
    const rates = xs.map((x) => x.rate);
    console.log(
      `  ${n.padEnd(9)} ${fmt(median(rates)).padStart(9)} events/s  (min ${fmt(Math.min(...rates))}, max ${fmt(Math.max(...rates))})  cpu ${fmt(median(xs.map((x) => x.cpuUsPerEvent)), 2)} µs/event`,
    );
  }
  const ours = samples.get("listener") ?? [];
  const raw = samples.get("raw") ?? [];
  const ratio = median(ours.map((s, i) => s.rate / (raw[i] as Sample).rate));
  const cpuRatio = median(raw.map((x) => x.cpuUsPerEvent)) / median(ours.map((x) => x.cpuUsPerEvent));
  console.log(`ratio graphql-subscription-cpu-vs-raw-graphql-ws ${cpuRatio.toFixed(3)}`);
  console.log(`ratio graphql-subscription-vs-raw-graphql-ws ${ratio.toFixed(3)}`);
}

await main();
