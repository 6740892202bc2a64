/**
 * The polling listener against the real sshd and vsftpd: exactly-once processing across a
 * restart with afterProcess move, malformed CSV, the stable-size rule, re-uploads, state
 * store, onFileChange / onFileDelete, hostile names and symlinks, streaming content, graceful
 * stop, and a lost connection.
 */
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { PayloadBindingError, payload, service, type Stream } from "@pirouette/core";
import * as ftp from "../src/index.ts";
import { blocks, captureLogger, optionsFor, SFTP_HOST, SFTP_PORT, sha256Of, TcpProxy, uniqueDir, USER, waitFor } from "./helpers.ts";

const MiB = 1024 * 1024;
const FAST = 100;
const MANUAL = 3_600_000;

function listenerFor(protocol: ftp.Protocol, extra: Partial<ftp.FtpListenerOptions> = {}): ftp.Listener {
  return new ftp.Listener({ ...optionsFor(protocol), pollingIntervalMs: FAST, retry: { maxAttempts: 2, initialDelayMs: 10 }, ...extra });
}

const uid = Number(execFileSync("id", ["-u", USER]).toString().trim());
const gid = Number(execFileSync("id", ["-g", USER]).toString().trim());

/** Create a file on the server's disk directly (for names no client would write). */
function localFile(path: string, content: string): void {
  writeFileSync(path, content);
  chownSync(path, uid, gid);
}

