/**
 * TCP benchmark (reference/perf.md §5, "TCP (net)"): our tcp.Listener/tcp.Client against raw
 * node:net on the same workloads over loopback, in one process (server and client share it),
 * arms alternated in ABBA order with gc() between trials, medians of paired ratios.
 *
 *   pnpm bench tcp [--frames 200000] [--mib 128] [--trials 5] [--warmup 1] [--only bulk,each,corked,echo]
 *
 * Workloads (every trial checks the count of bytes or frames before its time is accepted):
 *   bulk     one-way 64 KiB writes, no framing, --mib MiB: raw socket.write honouring drain vs
 *            `await client.writeBytes(chunk)` into a listener whose onBytes counts bytes
 *   each     one-way 100 B length-prefixed frames, one write per frame: raw (frame built by
 *            hand, socket.write, drain) vs `await client.writeBytes(payload)` (per-item API);
 *            the raw server parses frames by hand, ours is a framed listener's onBytes
 *   corked   the same frames written 64 at a time: raw cork/64 × write/uncork vs
 *            `await client.writeMany(batch)` (chunk API)
 *   echo     100 B frames echoed back (window of 1024 frames in flight, writes of 64): raw server
 *            writes each frame back (corked per read) and the raw client parses replies, vs a
 *            listener whose onBytes returns the frame and a client reading `client.stream()`
 *
 * Last lines: `ratio tcp-bulk`, `ratio tcp-framed-each`, `ratio tcp-framed-corked`,
 * `ratio tcp-echo` (ours ÷ raw, throughput; targets: bulk ≥ 0.97, per-item ≥ 0.90, chunk ≥ 0.97).
 */
import net from "node:net";
import * as tcp from "@pirouette/tcp";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const BATCH = 64;
const FRAMES = Math.ceil(arg("frames", 200_000) / BATCH) * BATCH;
const MIB = arg("mib", 128);
const TRIALS = arg("trials", 5);
const WARMUP = arg("warmup", 1);
const onlyAt = process.argv.indexOf("--only");
const ONLY = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? "").split(",")) : undefined;

const FRAME = 100;
const WINDOW = 1024;
const CHUNK = 64 * 1024;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench tcp does)");
  });

const payload = Buffer.alloc(FRAME, 0x61);
const batch: Buffer[] = Array.from({ length: BATCH }, () => payload);
const bulkChunk = Buffer.alloc(CHUNK, 0x62);

// ---------------------------------------------------------------- shared helpers

/** The hand-written length-prefix parser a raw node:net user writes (concat at chunk edges). */
function rawFrames(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer | undefined;
  return (chunk) => {
    const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    let o = 0;
    while (buf.length - o >= 4) {
      const n = buf.readUInt32BE(o);
      if (buf.length - o - 4 < n) break;
      onFrame(buf.subarray(o + 4, o + 4 + n));
      o += 4 + n;
    }
    pending = o < buf.length ? buf.subarray(o) : undefined;
  };
}

function rawFrame(p: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4 + p.length);
  b.writeUInt32BE(p.length, 0);
  p.copy(b, 4);
  return b;
}

const drain = (s: net.Socket): Promise<void> => new Promise((r) => s.once("drain", r));

function connectRaw(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", noDelay: true }, () => resolve(s));
    s.once("error", reject);
  });
}

function closeRaw(s: net.Socket): Promise<void> {
  return new Promise((r) => {
    s.once("close", () => r());
    s.end();
  });
}

