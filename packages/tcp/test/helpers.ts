import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Poll `cond` until it is true (or fail after `timeoutMs`). */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A raw node:net client (the peer we did not build on our own client). */
export interface RawPeer extends AsyncDisposable {
  readonly socket: net.Socket;
  /** Everything received so far. */
  received(): Buffer;
  /** Resolves when the socket closed. */
  readonly closed: Promise<void>;
  /** Resolves when at least `n` bytes have arrived. */
  waitBytes(n: number, timeoutMs?: number): Promise<Buffer>;
}

export async function rawConnect(port: number, host = "127.0.0.1"): Promise<RawPeer> {
  const socket = net.connect({ port, host });
  const chunks: Buffer[] = [];
  let total = 0;
  socket.on("data", (c: Buffer) => {
    chunks.push(c);
    total += c.length;
  });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return {
    socket,
    closed,
    received: () => Buffer.concat(chunks),
    async waitBytes(n, timeoutMs = 10_000) {
      await waitFor(() => total >= n, timeoutMs, `${n} bytes`);
      return Buffer.concat(chunks);
    },
    async [Symbol.asyncDispose]() {
      socket.destroy();
      await closed;
    },
  };
}

export interface Certs {
  readonly dir: string;
  readonly ca: Buffer;
  readonly serverKey: Buffer;
  readonly serverCert: Buffer;
  readonly clientKey: Buffer;
  readonly clientCert: Buffer;
  /** A second CA the server does not trust, with a client certificate it signed. */
  readonly otherCa: Buffer;
  readonly otherClientKey: Buffer;
  readonly otherClientCert: Buffer;
  cleanup(): void;
}

/** A throwaway CA, a server certificate for localhost/127.0.0.1 and client certificates, made by openssl. */
export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), "pirouette-tcp-tls-"));
  const ssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  };
  const key = (name: string): void => ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", `${name}.key`);
  const ca = (name: string, cn: string): void => {
    key(name);
    ssl(
      "req", "-x509", "-new", "-key", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${cn}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    );
  };
  const leaf = (name: string, caName: string, cn: string, ext: string): void => {
    key(name);
    ssl("req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl(
      "x509", "-req", "-in", `${name}.csr`, "-CA", `${caName}.pem`, "-CAkey", `${caName}.key`, "-CAcreateserial",
      "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`,
    );
  };
  ca("ca", "Pirouette Test CA");
  leaf("server", "ca", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("client", "ca", "test-client", "extendedKeyUsage=clientAuth\n");
  ca("other", "Untrusted CA");
  leaf("other-client", "other", "intruder", "extendedKeyUsage=clientAuth\n");
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  return {
    dir,
    ca: read("ca.pem"),
    serverKey: read("server.key"),
    serverCert: read("server.pem"),
    clientKey: read("client.key"),
    clientCert: read("client.pem"),
    otherCa: read("other.pem"),
    otherClientKey: read("other-client.key"),
    otherClientCert: read("other-client.pem"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
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

/** A long-running peer (e.g. a socat server) whose port is read from its stderr. */
export interface SpawnedServer extends AsyncDisposable {
  readonly port: number;
}

export function spawnServer(cmd: string, args: readonly string[], portPattern: RegExp, timeoutMs = 10_000): Promise<SpawnedServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    const exited = new Promise<void>((r) => child.once("close", () => r()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} did not report its port: ${stderr}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = portPattern.exec(stderr);
      if (m !== null) {
        clearTimeout(timer);
        resolve({
          port: Number(m[1]),
          async [Symbol.asyncDispose]() {
            child.kill("SIGTERM");
            await exited;
          },
        });
      }
    });
  });
}