describe.each(["sftp", "ftp"] as const)("%s listener", (protocol) => {
  let client: ftp.Client;
  const dirs: string[] = [];

  const newDir = async (prefix: string): Promise<string> => {
    const d = uniqueDir(`${prefix}-${protocol}`);
    await client.mkdir(d);
    dirs.push(d);
    return d;
  };

  beforeAll(() => {
    client = new ftp.Client(optionsFor(protocol));
  });

  afterAll(async () => {
    for (const d of dirs) await client.rmdir(d, { recursive: true }).catch(() => undefined);
    await client.close();
  });

  it("processes each new file exactly once across a restart, moving it to processed/", async () => {
    const dir = await newDir("once");
    await client.putCsv(`${dir}/a.csv`, [{ id: "a1" }, { id: "a2" }]);
    await client.putCsv(`${dir}/b.csv`, [{ id: "b1" }]);
    const seen: string[] = [];
    const ids: string[] = [];
    const make = (): ftp.Listener => {
      const listener = listenerFor(protocol);
      @service(listener)
      @ftp.ServiceConfig({ path: dir, fileNamePattern: "*.csv", afterProcess: { moveTo: "processed" } })
      class Ingest {
        @payload(z.array(z.object({ id: z.string() })))
        onFileCsv(rows: { id: string }[], file: ftp.FileInfo) {
          seen.push(file.name);
          ids.push(...rows.map((r) => r.id));
        }
      }
      void Ingest;
      return listener;
    };

    const first = make();
    await first.start();
    await waitFor(async () => (await client.list(`${dir}/processed`).catch(() => [])).length === 2, "a.csv and b.csv moved");
    await client.putCsv(`${dir}/c.csv`, [{ id: "c1" }]);
    await waitFor(async () => (await client.list(`${dir}/processed`)).length === 3, "c.csv moved");
    await first.gracefulStop();

    await client.putCsv(`${dir}/d.csv`, [{ id: "d1" }]); // arrives while no listener runs
    const second = make();
    await second.start();
    await waitFor(async () => (await client.list(`${dir}/processed`)).length === 4, "d.csv moved");
    for (let i = 0; i < 3; i++) await second.poll(); // nothing more to do
    await second.gracefulStop();

    expect(seen.sort()).toEqual(["a.csv", "b.csv", "c.csv", "d.csv"]);
    expect(ids.sort()).toEqual(["a1", "a2", "b1", "c1", "d1"]);
    expect((await client.list(dir)).filter((f) => f.isFile)).toEqual([]);
    expect((await client.list(`${dir}/processed`)).map((f) => f.name).sort()).toEqual(["a.csv", "b.csv", "c.csv", "d.csv"]);
  });

  it("reports malformed CSV to onError with the file path, and moves it to errors/", async () => {
    const dir = await newDir("badcsv");
    await client.putText(`${dir}/good.csv`, "id,qty\nx,1\n");
    await client.putText(`${dir}/bad.csv`, 'id,qty\n"x,1\ny,2\n');
    const handled: string[] = [];
    const errors: { err: Error; file: ftp.FileInfo | undefined }[] = [];
    const listener = listenerFor(protocol);
    await listener.attach(
      {
        onFileCsv: (_rows: unknown[], file: ftp.FileInfo) => void handled.push(file.name),
        onError: (err: Error, file?: ftp.FileInfo) => void errors.push({ err, file }),
      },
      { path: dir, afterProcess: { moveTo: `${dir}/done` }, afterError: { moveTo: `${dir}/errors` } },
    );
    await listener.start();
    try {
      await waitFor(async () => (await client.exists(`${dir}/errors/bad.csv`)) && (await client.exists(`${dir}/done/good.csv`)), "both files moved");
    } finally {
      await listener.gracefulStop();
    }
    expect(handled).toEqual(["good.csv"]);
    expect(errors).toHaveLength(1); // a binding failure is not retried
    const { err, file } = errors[0]!;
    expect(err).toBeInstanceOf(PayloadBindingError);
    expect(err.message).toContain(`${dir}/bad.csv`);
    expect((err as PayloadBindingError).coordinates).toMatchObject({ path: `${dir}/bad.csv` });
    expect(file?.path).toBe(`${dir}/bad.csv`);
  });

  it("takes a growing file only once its size is stable across two polls", async () => {
    const dir = await newDir("stable");
    const got: string[] = [];
    const listener = listenerFor(protocol, { pollingIntervalMs: MANUAL });
    await listener.attach({ onFileText: (text: string) => void got.push(text) }, { path: dir });
    await listener.start();
    try {
      await listener.poll(); // the start's own first poll is over after this
      await client.putText(`${dir}/log.txt`, "part one\n");
      await listener.poll(); // seen
      await client.appendText(`${dir}/log.txt`, "part two\n");
      await listener.poll(); // grew: still waiting
      await listener.poll(); // stable now: handed over
      await waitFor(() => got.length === 1, "the file to be handled");
      expect(got).toEqual(["part one\npart two\n"]);
    } finally {
      await listener.gracefulStop();
    }
    // Between the growing polls nothing was handled: the only call saw the whole file.
  });

  it("fires again for a re-upload under the same name, and not for an unchanged file", async () => {
    const dir = await newDir("reupload");
    const got: string[] = [];
    const listener = listenerFor(protocol, { pollingIntervalMs: MANUAL });
    await listener.attach({ onFileText: (text: string) => void got.push(text) }, { path: dir });
    await listener.start();
    try {
      await listener.poll();
      await client.putText(`${dir}/x.txt`, "one");
      await listener.poll();
      await listener.poll();
      await waitFor(() => got.length === 1, "the first upload");
      await listener.poll();
      await listener.poll();
      expect(got).toEqual(["one"]);
      await client.putText(`${dir}/x.txt`, "second");
      await listener.poll();
      await listener.poll();
      await waitFor(() => got.length === 2, "the re-upload");
      expect(got).toEqual(["one", "second"]);
    } finally {
      await listener.gracefulStop();
    }
  });

  it("remembers processed files across a restart with a state store; initialFiles: skip ignores old files", async () => {
    const dir = await newDir("store");
    const stateFile = join(mkdtempSync(join(tmpdir(), "pirouette-ftp-")), "state.json");
    await client.putText(`${dir}/old.txt`, "old");
    const got: string[] = [];
    const run = async (options: Partial<ftp.FtpListenerOptions>, expectCount: number): Promise<void> => {
      const l = listenerFor(protocol, options);
      await l.attach({ onFileText: (_t: string, f: ftp.FileInfo) => void got.push(f.name) }, { path: dir });
      await l.start();
      try {
        await waitFor(() => got.length >= expectCount, `${expectCount} files handled`);
        for (let i = 0; i < 3; i++) await l.poll();
      } finally {
        await l.gracefulStop();
      }
    };
    await run({ stateStore: ftp.fileStateStore(stateFile) }, 1);
    expect(got).toEqual(["old.txt"]);
    await client.putText(`${dir}/new.txt`, "new");
    await run({ stateStore: ftp.fileStateStore(stateFile) }, 2);
    expect(got).toEqual(["old.txt", "new.txt"]); // old.txt not again
    await run({ initialFiles: "skip" }, 2);
    await client.putText(`${dir}/later.txt`, "later");
    const l = listenerFor(protocol, { initialFiles: "skip" });
    await l.attach({ onFileText: (_t: string, f: ftp.FileInfo) => void got.push(f.name) }, { path: dir });
    await l.start();
    await l.poll(); // the first poll is over: what it saw counts as old
    await client.putText(`${dir}/after-start.txt`, "x");
    try {
      await waitFor(() => got.includes("after-start.txt"), "the file uploaded after start");
    } finally {
      await l.gracefulStop();
    }
    expect(got).toEqual(["old.txt", "new.txt", "after-start.txt"]);
  });

  it("reports added and deleted files to onFileChange, and deletions to onFileDelete", async () => {
    const dir = await newDir("change");
    const events: ftp.WatchEvent[] = [];
    const deleted: string[] = [];
    const listener = listenerFor(protocol);
    await listener.attach({ onFileChange: (e: ftp.WatchEvent) => void events.push(e) }, { path: dir, fileNamePattern: "*.txt" });
    await listener.attach({ onFileText: () => undefined, onFileDelete: (p: string) => void deleted.push(p) }, { path: dir, fileNamePattern: /\.txt$/ });
    await listener.start();
    try {
      await client.putText(`${dir}/one.txt`, "1");
      await client.putText(`${dir}/two.txt`, "22");
      await client.putText(`${dir}/skip.bin`, "not matched");
      await waitFor(() => events.flatMap((e) => e.addedFiles).length === 2, "two added files");
      await client.delete(`${dir}/one.txt`);
      await waitFor(() => events.some((e) => e.deletedFiles.length > 0) && deleted.length > 0, "the deletion");
    } finally {
      await listener.gracefulStop();
    }
    const added = events.flatMap((e) => e.addedFiles);
    expect(added.map((f) => f.name).sort()).toEqual(["one.txt", "two.txt"]);
    expect(added.find((f) => f.name === "two.txt")).toMatchObject({ path: `${dir}/two.txt`, size: 2, isFile: true, extension: "txt" });
    expect(events.flatMap((e) => e.deletedFiles)).toEqual([`${dir}/one.txt`]);
    expect(deleted).toEqual([`${dir}/one.txt`]);
  });

  it("never processes hostile names or symlinks leading outside, and tells onError (FTP_PATH)", async () => {
    const dir = await newDir("hostile");
    await client.putText(`${dir}/good.csv`, "id\n1\n");
    localFile(`${dir}/..\\evil.csv`, "id\nevil\n");
    if (protocol === "sftp") localFile(`${dir}/new\nline.csv`, "id\nevil\n");
    symlinkSync("/etc/passwd", `${dir}/passwd.csv`);
    symlinkSync("../../../etc/passwd", `${dir}/relative.csv`);
    symlinkSync("good.csv", `${dir}/alias.csv`); // stays inside: fine
    const handled: string[] = [];
    const errors: ftp.FtpError[] = [];
    const listener = listenerFor(protocol);
    await listener.attach(
      {
        onFileCsv: (rows: { id: string }[], file: ftp.FileInfo) => void handled.push(`${file.name}=${rows.map((r) => r.id).join()}`),
        onError: (e: Error) => void errors.push(e as ftp.FtpError),
      },
      { path: dir },
    );
    await listener.start();
    const expectedErrors = protocol === "sftp" ? 4 : 3;
    try {
      await waitFor(() => handled.length === 2 && errors.length >= expectedErrors, "good files handled and hostile ones reported");
      for (let i = 0; i < 3; i++) await listener.poll();
    } finally {
      await listener.gracefulStop();
    }
    expect(handled.sort()).toEqual(["alias.csv=1", "good.csv=1"]);
    expect(errors.every((e) => ftp.FtpError.isFtpError(e) && e.code === "FTP_PATH")).toBe(true);
    expect(errors).toHaveLength(expectedErrors); // each reported once, not on every poll
    const messages = errors.map((e) => e.message).join("\n");
    expect(messages).toContain("a path separator");
    expect(messages).toContain("passwd.csv");
    expect(messages).toContain("relative.csv");
    if (protocol === "sftp") expect(messages).toContain("a control character");
  });

  it("streams big files to onFile with content: stream, and lets handlers use the caller", async () => {
    const dir = await newDir("stream");
    await client.mkdir(`${dir}/out`);
    const size = 4 * MiB;
    await client.putBytesAsStream(`${dir}/big.bin`, blocks(size));
    const results: string[] = [];
    const listener = listenerFor(protocol);
    await listener.attach(
      {
        async onFile(content: Stream<Uint8Array, ftp.FtpError>, file: ftp.FileInfo, caller: ftp.Caller) {
          const chunks: Uint8Array[] = [];
          for await (const b of content) chunks.push(b);
          const digest = sha256Of(chunks);
          results.push(digest);
          await caller.putJson(`${dir}/out/${file.name}.json`, { sha256: digest });
        },
      },
      { path: dir, fileNamePattern: "*.bin", content: "stream", afterProcess: "delete" },
    );
    await listener.start();
    try {
      await waitFor(async () => results.length === 1 && !(await client.exists(`${dir}/big.bin`)), "the file handled and deleted");
    } finally {
      await listener.gracefulStop();
    }
    expect(results).toEqual([sha256Of(blocks(size))]);
    expect(await client.getJson(`${dir}/out/big.bin.json`)).toEqual({ sha256: results[0] });
  });

  it("drains an in-flight file on graceful stop: the handler finishes and the file is moved", async () => {
    const dir = await newDir("drain");
    await client.putText(`${dir}/slow.txt`, "slow");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    let finished = false;
    const listener = listenerFor(protocol);
    await listener.attach(
      {
        async onFileText() {
          started = true;
          await gate;
          finished = true;
        },
      },
      { path: dir, afterProcess: { moveTo: "done" } },
    );
    await listener.start();
    await waitFor(() => started, "the handler to start");
    const stopping = listener.gracefulStop();
    setTimeout(release, 200);
    await stopping;
    expect(finished).toBe(true);
    expect(await client.exists(`${dir}/done/slow.txt`)).toBe(true);
    expect(await client.exists(`${dir}/slow.txt`)).toBe(false);
  });

  it("retries a failing handler, then applies afterError", async () => {
    const dir = await newDir("retry");
    await client.putText(`${dir}/flaky.json`, '{"n":1}');
    await client.putText(`${dir}/doomed.json`, '{"n":2}');
    let flakyCalls = 0;
    let doomedCalls = 0;
    const errors: string[] = [];
    const listener = listenerFor(protocol, { retry: { maxAttempts: 3, initialDelayMs: 10 } });
    await listener.attach(
      {
        onFileJson(_v: unknown, file: ftp.FileInfo) {
          if (file.name === "flaky.json" && ++flakyCalls < 2) throw new Error("transient");
          if (file.name === "doomed.json") {
            doomedCalls++;
            throw new Error("always");
          }
        },
        onError: (e: Error, file?: ftp.FileInfo) => void errors.push(`${file?.name}: ${e.message}`),
      },
      { path: dir, afterProcess: { moveTo: "ok" }, afterError: { moveTo: "failed" } },
    );
    await listener.start();
    try {
      await waitFor(async () => (await client.exists(`${dir}/ok/flaky.json`)) && (await client.exists(`${dir}/failed/doomed.json`)), "both files settled");
    } finally {
      await listener.gracefulStop();
    }
    expect(flakyCalls).toBe(2);
    expect(doomedCalls).toBe(3);
    expect(errors).toEqual(["doomed.json: always"]);
  });
});

