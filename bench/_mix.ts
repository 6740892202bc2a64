import net from "node:net";
import * as tcp from "../packages/tcp/src/index.ts";
const total = 512 * 1024 * 1024;
const chunk = Buffer.alloc(65536);
const mode = process.argv[2];
let got = 0; let done!: () => void; const p = new Promise<void>((r) => (done = r));
let port: number; let stop: () => unknown;
if (mode === "ourserver") {
  const l = new tcp.Listener(0, { localHost: "127.0.0.1" });
  await l.attach({ onBytes: (d) => { got += d.length; if (got >= total) done(); } });
  await l.start(); port = l.port; stop = () => l.immediateStop();
} else {
  const srv = net.createServer({ noDelay: true }, (s) => s.on("data", (d: Buffer) => { got += d.length; if (got >= total) done(); }));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r)); port = (srv.address() as net.AddressInfo).port; stop = () => srv.close();
}
const t0 = performance.now();
if (mode === "ourclient") {
  const c = new tcp.Client("127.0.0.1", port); await c.connect();
  for (let x = 0; x < total; x += 65536) await c.writeBytes(chunk);
  await p; c.abort();
} else {
  const s = net.connect({ port, host: "127.0.0.1", noDelay: true }); await new Promise((r) => s.once("connect", r));
  for (let x = 0; x < total; x += 65536) if (!s.write(chunk)) await new Promise((r) => s.once("drain", r));
  await p; s.destroy();
}
console.log(mode, (total / 1048576 / ((performance.now() - t0) / 1000)).toFixed(0), "MiB/s");
await stop();
