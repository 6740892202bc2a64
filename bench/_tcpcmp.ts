import net from "node:net";
import * as tcp from "../packages/tcp/src/index.ts";
const total = 256 * 1024 * 1024;
const chunk = Buffer.alloc(65536);
async function raw(): Promise<[number, number]> {
  let got = 0; let done!: () => void; const p = new Promise<void>((r) => (done = r));
  const srv = net.createServer({ noDelay: true }, (s) => s.on("data", (d: Buffer) => { got += d.length; if (got >= total) done(); }));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const s = net.connect({ port: (srv.address() as net.AddressInfo).port, host: "127.0.0.1", noDelay: true });
  await new Promise((r) => s.once("connect", r));
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let x = 0; x < total; x += 65536) if (!s.write(chunk)) await new Promise((r) => s.once("drain", r));
  await p;
  const t = performance.now() - t0; const c = process.cpuUsage(c0);
  s.destroy(); srv.close();
  return [total / 1048576 / (t / 1000), (c.user + c.system) / (total / 1048576)];
}
async function ours(): Promise<[number, number]> {
  let got = 0; let done!: () => void; const p = new Promise<void>((r) => (done = r));
  const l = new tcp.Listener(0, { localHost: "127.0.0.1" });
  await l.attach({ onBytes: (d) => { got += d.length; if (got >= total) done(); } });
  await l.start();
  const c = new tcp.Client("127.0.0.1", l.port); await c.connect();
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let x = 0; x < total; x += 65536) await c.writeBytes(chunk);
  await p;
  const t = performance.now() - t0; const cu = process.cpuUsage(c0);
  await c.close(); await l.immediateStop();
  return [total / 1048576 / (t / 1000), (cu.user + cu.system) / (total / 1048576)];
}
for (let i = 0; i < 4; i++) {
  for (const [n, f] of [["raw", raw], ["ours", ours]] as const) { globalThis.gc?.(); const [mbs, cpu] = await f(); console.log(n, mbs.toFixed(0), "MiB/s", cpu.toFixed(0), "cpu µs/MiB"); }
}
