/**
 * A small memory check (the full one, with the 1 GiB file and the 10M-row CSV, is `pnpm bench io`):
 * a 192 MiB file read in child processes, whose peak RSS must not grow with the input. A negative
 * control (the same file collected into an array) shows that the check can fail.
 */
import { execFile } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE = 192 * MiB;
const root = fileURLToPath(new URL("../../..", import.meta.url));
const child = fileURLToPath(new URL("./fixtures/memory-child.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pirouette-io-mem-"));
const bin = join(dir, "big.bin");

beforeAll(() => {
  const fd = openSync(bin, "w");
  const piece = Buffer.alloc(4 * MiB, 0x61);
  for (let i = 0; i < SIZE / piece.length; i++) writeSync(fd, piece);
  closeSync(fd);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Figures {
  units: number;
  startMiB: number;
  peakMiB: number;
}

async function measure(mode: string, path: string): Promise<Figures> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", child, mode, path], { cwd: root, maxBuffer: MiB });
  return JSON.parse(stdout.trim().split("\n").at(-1) as string) as Figures;
}

describe("memory (child processes)", () => {
  it("reading a 192 MiB file by blocks grows RSS by far less than the file; collecting it does not", async () => {
    const streamed = await measure("blocks", bin);
    expect(streamed.units).toBe(SIZE);
    const control = await measure("to-array", bin);
    expect(control.units).toBe(SIZE / 65_536);
    // streamed: Buffers are freed by GC as they go (V8 lets external memory grow by up to ~64 MiB
    // before collecting); holding every block costs the whole file
    expect(streamed.peakMiB - streamed.startMiB).toBeLessThan(120);
    expect(control.peakMiB - control.startMiB).toBeGreaterThan(170);
  }, 60_000);

  it("a slow consumer stays within the same bound", async () => {
    const slow = await measure("blocks-slow", bin);
    expect(slow.units).toBe(SIZE);
    expect(slow.peakMiB - slow.startMiB).toBeLessThan(120);
  }, 60_000);
});