describe("sftp listener and a lost connection", () => {
  it("reports a failed poll once, and picks up files when the server is back", async () => {
    const client = new ftp.Client(optionsFor("sftp"));
    const dir = uniqueDir("lost-sftp");
    await client.mkdir(dir);
    const proxy = await new TcpProxy(SFTP_HOST, SFTP_PORT).start();
    const logger = captureLogger();
    const listener = listenerFor("sftp", { port: proxy.port, logger, clientRetry: { maxAttempts: 2, initialDelayMs: 10 } });
    const errors: string[] = [];
    const got: string[] = [];
    await listener.attach({ onFileText: (t: string) => void got.push(t), onError: (e: Error) => void errors.push((e as ftp.FtpError).code) }, { path: dir });
    try {
      await listener.start();
      proxy.down();
      await waitFor(() => errors.length > 0, "the failed poll to be reported");
      for (let i = 0; i < 3; i++) await listener.poll();
      expect(errors).toEqual(["FTP_CONNECTION"]); // once, not on every poll
      await client.putText(`${dir}/back.txt`, "back");
      proxy.up();
      await waitFor(() => got.length === 1, "the file after the server came back");
      expect(got).toEqual(["back"]);
    } finally {
      await listener.gracefulStop();
      await proxy.close();
      await client.rmdir(dir, { recursive: true }).catch(() => undefined);
      await client.close();
    }
  });
});
