/**
 * The client against the real OpenSSH sshd and vsftpd (`scripts/services up sftp ftp`): every
 * operation, a 64 MiB streaming round trip with SHA-256 and bounded memory, credentials,
 * host keys, typed errors.
 */
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { PayloadBindingError, PayloadValidationError, Stream } from "@pirouette/core";
import * as ftp from "../src/index.ts";
import {
  blocks,
  captureLogger,
  exec,
  KEY,
  KEY_WITH_PASSPHRASE,
  knownHostsLine,
  liveMemory,
  optionsFor,
  sftpOptions,
  sha256Of,
  sshdLogFor,
  TcpProxy,
  uniqueDir,
  waitFor,
  SFTP_HOST,
  SFTP_PORT,
  USER,
} from "./helpers.ts";

const MiB = 1024 * 1024;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe.each(["sftp", "ftp"] as const)("%s client", (protocol) => {
  let client: ftp.Client;
  let dir: string;

  beforeAll(async () => {
    client = new ftp.Client(optionsFor(protocol));
    dir = uniqueDir(`client-${protocol}`);
    await client.mkdir(dir);
  });

  afterAll(async () => {
    await client.rmdir(dir, { recursive: true }).catch(() => undefined);
    await client.close();
  });

  it("writes, appends, reads, lists and moves files", async () => {
    await client.putText(`${dir}/a.txt`, "héllo\n");
    await client.appendText(`${dir}/a.txt`, "world\n");
    expect(await client.getText(`${dir}/a.txt`)).toBe("héllo\nworld\n");
    expect(await client.getText(`${dir}/a.txt`, z.string().transform((t) => t.split("\n").length))).toBe(3);
    expect(await client.size(`${dir}/a.txt`)).toBe(Buffer.byteLength("héllo\nworld\n"));

    await client.putJson(`${dir}/c.json`, { id: 7, tags: ["x"] });
    expect(await client.getJson(`${dir}/c.json`, z.object({ id: z.number(), tags: z.array(z.string()) }))).toEqual({ id: 7, tags: ["x"] });
    await expect(client.getJson(`${dir}/c.json`, z.object({ id: z.string() }))).rejects.toBeInstanceOf(PayloadValidationError);

    await client.putBytes(`${dir}/b.bin`, new Uint8Array([0, 1, 2, 255]));
    expect([...(await client.getBytes(`${dir}/b.bin`))]).toEqual([0, 1, 2, 255]);
    await client.appendBytes(`${dir}/b.bin`, Stream.of(new Uint8Array([9])));
    expect([...(await client.getBytes(`${dir}/b.bin`))]).toEqual([0, 1, 2, 255, 9]);

    await client.mkdir(`${dir}/x/y`, { recursive: true });
    await client.mkdir(`${dir}/x`); // exists: fine
    expect(await client.isDirectory(`${dir}/x/y`)).toBe(true);
    expect(await client.isDirectory(`${dir}/a.txt`)).toBe(false);
    expect(await client.exists(`${dir}/nope`)).toBe(false);

    const names = (await client.list(dir)).map((f) => `${f.name}:${f.isDirectory ? "d" : f.size}`).sort();
    expect(names).toEqual(["a.txt:13", "b.bin:5", "c.json:21", "x:d"]);
    const info = await client.stat(`${dir}/a.txt`);
    expect(info).toMatchObject({ path: `${dir}/a.txt`, name: "a.txt", extension: "txt", isFile: true, size: 13 });
    if (protocol === "sftp") expect(info.lastModified).toBeInstanceOf(Date);
    else expect(info.rawModified).toBeTypeOf("string");

    await expect(client.rename(`${dir}/a.txt`, `${dir}/c.json`)).rejects.toMatchObject({ code: "FTP_EXISTS" });
    await client.rename(`${dir}/a.txt`, `${dir}/a2.txt`);
    await client.move(`${dir}/a2.txt`, `${dir}/new/deeper/a.txt`); // creates the folder
    await client.putText(`${dir}/c2.txt`, "replacement");
    await client.move(`${dir}/c2.txt`, `${dir}/new/deeper/a.txt`); // replaces
    expect(await client.getText(`${dir}/new/deeper/a.txt`)).toBe("replacement");

    await client.delete(`${dir}/c.json`);
    await expect(client.rmdir(`${dir}/x`)).rejects.toBeInstanceOf(ftp.FtpError); // not empty
    await client.rmdir(`${dir}/x`, { recursive: true });
    expect(await client.exists(`${dir}/x`)).toBe(false);
  });

  it("reads and writes CSV, records and arrays, streamed and whole, with a schema", async () => {
    const Order = z.object({ id: z.string(), amount: z.coerce.number() });
    await client.putCsv(`${dir}/o.csv`, [
      { id: "a1", amount: 12.5 },
      { id: "a,2", amount: 7 },
    ]);
    await client.appendCsv(`${dir}/o.csv`, [{ amount: 3, id: "a3" }]); // the file's column order wins
    expect(await client.getText(`${dir}/o.csv`)).toBe('id,amount\na1,12.5\n"a,2",7\na3,3\n');
    expect(await client.getCsv(`${dir}/o.csv`, {}, Order)).toEqual([
      { id: "a1", amount: 12.5 },
      { id: "a,2", amount: 7 },
      { id: "a3", amount: 3 },
    ]);
    expect(await client.getCsv(`${dir}/o.csv`, { header: null })).toEqual([
      ["id", "amount"],
      ["a1", "12.5"],
      ["a,2", "7"],
      ["a3", "3"],
    ]);

    // 20 000 records through a Stream both ways.
    const rows = Stream.from(function* () {
      for (let i = 0; i < 20_000; i++) yield { id: `r${i}`, amount: i };
    });
    await client.putCsv(`${dir}/big.csv`, rows);
    const total = await (await client.getCsvAsStream(`${dir}/big.csv`, {}, Order)).reduce((s, o) => s + o.amount, 0);
    expect(total).toBe((19_999 * 20_000) / 2);

    await client.putText(`${dir}/bad.csv`, 'id,amount\n"unclosed,1\n');
    const err = await client.getCsv(`${dir}/bad.csv`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadBindingError);
    expect((err as PayloadBindingError).coordinates).toMatchObject({ path: `${dir}/bad.csv` });
  });

  it("round-trips 64 MiB with SHA-256, streaming both ways in bounded memory", async () => {
    const size = 64 * MiB;
    const expected = sha256Of(blocks(size));
    const base = await liveMemory();
    let peak = 0;
    let sent = 0;
    const source = Stream.from(async function* () {
      for (const b of blocks(size)) {
        sent += b.length;
        if (sent % (16 * MiB) === 0) peak = Math.max(peak, (await liveMemory()) - base);
        yield b;
      }
    });
    await client.putBytesAsStream(`${dir}/big.bin`, source);
    expect(await client.size(`${dir}/big.bin`)).toBe(size);

    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256");
    let received = 0;
    for await (const block of await client.getBytesAsStream(`${dir}/big.bin`)) {
      hash.update(block);
      received += block.length;
      if (received % (16 * MiB) < block.length) peak = Math.max(peak, (await liveMemory()) - base);
    }
    expect(received).toBe(size);
    expect(hash.digest("hex")).toBe(expected);
    // Buffering the file would keep ≥ 64 MiB alive; streaming keeps a few blocks.
    expect(peak).toBeLessThan(16 * MiB);
  }, 120_000);

  it("closing a download early aborts it and frees the connection", async () => {
    const one = new ftp.Client(optionsFor(protocol, { maxConnections: 1 }));
    try {
      await one.putBytesAsStream(`${dir}/abort.bin`, blocks(8 * MiB));
      const s = await one.getBytesAsStream(`${dir}/abort.bin`);
      const first = await s.next();
      expect(first).toBeDefined();
      await s.close();
      // With one connection, this waits forever unless the transfer was aborted and the connection freed.
      expect(await one.getBytes(`${dir}/b.bin`).then(() => "ok")).toBe("ok");
      // A stream closed before it was read frees its connection too.
      await (await one.getBytesAsStream(`${dir}/abort.bin`)).close();
      expect(await one.exists(`${dir}/abort.bin`)).toBe(true);
    } finally {
      await one.close();
    }
  });

  it("fails with typed errors: missing file, too large, bad source, closed client", async () => {
    const missing = await client.getBytesAsStream(`${dir}/missing.bin`).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ftp.FtpError);
    expect(missing).toMatchObject({ code: "FTP_NOT_FOUND", path: `${dir}/missing.bin` });
    expect(await codeOf(client.list(`${dir}/no-such-dir`))).toBe("FTP_NOT_FOUND");
    expect(await codeOf(client.delete(`${dir}/missing.bin`))).toBe("FTP_NOT_FOUND");

    const small = new ftp.Client(optionsFor(protocol, { maxFileBytes: 1000 }));
    try {
      await small.putBytes(`${dir}/k.bin`, new Uint8Array(1001));
      expect(await codeOf(small.getBytes(`${dir}/k.bin`))).toBe("FTP_TOO_LARGE");
    } finally {
      await small.close();
    }

    const failing = Stream.from(async function* () {
      yield new Uint8Array([1, 2, 3]);
      throw new Error("disk on fire");
    });
    const e = await client.putBytesAsStream(`${dir}/partial.bin`, failing).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "FTP_SOURCE" });
    expect(((e as Error).cause as Error).message).toBe("disk on fire");

    expect(await codeOf(client.putText(`${dir}/a\r\nDELE x`, "x"))).toBe("FTP_PATH");
    const closed = new ftp.Client(optionsFor(protocol));
    await closed.close();
    expect(await codeOf(closed.exists(dir))).toBe("FTP_CLOSED");
  });

  it("refuses a wrong password with FTP_AUTH, without retrying", async () => {
    const logger = captureLogger();
    const bad = new ftp.Client(optionsFor(protocol, { auth: { credentials: { username: USER, password: "wrong" } }, logger }));
    try {
      const e = await bad.connect().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ftp.FtpError);
      expect(e).toMatchObject({ code: "FTP_AUTH" });
      expect((e as ftp.FtpError).transient).toBe(false);
      expect(JSON.stringify(e)).not.toContain("wrong");
      expect(logger.has("warn", "retrying")).toBe(false);
    } finally {
      await bad.close();
    }
  });
});

