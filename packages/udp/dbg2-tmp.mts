import dgram from "node:dgram";
import { json } from "@pirouette/core";
import * as udp from "./src/index.ts";
const Reading = { "~standard": { version: 1 as const, vendor: "t", validate: (v: any) => Number.isInteger(v?.n) ? { value: v } : { issues: [{ message: "bad", path: [] }] } } };
const N = 20000;
for (const mode of (process.argv[2] ?? "raw,codec,schema,codec-garbage,schema-garbage").split(",")) {
  let ok = 0, err = 0;
  const l = new udp.Listener<any>(0, { localHost: "127.0.0.1", ...(mode === "raw" ? {} : { codec: json() }), recvBufferSize: 8 << 20, maxPending: 8192 });
  await l.attach({ onBytes: () => void ok++, onError: () => void err++ }, mode.startsWith("schema") ? { payload: Reading } : {});
  await l.start();
  const s = dgram.createSocket("udp4"); await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const t0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, k) => new Promise<void>((r) => s.send(mode.endsWith("garbage") && (i + k) % 2 ? "garbage" : JSON.stringify({ n: i + k }), l.port, "127.0.0.1", () => r()))));
    const w = performance.now();
    while (ok + err < i + 450 && performance.now() - w < 2000) await new Promise((r) => setImmediate(r));
  }
  console.log(mode, (performance.now() - t0).toFixed(0), "ms", { ok, err, recv: l.receivedDatagrams });
  s.close(); await l.gracefulStop();
}
