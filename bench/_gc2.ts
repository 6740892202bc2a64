import net from "node:net";
import { PerformanceObserver } from "node:perf_hooks";
import * as tcp from "../packages/tcp/src/index.ts";
let gcMs = 0;
new PerformanceObserver((l) => { for (const e of l.getEntries()) gcMs += e.duration; }).observe({ entryTypes: ["gc"] });
const total = 512 * 1024 * 1024;
const chunk = Buffer.alloc(65536);
let got = 0; let done: () => void = () => undefined;
const l = new tcp.Listener(0, { localHost: "127.0.0.1" });
await l.attach({ onBytes: (d) => { got += d.length; if (got >= total) done(); } });
await l.start();
for (let trial = 0; trial < 4; trial++) {
  if (process.argv[2] === "gc") (globalThis as any).gc();
  got = 0; const p = new Promise<void>((r) => (done = r));
  const s = net.connect({ port: l.port, host: "127.0.0.1", noDelay: true }); await new Promise((r) => s.once("connect", r));
  const g0 = gcMs; const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let x = 0; x < total; x += 65536) if (!s.write(chunk)) await new Promise((r) => s.once("drain", r));
  await p; const cu = process.cpuUsage(c0);
  await new Promise((r) => setTimeout(r, 20));
  console.log("HACK", process.env["HACK"], process.argv[2] ?? "", (total / 1048576 / ((performance.now() - t0) / 1000)).toFixed(0), "MiB/s", "gc ms", (gcMs - g0).toFixed(0), "cpu ms", ((cu.user + cu.system) / 1000).toFixed(0));
  s.destroy();
}
await l.immediateStop();