describe("sftp authentication and host keys", () => {
  let tmp: string;
  beforeAll(() => {
    tmp = join(tmpdir(), `pirouette-ftp-${process.pid}-${Date.now()}`);
  });

  it("logs in with a private key, and with a passphrase-protected one", async () => {
    for (const privateKey of [{ path: KEY }, { path: KEY_WITH_PASSPHRASE, passphrase: "secret" }]) {
      const c = new ftp.Client(sftpOptions({ auth: { credentials: { username: USER }, privateKey } }));
      try {
        expect(await c.exists(".")).toBe(true);
      } finally {
        await c.close();
      }
    }
    for (const passphrase of ["wrong", undefined]) {
      const c = new ftp.Client(sftpOptions({ auth: { credentials: { username: USER }, privateKey: { path: KEY_WITH_PASSPHRASE, passphrase } } }));
      expect(await codeOf(c.connect())).toBe("FTP_AUTH");
      await c.close();
    }
  });

  it("refuses a wrong host key before authenticating: the server never sees the password", async () => {
    const proxy = await new TcpProxy(SFTP_HOST, SFTP_PORT).start();
    const debug: string[] = [];
    const canary = `S3cr3t-CANARY-${Date.now()}`;
    const wrong = "SHA256:" + Buffer.alloc(32, 7).toString("base64").replace(/=+$/, "");
    const c = new ftp.Client(
      sftpOptions({ port: proxy.port, hostKey: { fingerprint: wrong }, auth: { credentials: { username: USER, password: canary } }, debug: (l) => debug.push(l) }),
    );
    try {
      const e = await c.connect().catch((x: unknown) => x);
      expect(e).toMatchObject({ code: "FTP_HOST_KEY" });
      expect((e as Error).message).toContain("not the pinned one");
      expect(JSON.stringify(e) + (e as Error).message).not.toContain(canary);
      // Client side: the key exchange ended at the host key; no authentication request was sent.
      expect(debug.some((l) => /Host denied|verification failed/i.test(l))).toBe(true);
      expect(debug.some((l) => /USERAUTH_REQUEST/.test(l))).toBe(false);
      // Server side: sshd saw the connection close before any authentication attempt.
      const port = proxy.upstreamPorts[0] as number;
      await waitFor(() => sshdLogFor(port).some((l) => /closed|Disconnected|reset/i.test(l)), "sshd to log the end of the connection");
      const lines = sshdLogFor(port);
      expect(lines.some((l) => /Connection from/.test(l))).toBe(true);
      expect(lines.filter((l) => /password|Accepted|Failed|publickey/i.test(l))).toEqual([]);
    } finally {
      await c.close();
      await proxy.close();
    }
  });

  it("verifies against known_hosts written by ssh-keyscan, plain and hashed", async () => {
    const { stdout } = await exec("ssh-keyscan", ["-p", String(SFTP_PORT), "-t", "ed25519", SFTP_HOST], { timeout: 15_000 });
    expect(stdout.trim()).toBe(knownHostsLine());
    const file = `${tmp}-known_hosts`;
    await writeFile(file, stdout);
    await exec("ssh-keygen", ["-H", "-f", file]); // hash the host names in place
    const hashed = await import("node:fs/promises").then((fs) => fs.readFile(file, "utf8"));
    expect(hashed).toMatch(/^\|1\|/m);
    for (const hostKey of [{ knownHosts: stdout }, { knownHostsFile: file }]) {
      const c = new ftp.Client(sftpOptions({ hostKey }));
      try {
        expect(await c.exists(".")).toBe(true);
      } finally {
        await c.close();
      }
    }
    const other = new ftp.Client(sftpOptions({ hostKey: { knownHosts: stdout.replace(`[${SFTP_HOST}]:${SFTP_PORT}`, "[elsewhere]:22") } }));
    expect(await codeOf(other.connect())).toBe("FTP_HOST_KEY");
    await other.close();
  });

  it("accepts any host key only when told so, and warns on every connect", async () => {
    const logger = captureLogger();
    const c = new ftp.Client(sftpOptions({ hostKey: { insecureAcceptAnyHostKey: true }, logger }));
    try {
      expect(await c.exists(".")).toBe(true);
      expect(logger.has("warn", "insecureAcceptAnyHostKey")).toBe(true);
    } finally {
      await c.close();
    }
  });

  it("reports an unreachable server as FTP_CONNECTION after retrying", async () => {
    const proxy = await new TcpProxy(SFTP_HOST, SFTP_PORT).start();
    proxy.down();
    const logger = captureLogger();
    const c = new ftp.Client(sftpOptions({ port: proxy.port, logger, retry: { maxAttempts: 3, initialDelayMs: 20 } }));
    try {
      const e = await c.connect().catch((x: unknown) => x);
      expect(e).toMatchObject({ code: "FTP_CONNECTION" });
      expect(logger.entries.filter((x) => x.level === "warn" && (x.msg ?? "").includes("retrying"))).toHaveLength(2);
    } finally {
      await c.close();
      await proxy.close();
    }
  });
});

describe("ftp TLS", () => {
  it("fails with FTP_TLS when the server does not offer explicit TLS", async () => {
    const c = new ftp.Client(optionsFor("ftp", { secure: true }));
    expect(await codeOf(c.connect())).toBe("FTP_TLS");
    await c.close();
  });
});
