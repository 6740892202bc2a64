/**
 * UDP benchmark (reference/perf.md §5, "UDP (dgram)"): our udp.Listener / udp.Client /
 * udp.ConnectClient against raw node:dgram on the same workloads over loopback, in one
 * process, arms alternated in ABBA order with gc() between trials, medians of paired ratios.
 *
 *   pnpm bench udp [--n 20000] [--window 64] [--trials 5] [--warmup 1] [--only oneway,listener,echo]
 *
 * Every trial sends N datagrams of 100 B, --window at a time (each window waits for its send
 * callbacks), and ends when all arrived or none arrived for 250 ms; the figure is datagrams
 * received per second, with the loss (UDP may drop; the ratio is only meaningful at equal loss).
 *
 * Workloads:
 *   oneway    raw dgram sender → raw dgram receiver, vs udp.Client.sendDatagram → udp.Listener onBytes
 *   listener  the same raw sender into a raw receiver vs into a udp.Listener (the listener's cost alone)
 *   echo      request/response, --window in flight: raw connected socket ↔ raw echo socket, vs
 *             udp.ConnectClient (writeBytes, stream()) ↔ udp.Listener returning the datagram
 *
 * Last lines: `ratio udp-oneway`, `ratio udp-listener`, `ratio udp-echo` (ours ÷ raw,
 * datagrams/s; target ≥ 0.95 at equal loss).
 */
import dgram from "node:dgram";
import * as udp from "@pirouette/udp";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const N = arg("n", 20_000);
const WINDOW = arg("window", 64);
const TRIALS = arg("trials", 5);
const WARMUP = arg("warmup", 1);
const onlyAt = process.argv.indexOf("--only");
const ONLY = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? "").split(",")) : undefined;
const QUIET_MS = 250;
const SIZE = 100;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench udp does)");
  });

const payload = Buffer.alloc(SIZE, 0x75);
const BUFFERS = { recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 };

