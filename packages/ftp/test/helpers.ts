/**
 * Fixtures for the real-server tests: the sshd and vsftpd of `scripts/services up sftp ftp`,
 * unique remote directories, polling, a capturing logger, a TCP proxy that can cut
 * connections, and the OpenSSH / curl command-line clients.
 */
import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import type { Logger } from "@pirouette/core";
import type * as ftp from "../src/index.ts";

export const exec = promisify(execFile);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
/** `.services/sftp`: keys, host key fingerprint, sshd log. */
export const SFTP_DIR = join(ROOT, ".services/sftp");
export const SFTP_URL = process.env["SFTP_URL"] ?? "sftp://pirouette@127.0.0.1:2222";
export const FTP_URL = process.env["FTP_URL"] ?? "ftp://pirouette:pirouette@127.0.0.1:2121";
const sftpUrl = new URL(SFTP_URL);
const ftpUrl = new URL(FTP_URL);
export const SFTP_HOST = sftpUrl.hostname;
export const SFTP_PORT = Number(sftpUrl.port || 22);
export const FTP_HOST = ftpUrl.hostname;
export const FTP_PORT = Number(ftpUrl.port || 21);
export const USER = decodeURIComponent(sftpUrl.username || "pirouette");
export const PASSWORD = "pirouette";
/** The login directory of the test user on both servers. */
export const HOME = `/home/${USER}`;

export const HOST_FINGERPRINT = readFileSync(join(SFTP_DIR, "host_key.sha256"), "utf8").trim();
export const KEY = join(SFTP_DIR, "id_ed25519");
export const KEY_WITH_PASSPHRASE = join(SFTP_DIR, "id_ed25519_secret");
export const HOST_PUBLIC_KEY = readFileSync(join(SFTP_DIR, "ssh_host_ed25519_key.pub"), "utf8").trim();
export const SSHD_LOG = join(SFTP_DIR, "sshd.log");

/** SFTP client options with password auth and the pinned host key. */
export function sftpOptions(extra: Partial<ftp.ClientOptions> = {}): ftp.ClientOptions {
  return {
    protocol: "sftp",
    host: SFTP_HOST,
    port: SFTP_PORT,
    auth: { credentials: { username: USER, password: PASSWORD } },
    hostKey: { fingerprint: HOST_FINGERPRINT },
    ...extra,
  };
}

/** FTP client options. */
export function ftpOptions(extra: Partial<ftp.ClientOptions> = {}): ftp.ClientOptions {
  return { protocol: "ftp", host: FTP_HOST, port: FTP_PORT, auth: { credentials: { username: USER, password: PASSWORD } }, ...extra };
}

export function optionsFor(protocol: ftp.Protocol, extra: Partial<ftp.ClientOptions> = {}): ftp.ClientOptions {
  return protocol === "sftp" ? sftpOptions(extra) : ftpOptions(extra);
}

let seq = 0;
/** An absolute remote directory name no other test run uses (not created). */
export function uniqueDir(prefix: string): string {
  return `${HOME}/pt-${prefix}-${process.pid}-${Date.now().toString(36)}-${++seq}`;
}

/** Poll until `condition` holds. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface LogEntry {
  readonly level: string;
  readonly obj: unknown;
  readonly msg: string | undefined;
}

/** A logger that records everything (and prints with DEBUG_FTP=1). */
export function captureLogger(): Logger & { readonly entries: LogEntry[]; has(level: string, fragment: string): boolean } {
  const entries: LogEntry[] = [];
  const log =
    (level: string) =>
    (objOrMsg: unknown, msg?: string): void => {
      const entry = typeof objOrMsg === "string" ? { level, obj: undefined, msg: objOrMsg } : { level, obj: objOrMsg, msg };
      entries.push(entry);
      if (process.env["DEBUG_FTP"] === "1") console.log(level, entry.msg, entry.obj);
    };
  const logger = {
    entries,
    trace: log("trace"),
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: () => logger,
    has: (level: string, fragment: string) => entries.some((e) => e.level === level && (e.msg ?? "").includes(fragment)),
  };
  return logger;
}

