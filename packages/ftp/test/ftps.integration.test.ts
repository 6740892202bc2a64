/**
 * Explicit FTPS (AUTH TLS) against a vsftpd of this test's own (the shared one has no TLS): a
 * self-signed certificate made with openssl, TLS forced for logins and data, a free port, and
 * its own passive port range. The process is stopped by its pid afterwards.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ftp from "../src/index.ts";
import { blocks, exec, HOME, PASSWORD, sha256Of, USER, waitFor } from "./helpers.ts";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.once("data", (d: Buffer) => {
      sock.destroy();
      resolve(d.toString().startsWith("220"));
    });
    sock.once("error", () => resolve(false));
  });
}

describe("ftps (explicit TLS) on a vsftpd of our own", () => {
  let dir: string;
  let port: number;
  let ca: string;
  let server: ChildProcess;
  let log = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pirouette-ftps-"));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, "empty"), { mode: 0o755 });
    await exec("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ]);
    ca = readFileSync(join(dir, "cert.pem"), "utf8");
    port = await freePort();
    const conf = join(dir, "vsftpd.conf");
    writeFileSync(
      conf,
      [
        "listen=YES", "listen_ipv6=NO", "listen_address=127.0.0.1", `listen_port=${port}`, "background=NO",
        "anonymous_enable=NO", "local_enable=YES", "write_enable=YES", "local_umask=022", "pam_service_name=vsftpd",
        "pasv_enable=YES", "pasv_address=127.0.0.1", "pasv_addr_resolve=NO", "pasv_min_port=30200", "pasv_max_port=30300",
        `secure_chroot_dir=${join(dir, "empty")}`, "seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO",
        "ssl_enable=YES", `rsa_cert_file=${join(dir, "cert.pem")}`, `rsa_private_key_file=${join(dir, "key.pem")}`,
        "force_local_logins_ssl=YES", "force_local_data_ssl=YES", "require_ssl_reuse=NO", "ssl_ciphers=HIGH",
      ].join("\n") + "\n",
      { mode: 0o644 },
    );
    server = spawn("/usr/sbin/vsftpd", [conf], { stdio: ["ignore", "pipe", "pipe"] });
    server.stdout?.on("data", (d: Buffer) => (log += d.toString()));
    server.stderr?.on("data", (d: Buffer) => (log += d.toString()));
    server.on("error", (e) => (log += String(e)));
    await waitFor(() => accepting(port), `vsftpd with TLS on port ${port} (${log})`, 10_000);
  });

  afterAll(async () => {
    if (server.exitCode === null && server.pid !== undefined) {
      const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
      process.kill(server.pid, "SIGTERM");
      await exited;
    }
  });

  it("transfers over TLS with the server's certificate trusted", async () => {
    const client = new ftp.Client({ url: `ftp://${USER}:${PASSWORD}@127.0.0.1:${port}`, secure: { ca } });
    const path = `${HOME}/pt-ftps-${process.pid}-${Date.now().toString(36)}.bin`;
    try {
      await client.putBytesAsStream(path, blocks(1024 * 1024, 64 * 1024, 3));
      const chunks: Uint8Array[] = [];
      for await (const b of await client.getBytesAsStream(path)) chunks.push(b);
      expect(sha256Of(chunks)).toBe(sha256Of(blocks(1024 * 1024, 64 * 1024, 3)));
    } finally {
      await client.delete(path).catch(() => undefined);
      await client.close();
    }
  });

  it("refuses an untrusted certificate (FTP_TLS), and the server refuses a plain login (FTP_AUTH)", async () => {
    const untrusted = new ftp.Client({ url: `ftp://${USER}:${PASSWORD}@127.0.0.1:${port}`, secure: true });
    const e = await untrusted.connect().catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "FTP_TLS" });
    expect((e as Error).message).toMatch(/self[- ]signed/i);
    await untrusted.close();
    const plain = new ftp.Client({ url: `ftp://${USER}:${PASSWORD}@127.0.0.1:${port}` });
    expect(await plain.connect().catch((x: unknown) => (x as ftp.FtpError).code)).toBe("FTP_AUTH");
    await plain.close();
  });
});