/** Counts arrivals; `settled(n)` resolves when n arrived or nothing arrived for QUIET_MS. */
class Arrivals {
  count = 0;
  last = 0;
  hit(): void {
    this.count++;
    this.last = performance.now();
  }
  async settled(n: number): Promise<void> {
    this.last = Math.max(this.last, performance.now()); // the quiet period starts after sending
    for (;;) {
      if (this.count >= n) return;
      if (performance.now() - this.last > QUIET_MS) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

async function rawSocket(onMessage?: (msg: Buffer, r: dgram.RemoteInfo, s: dgram.Socket) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: "udp4", ...BUFFERS });
  s.on("error", () => undefined);
  if (onMessage !== undefined) s.on("message", (m, r) => onMessage(m, r, s));
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  return s;
}

const closeRaw = (s: dgram.Socket): Promise<void> => new Promise((r) => s.close(() => r()));

/** Senders yield to the event loop between windows so that the receiver (same process) gets to read. */
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

function rawSendWindow(s: dgram.Socket, count: number, port: number | undefined): Promise<void> {
  let left = count;
  return new Promise((resolve) => {
    const cb = (): void => {
      if (--left === 0) resolve();
    };
    for (let k = 0; k < count; k++) {
      if (port === undefined) s.send(payload, cb);
      else s.send(payload, port, "127.0.0.1", cb);
    }
  });
}

interface Target {
  readonly port: number;
  readonly arrivals: Arrivals;
  close(): Promise<unknown>;
}

async function rawReceiver(): Promise<Target> {
  const arrivals = new Arrivals();
  const s = await rawSocket(() => arrivals.hit());
  return { port: s.address().port, arrivals, close: () => closeRaw(s) };
}

async function ourReceiver(echo: boolean): Promise<Target> {
  const arrivals = new Arrivals();
  const listener = new udp.Listener(0, { localHost: "127.0.0.1", ...BUFFERS, maxPending: 65_536 });
  await listener.attach(
    echo
      ? { onBytes: (d) => d }
      : {
          onBytes: () => {
            arrivals.hit();
          },
        },
  );
  await listener.start();
  return { port: listener.port, arrivals, close: () => listener.immediateStop() };
}

interface Arm {
  readonly name: string;
  setup(): Promise<Target>;
  /** Send N datagrams to the target; returns the arrivals to wait for. */
  run(t: Target): Promise<Arrivals>;
}

interface Workload {
  readonly name: string;
  readonly ratio: string;
  readonly raw: Arm;
  readonly ours: Arm;
}

const rawSenderArm = (setup: () => Promise<Target>): Arm => ({
  name: "raw-sender",
  setup,
  async run(t) {
    const s = await rawSocket();
    for (let i = 0; i < N; i += WINDOW) {
      await rawSendWindow(s, Math.min(WINDOW, N - i), t.port);
      await yieldToLoop();
    }
    await closeRaw(s);
    return t.arrivals;
  },
});

const oneway: Workload = {
  name: "oneway",
  ratio: "udp-oneway",
  raw: { ...rawSenderArm(rawReceiver), name: "raw" },
  ours: {
    name: "ours",
    setup: () => ourReceiver(false),
    async run(t) {
      const c = new udp.Client({ localHost: "127.0.0.1", ...BUFFERS });
      const d = { remoteHost: "127.0.0.1", remotePort: t.port, data: payload };
      for (let i = 0; i < N; i += WINDOW) {
        const sends: Promise<void>[] = [];
        for (let k = 0; k < Math.min(WINDOW, N - i); k++) sends.push(c.sendDatagram(d));
        await Promise.all(sends);
        await yieldToLoop();
      }
      await c.close();
      return t.arrivals;
    },
  },
};

const listenerOnly: Workload = {
  name: "listener",
  ratio: "udp-listener",
  raw: { ...rawSenderArm(rawReceiver), name: "raw" },
  ours: { ...rawSenderArm(() => ourReceiver(false)), name: "ours" },
};

/** Echo clients keep WINDOW requests in flight; a lost datagram shrinks the window for good, so the quiet check ends the trial. */
const echo: Workload = {
  name: "echo",
  ratio: "udp-echo",
  raw: {
    name: "raw",
    async setup() {
      const s = await rawSocket((m, r, sock) => sock.send(m, r.port, r.address));
      return { port: s.address().port, arrivals: new Arrivals(), close: () => closeRaw(s) };
    },
    async run(t) {
      const arrivals = new Arrivals();
      let sent = 0;
      const c = await rawSocket(() => {
        arrivals.hit();
        if (sent < N) {
          sent++;
          c.send(payload);
        }
      });
      await new Promise<void>((r) => c.connect(t.port, "127.0.0.1", r));
      arrivals.last = performance.now();
      for (; sent < Math.min(WINDOW, N); sent++) c.send(payload);
      await arrivals.settled(N);
      await closeRaw(c);
      return arrivals;
    },
  },
  ours: {
    name: "ours",
    setup: () => ourReceiver(true),
    async run(t) {
      const arrivals = new Arrivals();
      const c = new udp.ConnectClient("127.0.0.1", t.port, { ...BUFFERS, highWaterMark: 65_536 });
      await c.connect();
      let sent = 0;
      const reading = c
        .stream()
        .chunks()
        .forEach((batch) => {
          for (let i = 0; i < batch.length; i++) arrivals.hit();
          const more = Math.min(batch.length, N - sent);
          for (let k = 0; k < more; k++) void c.writeBytes(payload);
          sent += more;
        });
      arrivals.last = performance.now();
      for (; sent < Math.min(WINDOW, N); sent++) void c.writeBytes(payload);
      await arrivals.settled(N);
      await c.close();
      await reading;
      return arrivals;
    },
  },
};

// ---------------------------------------------------------------- harness

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Sample {
  readonly pps: number;
  readonly loss: number;
  readonly cpuUs: number;
}

async function trial(arm: Arm, target: Target): Promise<Sample> {
  gc();
  target.arrivals.count = 0;
  target.arrivals.last = performance.now();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const arrivals = await arm.run(target);
  await arrivals.settled(N);
  // Until the last arrival (the quiet period after it is not counted).
  const seconds = (arrivals.last - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { pps: arrivals.count / seconds, loss: 1 - arrivals.count / N, cpuUs: (cpu.user + cpu.system) / Math.max(1, arrivals.count) };
}

async function runWorkload(w: Workload): Promise<number[]> {
  const arms = [w.raw, w.ours];
  const targets = new Map<Arm, Target>();
  for (const a of arms) targets.set(a, await a.setup());
  try {
    for (let i = 0; i < WARMUP; i++) for (const a of arms) await trial(a, targets.get(a) as Target);
    const samples = new Map<Arm, Sample[]>(arms.map((a) => [a, []]));
    for (let t = 0; t < TRIALS; t++) {
      const order = t % 2 === 0 ? arms : [...arms].reverse();
      for (const a of order) samples.get(a)?.push(await trial(a, targets.get(a) as Target));
    }
    console.table(
      arms.map((a) => {
        const xs = samples.get(a) ?? [];
        const pps = xs.map((s) => s.pps / 1000);
        return {
          workload: w.name,
          arm: a.name,
          "k datagrams/s": median(pps).toFixed(1),
          min: Math.min(...pps).toFixed(1),
          max: Math.max(...pps).toFixed(1),
          "loss % (median)": (median(xs.map((s) => s.loss)) * 100).toFixed(2),
          "cpu µs/datagram": median(xs.map((s) => s.cpuUs)).toFixed(2),
        };
      }),
    );
    const raw = samples.get(w.raw) ?? [];
    const ours = samples.get(w.ours) ?? [];
    return ours.map((o, i) => o.pps / (raw[i] as Sample).pps);
  } finally {
    for (const t of targets.values()) await t.close();
  }
}

async function main(): Promise<void> {
  console.log(`udp bench: ${N} datagrams of ${SIZE} B, window ${WINDOW}; ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA), node ${process.version}`);
  const workloads = [oneway, listenerOnly, echo].filter((w) => ONLY === undefined || ONLY.has(w.name));
  const results: [Workload, number[]][] = [];
  for (const w of workloads) results.push([w, await runWorkload(w)]);
  for (const [w, r] of results) {
    console.log(`${w.ratio}: median ${median(r).toFixed(3)} (min ${Math.min(...r).toFixed(3)}, max ${Math.max(...r).toFixed(3)})`);
  }
  for (const [w, r] of results) console.log(`ratio ${w.ratio} ${median(r).toFixed(3)}`);
}

await main();
