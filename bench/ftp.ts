/**
 * SFTP/FTP transfer benchmark: one file downloaded and uploaded through `@pirouette/ftp`'s
 * streaming client vs the raw drivers, against the real sshd and vsftpd
 * (`scripts/services up sftp ftp`), arms alternated (ABBA) with gc() between trials, median of
 * the trials after a warm-up.
 *
 *   pnpm bench ftp [--mib 32] [--trials 5] [--warmup 1] [--only ftp-get,sftp-get]
 *
 * Arms (MiB/s):
 *   sftp-get-ours   client.getBytesAsStream(path), consumed with for await
 *   sftp-get-raw    ssh2-sftp-client createReadStream(path) (ssh2's default 64 KiB reads, the
 *                   same size ours uses), consumed with for await
 *   sftp-put-ours   client.putBytesAsStream(path, blocks)
 *   sftp-put-raw    ssh2-sftp-client put(Readable.from(blocks), path)
 *   ftp-get-ours / ftp-get-raw   the same over FTP; raw = basic-ftp downloadTo(Writable)
 *   ftp-put-ours / ftp-put-raw   raw = basic-ftp uploadFrom(Readable)
 *
 * Both SFTP arms turn TCP_NODELAY on (ssh2's default leaves Nagle on, which costs ~40 ms per
 * request on loopback; our client always sets it). Prints MiB/s per arm, then one
 * `ratio ftp-<arm>-vs-raw <ours ÷ raw>` line per comparison (higher is better).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Client as BasicFtp } from "basic-ftp";
import * as ftp from "@pirouette/ftp";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const MIB = arg("mib", 32);
const TRIALS = arg("trials", 5);
const WARMUP = arg("warmup", 1);
const SIZE = MIB * 1024 * 1024;
/** `--only a,b`: run just the comparisons named (sftp-get, sftp-put, ftp-get, ftp-put). */
const ONLY = ((i) => (i < 0 ? undefined : (process.argv[i + 1] ?? "").split(",")))(process.argv.indexOf("--only"));
const BLOCK = 64 * 1024;
const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with --expose-gc (pnpm bench ftp does)");
  });

const sftpUrl = new URL(process.env["SFTP_URL"] ?? "sftp://pirouette@127.0.0.1:2222");
const ftpUrl = new URL(process.env["FTP_URL"] ?? "ftp://pirouette:pirouette@127.0.0.1:2121");
const user = decodeURIComponent(sftpUrl.username || "pirouette");
const password = process.env["SFTP_PASSWORD"] ?? "pirouette";
const fingerprint =
  process.env["SFTP_HOST_FINGERPRINT"] ?? readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../.services/sftp/host_key.sha256"), "utf8").trim();

/** The part of ssh2-sftp-client 12 the raw arms use (it ships no types). */
interface RawSftp {
  readonly client: { setNoDelay(on: boolean): void };
  connect(config: Record<string, unknown>): Promise<unknown>;
  createReadStream(path: string, options?: { highWaterMark?: number }): Readable;
  put(source: Readable, path: string): Promise<unknown>;
  delete(path: string): Promise<unknown>;
  mkdir(path: string, recursive: boolean): Promise<unknown>;
  rmdir(path: string, recursive: boolean): Promise<unknown>;
  end(): Promise<unknown>;
}
const RawSftpClient = createRequire(import.meta.url)("ssh2-sftp-client") as new (name: string, callbacks: Record<string, () => void>) => RawSftp;

const payload = Buffer.alloc(BLOCK, 0x5a);
function* blocks(): Generator<Buffer> {
  for (let off = 0; off < SIZE; off += BLOCK) yield payload;
}

const sftpOurs = new ftp.Client({
  protocol: "sftp",
  host: sftpUrl.hostname,
  port: Number(sftpUrl.port || 22),
  auth: { credentials: { username: user, password } },
  hostKey: { fingerprint },
});
const ftpOurs = new ftp.Client({ url: ftpUrl.href });
const sftpRaw = new RawSftpClient("bench", { error: () => undefined, end: () => undefined, close: () => undefined });
const connecting = sftpRaw.connect({ host: sftpUrl.hostname, port: Number(sftpUrl.port || 22), username: user, password, hostVerifier: () => true });
sftpRaw.client.setNoDelay(true);
await connecting;
const ftpRaw = new BasicFtp(30_000);
await ftpRaw.access({ host: ftpUrl.hostname, port: Number(ftpUrl.port || 21), user: decodeURIComponent(ftpUrl.username), password: decodeURIComponent(ftpUrl.password) });

