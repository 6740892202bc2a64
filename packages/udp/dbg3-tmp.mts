import dgram from "node:dgram";
const N = 20000;
let ok = 0;
const r = dgram.createSocket({ type: "udp4", recvBufferSize: 8 << 20 });
r.on("message", () => void ok++);
await new Promise<void>((res) => r.bind(0, "127.0.0.1", res));
const port = r.address().port;
const s = dgram.createSocket("udp4"); await new Promise<void>((res) => s.bind(0, "127.0.0.1", res));
const t0 = performance.now();
for (let i = 0; i < N; i += 500) {
  await Promise.all(Array.from({ length: 500 }, (_, k) => new Promise<void>((res) => s.send(JSON.stringify({ n: i + k }), port, "127.0.0.1", () => res()))));
  const w = performance.now();
  while (ok < i + 450 && performance.now() - w < 2000) await new Promise((res) => setImmediate(res));
}
console.log("raw dgram", (performance.now() - t0).toFixed(0), "ms", ok);
s.close(); r.close();