/**
 * A TCP proxy to a server. `cut()` destroys every proxied connection (what a server crash
 * looks like to the client); `cutAfter(bytes)` does so once the server has sent that many
 * bytes on one connection (mid-transfer); `down()` also refuses new connections until `up()`.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #accepting = true;
  #cutWhen: ((chunk: Buffer, fromServer: number) => boolean) | undefined;
  readonly targetHost: string;
  readonly targetPort: number;
  /** Connections accepted and proxied. */
  connections = 0;
  /** Local ports of the proxy's upstream sockets: what the server logs as the client's port. */
  readonly upstreamPorts: number[] = [];

  constructor(targetHost: string, targetPort: number) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.#server = createServer((client) => {
      if (!this.#accepting) {
        client.destroy();
        return;
      }
      this.connections++;
      const upstream = netConnect(this.targetPort, this.targetHost);
      upstream.setNoDelay(true);
      client.setNoDelay(true);
      upstream.on("connect", () => {
        if (upstream.localPort !== undefined) this.upstreamPorts.push(upstream.localPort);
      });
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      let fromServer = 0;
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on("error", drop);
      upstream.on("error", drop);
      client.on("close", drop);
      upstream.on("close", drop);
      upstream.on("data", (d: Buffer) => {
        fromServer += d.length;
        if (this.#cutWhen?.(d, fromServer) === true) {
          this.#cutWhen = undefined;
          this.cut();
        }
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.#port = (this.#server.address() as { port: number }).port;
    return this;
  }

  get port(): number {
    return this.#port;
  }

  /** Destroy every proxied connection now. */
  cut(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  /** Cut every connection once one of them has received `bytes` from the server (one shot). */
  cutAfter(bytes: number): void {
    this.#cutWhen = (_chunk, fromServer) => fromServer >= bytes;
  }

  /** Cut every connection when the server sends something matching `pattern` (one shot). */
  cutOn(pattern: RegExp): void {
    this.#cutWhen = (chunk) => pattern.test(chunk.toString("latin1"));
  }

  down(): void {
    this.#accepting = false;
    this.cut();
  }

  up(): void {
    this.#accepting = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Deterministic pseudo-random blocks (an AES-CTR key stream: fast, and the same for a seed). */
export function* blocks(totalBytes: number, blockSize = 64 * 1024, seed = 42): Generator<Uint8Array> {
  const key = createHash("sha256").update(`seed-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(blockSize);
  for (let off = 0; off < totalBytes; off += blockSize) {
    const n = Math.min(blockSize, totalBytes - off);
    yield cipher.update(n === blockSize ? zeros : zeros.subarray(0, n));
  }
}

export function sha256Of(chunks: Iterable<Uint8Array>): string {
  const h = createHash("sha256");
  for (const c of chunks) h.update(c);
  return h.digest("hex");
}

let gcFn: (() => void) | undefined;
/** `global.gc` without `--expose-gc`: for measuring live memory, not garbage. */
export function forceGc(): void {
  if (gcFn === undefined) {
    setFlagsFromString("--expose-gc");
    gcFn = runInNewContext("gc") as () => void;
  }
  gcFn();
}

/**
 * Live JS heap + array buffers after full GCs, in bytes. Array buffers are freed by the
 * sweeper after the GC, so it collects twice and lets the event loop turn in between.
 */
export async function liveMemory(): Promise<number> {
  forceGc();
  await sleep(1);
  forceGc();
  await sleep(5);
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A known_hosts line for the test sshd (as `ssh-keyscan` writes it). */
export function knownHostsLine(host = SFTP_HOST, port = SFTP_PORT): string {
  const [type, key] = HOST_PUBLIC_KEY.split(/\s+/);
  return `${port === 22 ? host : `[${host}]:${port}`} ${type} ${key}`;
}

/** Run OpenSSH's `sftp` with a batch file (key auth, strict host key checking against `knownHostsFile`). */
export async function sftpBatch(commands: string[], knownHostsFile: string): Promise<{ stdout: string; stderr: string }> {
  const batch = commands.join("\n") + "\n";
  const { writeFile } = await import("node:fs/promises");
  const file = `${knownHostsFile}.batch`;
  await writeFile(file, batch);
  return exec(
    "sftp",
    [
      "-P",
      String(SFTP_PORT),
      "-i",
      KEY,
      "-o",
      `UserKnownHostsFile=${knownHostsFile}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-b",
      file,
      `${USER}@${SFTP_HOST}`,
    ],
    { timeout: 30_000 },
  );
}

/** The sshd log lines mentioning a client port (as sshd logs it: "port N"). */
export function sshdLogFor(port: number): string[] {
  return readFileSync(SSHD_LOG, "utf8")
    .split("\n")
    .filter((l) => new RegExp(`port ${port}\\b`).test(l));
}

export { sleep };
