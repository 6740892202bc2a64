/**
 * Faults against the real broker: a consuming process killed with SIGKILL mid-batch, a member of
 * a two-process group killed mid-stream, and the broker frozen (SIGSTOP) then resumed under
 * load. Each test keeps a ledger of ids and asserts that none is lost.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import * as kafka from "../src/index.ts";
import { BROKERS, FAST, REPO, brokerPid, captureLogger, cleanup, createTopic, expectCommittedAtEnd, produceRaw, sleep, unique, waitFor } from "./helpers.ts";

const FIXTURE = join(REPO, "packages", "kafka", "test", "fixtures", "listener-child.ts");

interface Child {
  readonly proc: ChildProcess;
  readonly seen: number[];
  ready: boolean;
  stderr: string;
}

const children: Child[] = [];

function startChild(topic: string, groupId: string, delayMs: number): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", FIXTURE, topic, groupId, String(delayMs)], {
    cwd: REPO,
    env: { ...process.env, KAFKA_BROKERS: BROKERS },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const child: Child = { proc, seen: [], ready: false, stderr: "" };
  let buf = "";
  proc.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === "ready") child.ready = true;
      else if (line.startsWith("r ")) child.seen.push(Number(line.slice(2)));
    }
  });
  proc.stderr?.on("data", (d: Buffer) => {
    child.stderr += d.toString();
  });
  children.push(child);
  return child;
}

function exited(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => c.proc.once("exit", () => resolve()));
}

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
    await exited(c);
  }
});
afterAll(cleanup);

const union = (...cs: Child[]): Set<number> => new Set(cs.flatMap((c) => c.seen));
const duplicates = (...cs: Child[]): number => cs.reduce((n, c) => n + c.seen.length, 0) - union(...cs).size;

describe("at least once", () => {
  test("SIGKILL the consuming process mid-batch, restart it: 0 lost", async () => {
    const topic = await createTopic(4);
    const N = 600;
    await produceRaw(topic, Array.from({ length: N }, (_, i) => String(i)), { keys: 12 });
    const groupId = unique("g");
    const first = startChild(topic, groupId, 40);
    await waitFor(() => first.seen.length >= 150, `the first process to handle 150 records (stderr: ${first.stderr})`, 30_000);
    first.proc.kill("SIGKILL");
    await exited(first);
    expect(first.seen.length).toBeLessThan(N);

    const second = startChild(topic, groupId, 0);
    await waitFor(() => union(first, second).size === N, "every record after the restart", 40_000);
    const dup = duplicates(first, second);
    // Redelivered: what the first process handled after its last commit (commits come at least
    // every 250 ms here: at most about 2 partitions × 6 chunks × 10 records).
    expect(dup).toBeLessThanOrEqual(200);
    second.proc.kill("SIGTERM");
    await exited(second);
    await expectCommittedAtEnd(groupId, topic);
  }, 60_000);

  test("two listener processes in one group, SIGKILL one mid-stream: the other takes over, 0 lost", async () => {
    const topic = await createTopic(4);
    const N = 800;
    await produceRaw(topic, Array.from({ length: N }, (_, i) => String(i)), { keys: 16 });
    const groupId = unique("g");
    const a = startChild(topic, groupId, 40);
    const b = startChild(topic, groupId, 40);
    await waitFor(() => a.ready && b.ready && a.seen.length >= 50 && b.seen.length >= 50, "both members handling records", 30_000);
    a.proc.kill("SIGKILL");
    await exited(a);
    await waitFor(() => union(a, b).size === N, `every record (seen ${union(a, b).size})`, 40_000);
    expect(duplicates(a, b)).toBeLessThanOrEqual(200);
    b.proc.kill("SIGTERM");
    await exited(b);
    await expectCommittedAtEnd(groupId, topic);
  }, 60_000);
});

describe("broker faults", () => {
  test("the broker frozen for 5 s under load, then resumed: every acknowledged record is consumed, no unhandled errors", async () => {
    const topic = await createTopic(3);
    const groupId = unique("g");
    const seen = new Set<number>();
    const errors: Error[] = [];
    const listener = new kafka.Listener(BROKERS, {
      ...FAST,
      groupId,
      topics: topic,
      concurrency: 3,
      requestTimeoutMs: 15_000,
      logger: captureLogger(),
    });
    await listener.attach(
      { onConsumerRecord: (ids: number[]) => void ids.forEach((i) => seen.add(i)), onError: (e: Error) => void errors.push(e) },
      { mode: "payload" },
    );
    const producer = new kafka.Producer(BROKERS, { idempotent: true, requestTimeoutMs: 15_000, logger: captureLogger() });
    await listener.start();

    const acked = new Set<number>();
    const pid = brokerPid();
    let frozen = false;
    try {
      for (let batch = 0; batch < 40; batch++) {
        const ids = Array.from({ length: 50 }, (_, i) => batch * 50 + i);
        if (batch === 10) {
          process.kill(pid, "SIGSTOP");
          frozen = true;
          setTimeout(() => {
            if (frozen) {
              process.kill(pid, "SIGCONT");
              frozen = false;
            }
          }, 5000).unref();
        }
        try {
          await producer.sendBatch(ids.map((i) => ({ topic, key: String(i % 9), value: i })));
          for (const i of ids) acked.add(i);
        } catch {
          // Not acknowledged: may or may not be stored; only acknowledged ids are counted.
        }
        await sleep(20);
      }
    } finally {
      if (frozen) process.kill(pid, "SIGCONT");
      frozen = false;
    }
    expect(acked.size).toBeGreaterThan(1500);
    await waitFor(() => [...acked].every((i) => seen.has(i)), `every acknowledged record (${seen.size} seen, ${acked.size} acked)`, 60_000);
    await producer.close();
    await listener.gracefulStop();
    for (const e of errors) expect(e.name).toBe("KafkaError");
  }, 90_000);
});
