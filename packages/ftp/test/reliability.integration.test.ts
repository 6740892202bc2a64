/**
 * Connection loss mid-transfer, through a TCP proxy we cut (what a killed sshd or vsftpd looks
 * like to the client; the shared servers keep running): non-streaming calls are retried on a
 * new connection and succeed; a stream fails with a typed FtpError; nothing goes unhandled.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ftp from "../src/index.ts";
import { blocks, captureLogger, FTP_HOST, FTP_PORT, optionsFor, SFTP_HOST, SFTP_PORT, sha256Of, TcpProxy, uniqueDir } from "./helpers.ts";

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;

describe.each(["sftp", "ftp"] as const)("%s connection lost mid-transfer", (protocol) => {
  let direct: ftp.Client;
  let proxy: TcpProxy;
  let dir: string;
  const expected = sha256Of(blocks(SIZE));
  /** Cut the proxied connection once the transfer is under way. */
  const cutMidTransfer = (): void => {
    // SFTP: after 2 MiB of file data. FTP: data flows on its own connection, so cut the
    // control connection when the server announces the transfer ("150 Opening …").
    if (protocol === "sftp") proxy.cutAfter(2 * MiB);
    else proxy.cutOn(/^150 /m);
  };

  beforeAll(async () => {
    direct = new ftp.Client(optionsFor(protocol));
    dir = uniqueDir(`reliability-${protocol}`);
    await direct.mkdir(dir);
    await direct.putBytesAsStream(`${dir}/big.bin`, blocks(SIZE));
    proxy = await new TcpProxy(protocol === "sftp" ? SFTP_HOST : FTP_HOST, protocol === "sftp" ? SFTP_PORT : FTP_PORT).start();
  });

  afterAll(async () => {
    await direct.rmdir(dir, { recursive: true }).catch(() => undefined);
    await direct.close();
    await proxy.close();
  });

  it("retries a non-streaming download on a new connection, and gets every byte", async () => {
    const logger = captureLogger();
    const client = new ftp.Client(optionsFor(protocol, { port: proxy.port, logger, retry: { maxAttempts: 4, initialDelayMs: 50 } }));
    try {
      await client.connect();
      const before = proxy.connections;
      cutMidTransfer();
      const bytes = await client.getBytes(`${dir}/big.bin`);
      expect(bytes.length).toBe(SIZE);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(expected);
      expect(proxy.connections).toBeGreaterThan(before); // reconnected
      expect(logger.has("warn", "retrying")).toBe(true);
    } finally {
      await client.close();
    }
  });

  it("retries a non-streaming upload after the connection was cut", async () => {
    const client = new ftp.Client(optionsFor(protocol, { port: proxy.port, retry: { maxAttempts: 4, initialDelayMs: 50 } }));
    try {
      await client.connect();
      const data = Buffer.concat([...blocks(4 * MiB, 64 * 1024, 7)]);
      // SFTP: each 64 KiB write is acknowledged with a small status reply; cut after ~20 of them.
      // FTP: the server announces the upload's data connection with "150 Ok to send data".
      if (protocol === "sftp") proxy.cutAfter(20 * 28 + 4096);
      else proxy.cutOn(/^150 /m);
      await client.putBytes(`${dir}/up.bin`, data);
      expect(createHash("sha256").update(await direct.getBytes(`${dir}/up.bin`)).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    } finally {
      await client.close();
    }
  });

  it("fails a stream with a typed FTP_CONNECTION error, and the client recovers", async () => {
    const client = new ftp.Client(optionsFor(protocol, { port: proxy.port }));
    try {
      const stream = await client.getBytesAsStream(`${dir}/big.bin`);
      let received = 0;
      const failure = await (async () => {
        try {
          for await (const block of stream) {
            received += block.length;
            if (received >= MiB && received - block.length < MiB) proxy.cut();
          }
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(failure).toBeInstanceOf(ftp.FtpError);
      expect(failure).toMatchObject({ code: "FTP_CONNECTION", path: `${dir}/big.bin` });
      expect((failure as ftp.FtpError).transient).toBe(true);
      expect(received).toBeLessThan(SIZE);
      // The next call opens a new connection.
      expect(await client.size(`${dir}/big.bin`)).toBe(SIZE);
    } finally {
      await client.close();
    }
  });

  it("gives up after the retries with FTP_CONNECTION while the server stays down", async () => {
    const client = new ftp.Client(optionsFor(protocol, { port: proxy.port, retry: { maxAttempts: 2, initialDelayMs: 20 } }));
    try {
      await client.connect();
      proxy.down();
      await expect(client.getBytes(`${dir}/big.bin`)).rejects.toMatchObject({ code: "FTP_CONNECTION" });
      proxy.up();
      expect(await client.exists(`${dir}/big.bin`)).toBe(true);
    } finally {
      proxy.up();
      await client.close();
    }
  });
});
