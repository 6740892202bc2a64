/**
 * Interop with clients we did not write: OpenSSH's `sftp` (key auth, strict host key
 * checking) and `curl` over FTP, in both directions.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ftp from "../src/index.ts";
import { blocks, exec, FTP_HOST, FTP_PORT, knownHostsLine, optionsFor, PASSWORD, sftpBatch, uniqueDir, USER, waitFor } from "./helpers.ts";

const MiB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe("interop", () => {
  let local: string;
  let knownHosts: string;
  const cleanup: { client: ftp.Client; dir: string }[] = [];

  beforeAll(() => {
    local = mkdtempSync(join(tmpdir(), "pirouette-ftp-interop-"));
    knownHosts = join(local, "known_hosts");
    writeFileSync(knownHosts, `${knownHostsLine()}\n`);
  });

  afterAll(async () => {
    for (const { client, dir } of cleanup) {
      await client.rmdir(dir, { recursive: true }).catch(() => undefined);
      await client.close();
    }
  });

  it("OpenSSH sftp uploads a CSV that our listener ingests, and fetches a file we uploaded", async () => {
    const client = new ftp.Client(optionsFor("sftp"));
    const dir = uniqueDir("interop-sftp");
    cleanup.push({ client, dir });
    await client.mkdir(dir);

    const csvFile = join(local, "orders.csv");
    writeFileSync(csvFile, "id,amount\no1,10\no2,32.5\n");
    const rows: Record<string, string>[] = [];
    const listener = new ftp.Listener({ ...optionsFor("sftp"), pollingIntervalMs: 100 });
    await listener.attach(
      { onFileCsv: (r: Record<string, string>[]) => void rows.push(...r) },
      { path: dir, fileNamePattern: "*.csv", afterProcess: { moveTo: "processed" } },
    );
    await listener.start();
    try {
      // The usual safe-upload pattern: write under a temporary name, rename when complete.
      await sftpBatch([`put ${csvFile} ${dir}/orders.csv.part`, `rename ${dir}/orders.csv.part ${dir}/orders.csv`], knownHosts);
      await waitFor(async () => rows.length === 2 && (await client.exists(`${dir}/processed/orders.csv`)), "the upload ingested and moved");
    } finally {
      await listener.gracefulStop();
    }
    expect(rows).toEqual([
      { id: "o1", amount: "10" },
      { id: "o2", amount: "32.5" },
    ]);

    const data = Buffer.concat([...blocks(3 * MiB, 64 * 1024, 11)]);
    await client.putBytesAsStream(`${dir}/ours.bin`, blocks(3 * MiB, 64 * 1024, 11));
    const fetched = join(local, "fetched.bin");
    await sftpBatch([`get ${dir}/ours.bin ${fetched}`], knownHosts);
    expect(sha(readFileSync(fetched))).toBe(sha(data));
  });

  it("curl uploads over FTP for our client to read and our listener to ingest; curl downloads what we wrote", async () => {
    const client = new ftp.Client(optionsFor("ftp"));
    const dir = uniqueDir("interop-ftp");
    cleanup.push({ client, dir });
    await client.mkdir(dir);
    // "%2F": an absolute path (curl otherwise starts from the login directory).
    const base = `ftp://${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}@${FTP_HOST}:${FTP_PORT}/%2F${dir.slice(1)}`;

    const texts: string[] = [];
    const listener = new ftp.Listener({ ...optionsFor("ftp"), pollingIntervalMs: 100 });
    await listener.attach({ onFileText: (t: string) => void texts.push(t) }, { path: dir, fileNamePattern: "*.txt", afterProcess: "delete" });
    await listener.start();
    const note = join(local, "note.txt");
    writeFileSync(note, "uploaded by curl\n");
    try {
      await exec("curl", ["--silent", "--show-error", "--fail", "-T", note, `${base}/note.txt`], { timeout: 30_000 });
      await waitFor(async () => texts.length === 1 && !(await client.exists(`${dir}/note.txt`)), "the curl upload ingested and deleted");
    } finally {
      await listener.gracefulStop();
    }
    expect(texts).toEqual(["uploaded by curl\n"]);

    const big = join(local, "curl-up.bin");
    writeFileSync(big, Buffer.concat([...blocks(2 * MiB, 64 * 1024, 5)]));
    await exec("curl", ["--silent", "--show-error", "--fail", "-T", big, `${base}/curl-up.bin`], { timeout: 30_000 });
    expect(sha(await client.getBytes(`${dir}/curl-up.bin`))).toBe(sha(readFileSync(big)));

    await client.putCsv(`${dir}/ours.csv`, [{ id: "x", n: 1 }]);
    const { stdout } = await exec("curl", ["--silent", "--show-error", "--fail", `${base}/ours.csv`], { timeout: 30_000 });
    expect(stdout).toBe("id,n\nx,1\n");
  });
});