const home = (await sftpOurs.realPath(".")) ?? `/home/${user}`;
const dir = `${home}/bench-ftp-${process.pid}`;
await sftpOurs.mkdir(dir);
const file = `${dir}/data.bin`;
await sftpOurs.putBytesAsStream(file, blocks());

class Counter extends Writable {
  n = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.n += chunk.length;
    cb();
  }
}

interface Arm {
  readonly name: string;
  run(): Promise<number>;
}

const allArms: Arm[] = [
  {
    name: "sftp-get-ours",
    async run() {
      let n = 0;
      for await (const b of await sftpOurs.getBytesAsStream(file)) n += b.length;
      return n;
    },
  },
  {
    name: "sftp-get-raw",
    async run() {
      let n = 0;
      for await (const b of sftpRaw.createReadStream(file) as AsyncIterable<Buffer>) n += b.length;
      return n;
    },
  },
  {
    name: "sftp-put-ours",
    async run() {
      await sftpOurs.putBytesAsStream(`${dir}/up-ours.bin`, blocks());
      return SIZE;
    },
  },
  {
    name: "sftp-put-raw",
    async run() {
      await sftpRaw.put(Readable.from(blocks(), { objectMode: false }), `${dir}/up-raw.bin`);
      return SIZE;
    },
  },
  {
    name: "ftp-get-ours",
    async run() {
      let n = 0;
      for await (const b of await ftpOurs.getBytesAsStream(file)) n += b.length;
      return n;
    },
  },
  {
    name: "ftp-get-raw",
    async run() {
      const sink = new Counter();
      await ftpRaw.downloadTo(sink, file);
      return sink.n;
    },
  },
  {
    name: "ftp-put-ours",
    async run() {
      await ftpOurs.putBytesAsStream(`${dir}/up-ours.bin`, blocks());
      return SIZE;
    },
  },
  {
    name: "ftp-put-raw",
    async run() {
      await ftpRaw.uploadFrom(Readable.from(blocks(), { objectMode: false }), `${dir}/up-raw.bin`);
      return SIZE;
    },
  },
];

const arms = ONLY === undefined ? allArms : allArms.filter((a) => ONLY.includes(a.name.replace(/-(ours|raw)$/, "")));
if (arms.length === 0) throw new Error("--only names none of sftp-get, sftp-put, ftp-get, ftp-put");
const samples = new Map<string, number[]>(arms.map((a) => [a.name, []]));
for (let trial = 0; trial < WARMUP + TRIALS; trial++) {
  const order = trial % 2 === 0 ? arms : [...arms].reverse();
  for (const arm of order) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the GC's sweeping finish outside the timing
    const t0 = process.hrtime.bigint();
    const n = await arm.run();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (n !== SIZE) throw new Error(`${arm.name}: ${n} bytes, expected ${SIZE}`);
    if (trial >= WARMUP) samples.get(arm.name)?.push(MIB / (ms / 1000));
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

await sftpOurs.rmdir(dir, { recursive: true });
await sftpOurs.close();
await ftpOurs.close();
await sftpRaw.end();
ftpRaw.close();

console.log(`ftp transfers: ${MIB} MiB file, ${TRIALS} trials after ${WARMUP} warm-up (median MiB/s)`);
const rate = (name: string): number => median(samples.get(name) ?? []);
for (const arm of arms) console.log(`${arm.name.padEnd(14)} ${rate(arm.name).toFixed(1).padStart(8)} MiB/s`);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
for (const p of ["sftp-get", "sftp-put", "ftp-get", "ftp-put"]) {
  if (!samples.has(`${p}-ours`)) continue;
  console.log(`ratio ftp-${p}-vs-raw ${(rate(`${p}-ours`) / rate(`${p}-raw`)).toFixed(3)}`);
}