/** A counter the server arms bump; `until(n)` resolves when it reaches n. */
class Counter {
  value = 0;
  #target = Infinity;
  #resolve: (() => void) | undefined;
  reset(): void {
    this.value = 0;
  }
  add(n: number): void {
    this.value += n;
    if (this.value >= this.#target) {
      this.#target = Infinity;
      this.#resolve?.();
    }
  }
  until(n: number): Promise<void> {
    if (this.value >= n) return Promise.resolve();
    this.#target = n;
    return new Promise((r) => (this.#resolve = r));
  }
}

interface Servers {
  readonly port: number;
  close(): Promise<void>;
}

async function rawServer(onSocket: (s: net.Socket) => void): Promise<Servers> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function ourServer(service: tcp.Service, options: tcp.ListenerOptions = {}): Promise<Servers> {
  const listener = new tcp.Listener(0, { localHost: "127.0.0.1", ...options });
  await listener.attach(service);
  await listener.start();
  return { port: listener.port, close: () => listener.immediateStop() };
}

// ---------------------------------------------------------------- arms

interface Arm {
  readonly name: string;
  /** Units per trial (bytes or frames) for the throughput figure. */
  readonly units: number;
  readonly unit: string;
  setup(): Promise<Servers>;
  /** One timed run against the server. */
  run(port: number): Promise<void>;
}

interface Workload {
  readonly name: string;
  readonly ratio: string;
  readonly ours: Arm;
  readonly raw: Arm;
}

const counter = new Counter();

const bulk: Workload = {
  name: "bulk",
  ratio: "tcp-bulk",
  raw: {
    name: "raw",
    units: MIB * 1024 * 1024,
    unit: "MiB/s",
    setup: () => rawServer((s) => s.on("data", (c: Buffer) => counter.add(c.length))),
    async run(port) {
      const total = MIB * 1024 * 1024;
      const s = await connectRaw(port);
      for (let sent = 0; sent < total; sent += CHUNK) if (!s.write(bulkChunk)) await drain(s);
      await counter.until(total);
      await closeRaw(s);
    },
  },
  ours: {
    name: "ours",
    units: MIB * 1024 * 1024,
    unit: "MiB/s",
    setup: () => ourServer({ onBytes: (d) => void counter.add(d.length) }),
    async run(port) {
      const total = MIB * 1024 * 1024;
      const c = new tcp.Client("127.0.0.1", port);
      for (let sent = 0; sent < total; sent += CHUNK) await c.writeBytes(bulkChunk);
      await counter.until(total);
      await c.close();
    },
  },
};

const rawFrameServer = (): Promise<Servers> =>
  rawServer((s) => {
    const parse = rawFrames(() => counter.add(1));
    s.on("data", parse);
  });
const ourFrameServer = (): Promise<Servers> => ourServer({ onBytes: () => void counter.add(1) }, { framing: "length-prefixed" });

const each: Workload = {
  name: "each",
  ratio: "tcp-framed-each",
  raw: {
    name: "raw",
    units: FRAMES,
    unit: "k frames/s",
    setup: rawFrameServer,
    async run(port) {
      const s = await connectRaw(port);
      for (let i = 0; i < FRAMES; i++) if (!s.write(rawFrame(payload))) await drain(s);
      await counter.until(FRAMES);
      await closeRaw(s);
    },
  },
  ours: {
    name: "ours",
    units: FRAMES,
    unit: "k frames/s",
    setup: ourFrameServer,
    async run(port) {
      const c = new tcp.Client("127.0.0.1", port, { framing: "length-prefixed" });
      await c.connect();
      for (let i = 0; i < FRAMES; i++) await c.writeBytes(payload);
      await counter.until(FRAMES);
      await c.close();
    },
  },
};

const corked: Workload = {
  name: "corked",
  ratio: "tcp-framed-corked",
  raw: {
    name: "raw",
    units: FRAMES,
    unit: "k frames/s",
    setup: rawFrameServer,
    async run(port) {
      const s = await connectRaw(port);
      for (let i = 0; i < FRAMES; i += BATCH) {
        s.cork();
        for (let k = 0; k < BATCH; k++) s.write(rawFrame(payload));
        s.uncork();
        if (s.writableNeedDrain) await drain(s);
      }
      await counter.until(FRAMES);
      await closeRaw(s);
    },
  },
  ours: {
    name: "ours",
    units: FRAMES,
    unit: "k frames/s",
    setup: ourFrameServer,
    async run(port) {
      const c = new tcp.Client("127.0.0.1", port, { framing: "length-prefixed" });
      await c.connect();
      for (let i = 0; i < FRAMES; i += BATCH) await c.writeMany(batch);
      await counter.until(FRAMES);
      await c.close();
    },
  },
};

/** Window bookkeeping for the echo clients: the writer waits while WINDOW frames are unanswered. */
class Window {
  received = 0;
  #wake: (() => void) | undefined;
  got(n: number): void {
    this.received += n;
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }
  async room(sent: number): Promise<void> {
    while (sent - this.received >= WINDOW) await new Promise<void>((r) => (this.#wake = r));
  }
}

const echo: Workload = {
  name: "echo",
  ratio: "tcp-echo",
  raw: {
    name: "raw",
    units: FRAMES,
    unit: "k frames/s",
    setup: () =>
      rawServer((s) => {
        let pending: Buffer | undefined;
        s.on("data", (chunk: Buffer) => {
          const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
          let o = 0;
          s.cork();
          while (buf.length - o >= 4) {
            const n = buf.readUInt32BE(o);
            if (buf.length - o - 4 < n) break;
            s.write(buf.subarray(o, o + 4 + n)); // header and payload as received
            o += 4 + n;
          }
          s.uncork();
          pending = o < buf.length ? buf.subarray(o) : undefined;
        });
      }),
    async run(port) {
      const s = await connectRaw(port);
      const w = new Window();
      s.on("data", rawFrames(() => w.got(1)));
      for (let sent = 0; sent < FRAMES; sent += BATCH) {
        await w.room(sent);
        s.cork();
        for (let k = 0; k < BATCH; k++) s.write(rawFrame(payload));
        s.uncork();
        if (s.writableNeedDrain) await drain(s);
      }
      while (w.received < FRAMES) await new Promise<void>((r) => setImmediate(r));
      await closeRaw(s);
    },
  },
  ours: {
    name: "ours",
    units: FRAMES,
    unit: "k frames/s",
    setup: () => ourServer({ onBytes: (frame) => frame }, { framing: "length-prefixed" }),
    async run(port) {
      const c = new tcp.Client("127.0.0.1", port, { framing: "length-prefixed" });
      await c.connect();
      const w = new Window();
      const reading = c
        .stream()
        .chunks()
        .forEach((frames) => {
          w.got(frames.length);
          return w.received >= FRAMES ? c.close() : undefined;
        });
      for (let sent = 0; sent < FRAMES; sent += BATCH) {
        await w.room(sent);
        await c.writeMany(batch);
      }
      await reading;
      if (w.received !== FRAMES) throw new Error(`echo: got ${w.received} of ${FRAMES}`);
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
  readonly seconds: number;
  readonly cpuUs: number;
}

async function trial(arm: Arm, servers: Servers): Promise<Sample> {
  gc();
  counter.reset();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await arm.run(servers.port);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuUs: cpu.user + cpu.system };
}

async function runWorkload(w: Workload): Promise<{ ratios: number[] }> {
  const arms = [w.raw, w.ours];
  const servers = new Map<Arm, Servers>();
  for (const a of arms) servers.set(a, await a.setup());
  try {
    for (let i = 0; i < WARMUP; i++) for (const a of arms) await trial(a, servers.get(a) as Servers);
    const samples = new Map<Arm, Sample[]>(arms.map((a) => [a, []]));
    for (let t = 0; t < TRIALS; t++) {
      const order = t % 2 === 0 ? arms : [...arms].reverse();
      for (const a of order) samples.get(a)?.push(await trial(a, servers.get(a) as Servers));
    }
    const rows = arms.map((a) => {
      const xs = samples.get(a) ?? [];
      const rate = (s: Sample): number => a.units / s.seconds / (a.unit === "MiB/s" ? 1024 * 1024 : 1000);
      const rates = xs.map(rate);
      const perUnitUs = median(xs.map((s) => (s.cpuUs / a.units) * (a.unit === "MiB/s" ? 1024 * 1024 : 1)));
      return {
        workload: w.name,
        arm: a.name,
        [`median`]: median(rates).toFixed(1),
        unit: a.unit,
        min: Math.min(...rates).toFixed(1),
        max: Math.max(...rates).toFixed(1),
        [`cpu µs/${a.unit === "MiB/s" ? "MiB" : "frame"}`]: perUnitUs.toFixed(a.unit === "MiB/s" ? 0 : 3),
      };
    });
    console.table(rows);
    const raw = samples.get(w.raw) ?? [];
    const ours = samples.get(w.ours) ?? [];
    // Paired: raw time ÷ our time within each trial (throughput ratio ours ÷ raw).
    return { ratios: raw.map((r, i) => r.seconds / (ours[i] as Sample).seconds) };
  } finally {
    for (const s of servers.values()) await s.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `tcp bench: ${FRAMES} frames of ${FRAME} B, bulk ${MIB} MiB in ${CHUNK / 1024} KiB writes; ${WARMUP} warm-up + ${TRIALS} trials per arm (ABBA), node ${process.version}`,
  );
  const workloads = [bulk, each, corked, echo].filter((w) => ONLY === undefined || ONLY.has(w.name));
  const results: [Workload, number[]][] = [];
  for (const w of workloads) results.push([w, (await runWorkload(w)).ratios]);
  for (const [w, r] of results) {
    console.log(`${w.ratio}: median ${median(r).toFixed(3)} (min ${Math.min(...r).toFixed(3)}, max ${Math.max(...r).toFixed(3)})`);
  }
  for (const [w, r] of results) console.log(`ratio ${w.ratio} ${median(r).toFixed(3)}`);
}

await main();
