import dgram from "node:dgram";
import { json } from "@pirouette/core";
import * as udp from "./src/index.ts";
const Reading = { "~standard": { version: 1 as const, vendor: "t", validate: (v: any) => Number.isInteger(v?.n) ? { value: v } : { issues: [{ message: "bad", path: [] }] } } };
const N = Number(process.argv[2] ?? 4000);
let ok = 0, err = 0;
const l = new udp.Listener<{ n: number }>(0, { localHost: "127.0.0.1", codec: json(), recvBufferSize: 8 << 20, maxPending: 8192 });
await l.attach({ onBytes: () => void ok++, onError: () => void err++ }, { payload: Reading });
await l.start();
const s = dgram.createSocket("udp4"); await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
const t0 = performance.now();
for (let i = 0; i < N; i += 500) {
  await Promise.all(Array.from({ length: 500 }, (_, k) => new Promise<void>((r) => s.send((i + k) % 2 ? "garbage" : JSON.stringify({ n: i + k }), l.port, "127.0.0.1", () => r()))));
  const w = performance.now();
  while (ok + err < i + 450 && performance.now() - w < 2000) await new Promise((r) => setTimeout(r, 1));
}
console.log("sent+handled", N, "in", (performance.now() - t0).toFixed(0), "ms", { ok, err, recv: l.receivedDatagrams, drop: l.droppedDatagrams });
s.send(JSON.stringify({ n: -1 }), l.port, "127.0.0.1");
await new Promise((r) => setTimeout(r, 500));
console.log("after", { ok, err, recv: l.receivedDatagrams });
s.close(); await l.gracefulStop();
