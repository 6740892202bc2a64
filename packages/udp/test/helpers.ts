import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { setTimeout as sleep } from "node:timers/promises";

/** Poll `cond` until it is true (or fail after `timeoutMs`). */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A free UDP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}

/** A raw dgram socket (a peer that is not our client). */
export interface RawSocket extends AsyncDisposable {
  readonly socket: dgram.Socket;
  readonly port: number;
  readonly messages: { data: Buffer; address: string; port: number }[];
  send(data: string | Uint8Array, port: number, host?: string): Promise<void>;
}

export async function rawSocket(): Promise<RawSocket> {
  const socket = dgram.createSocket("udp4");
  const messages: { data: Buffer; address: string; port: number }[] = [];
  socket.on("message", (data, r) => messages.push({ data, address: r.address, port: r.port }));
  socket.on("error", () => undefined);
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  return {
    socket,
    port: socket.address().port,
    messages,
    send: (data, port, host = "127.0.0.1") =>
      new Promise((resolve, reject) => socket.send(data, port, host, (e) => (e === null ? resolve() : reject(e)))),
    async [Symbol.asyncDispose]() {
      await new Promise<void>((r) => socket.close(() => r()));
    },
  };
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a program with `input` on stdin; it is killed after `timeoutMs`. */
export function run(cmd: string, args: readonly string[], input = "", timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

/** Start a long-running program; resolves once `ready` shows up on its stderr. */
export function spawnPeer(cmd: string, args: readonly string[], ready: RegExp, timeoutMs = 10_000): Promise<AsyncDisposable> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<void>((r) => child.once("close", () => r()));
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} did not start: ${stderr}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (ready.test(stderr)) {
        clearTimeout(timer);
        resolve({
          async [Symbol.asyncDispose]() {
            child.kill("SIGTERM");
            await exited;
          },
        });
      }
    });
  });
}
