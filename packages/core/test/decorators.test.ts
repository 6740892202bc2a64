// Decorators in both TypeScript compile modes. The fixture (fixtures/decorators/service.ts) is
// compiled by tsc once with legacy `experimentalDecorators` and once with standard (TC39)
// decorators; the emitted JavaScript is imported and driven through the in-memory broker.
// bad-payload.ts is compiled alongside and must be the only file with errors.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));
const coreDir = fileURLToPath(new URL("..", import.meta.url));
const fixtures = fileURLToPath(new URL("./fixtures/decorators/", import.meta.url));
const tsc = join(root, "node_modules", ".bin", "tsc");

const modes = ["legacy", "standard"] as const;
type Mode = (typeof modes)[number];

interface Compiled {
  readonly out: string;
  readonly exitCode: number;
  readonly diagnostics: string;
}

/** The emitted fixture module's shape (see fixtures/decorators/service.ts). */
interface FixtureModule {
  readonly broker: { pending(topic: string, group: string): number };
  readonly listener: { start(): Promise<void>; gracefulStop(): Promise<void>; state: string };
  readonly received: unknown[];
  readonly errors: Error[];
  readonly PayloadValidationError: new (...args: never[]) => Error;
  misordered(): string;
  readonly introspection: { config: unknown; hasSchema: boolean; noSchemaOnError: boolean; batchSchema: boolean };
}
interface CoreModule {
  readonly memory: {
    Client: new (o: { broker: unknown }) => {
      publish(topic: string, value: unknown): Promise<number>;
      request(topic: string, value: unknown): Promise<{ value: Uint8Array }>;
    };
  };
}

async function compile(mode: Mode): Promise<Compiled> {
  const out = await mkdtemp(join(tmpdir(), `pirouette-decorators-${mode}-`));
  // Bare imports of the emitted code (zod, p-retry, reflect-metadata…) resolve as from packages/core.
  await symlink(join(coreDir, "node_modules"), join(out, "node_modules"), "dir");
  try {
    await run(tsc, ["-p", join(fixtures, `tsconfig.${mode}.json`), "--outDir", out, "--pretty", "false"], { cwd: root });
    return { out, exitCode: 0, diagnostics: "" };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { out, exitCode: typeof err.code === "number" ? err.code : -1, diagnostics: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

const compiled = new Map<Mode, Compiled>();
beforeAll(async () => {
  const results = await Promise.all(modes.map(async (m) => [m, await compile(m)] as const));
  for (const [m, c] of results) compiled.set(m, c);
}, 240_000);
afterAll(async () => {
  await Promise.all([...compiled.values()].map((c) => rm(c.out, { recursive: true, force: true })));
});

const waitFor = (fn: () => void): Promise<void> => vi.waitFor(fn, { timeout: 10_000, interval: 5 });

describe.each(modes)("%s decorators", (mode) => {
  const get = (): Compiled => compiled.get(mode)!;
  const load = async <T>(rel: string): Promise<T> => (await import(/* @vite-ignore */ pathToFileURL(join(get().out, rel)).href)) as T;

  test("tsc rejects a @payload whose schema output the handler does not accept, at the decorator", async () => {
    const { exitCode, diagnostics } = get();
    expect(exitCode).not.toBe(0);
    const errors = diagnostics.split("\n").filter((l) => /: error TS\d+:/.test(l));
    expect(errors.length).toBeGreaterThan(0);
    const source = await readFile(join(fixtures, "bad-payload.ts"), "utf8");
    const decoratorLines = source.split("\n").flatMap((l, i) => (l.includes("@payload(Order)") ? [i + 1] : []));
    expect(decoratorLines).toHaveLength(2); // one method, one batch method
    const at = (e: string): number => Number(/bad-payload\.ts\((\d+),\d+\): error TS1241: .*decorator/.exec(e)?.[1]);
    expect([...new Set(errors.map(at))]).toEqual(decoratorLines);
    // service.ts (and the core sources it pulls in) compile cleanly.
    expect(diagnostics).not.toContain("service.ts");
    expect(diagnostics).toMatch(/Type 'number' is not assignable to type 'string'/);
  });

  test("the emitted code uses this mode's decorator transform", async () => {
    const js = await readFile(join(get().out, "test/fixtures/decorators/service.js"), "utf8");
    if (mode === "legacy") {
      expect(js).toContain("__decorate(");
      expect(js).not.toContain("__esDecorate(");
    } else {
      expect(js).toContain("__esDecorate(");
      expect(js).not.toContain("__decorate(");
    }
  });

  test("@service attaches with @memory.ServiceConfig; @payload validates and transforms the payload", async () => {
    const fx = await load<FixtureModule>("test/fixtures/decorators/service.js");
    const core = await load<CoreModule>("src/index.js");
    const client = new core.memory.Client({ broker: fx.broker });
    expect(fx.introspection).toEqual({ config: { topic: "orders" }, hasSchema: true, noSchemaOnError: true, batchSchema: true });
    await fx.listener.start();
    await client.publish("orders", { id: "7" });
    await client.publish("orders", { id: "not a number" });
    await client.publish("notes", JSON.stringify("a note")); // JSON text of a string
    await client.publish("notes", JSON.stringify("")); // fails min(1); NoteService has no onError
    const reply = await client.request("orders", { id: 3, note: "n" });
    expect(JSON.parse(Buffer.from(reply.value).toString("utf8"))).toEqual({ ok: 3 });
    await waitFor(() => expect(fx.received).toHaveLength(3));
    expect(fx.received).toEqual([
      { kind: "order", order: { id: 7, note: "none" }, topic: "orders", attempt: 1 },
      { kind: "note", note: "a note" },
      { kind: "order", order: { id: 3, note: "n" }, topic: "orders", attempt: 1 },
    ]);
    expect(fx.errors).toHaveLength(1);
    const err = fx.errors[0]!;
    expect(err).toBeInstanceOf(fx.PayloadValidationError);
    expect(err).toMatchObject({ code: "PAYLOAD_VALIDATION", coordinates: { topic: "orders", offset: 1 } });
    await waitFor(() => expect(fx.broker.pending("orders", "decorated") + fx.broker.pending("notes", "decorated")).toBe(0));
    await fx.listener.gracefulStop();
  });

  test("ServiceConfig written above @service", async () => {
    const fx = await load<FixtureModule>("test/fixtures/decorators/service.js");
    const outcome = fx.misordered();
    if (mode === "legacy") {
      // Legacy decorators apply bottom-up: @service already attached when ServiceConfig runs.
      expect(outcome).toMatch(/^threw INVALID_SERVICE: Misordered: the ServiceConfig decorator must be written below @service/);
    } else {
      // Standard decorators attach in a class initializer, after every decorator ran.
      expect(outcome).toBe('attached undefined; config {"topic":"misordered"}');
    }
  });
});
