import * as websocket from "@pirouette/websocket";
import { WebSocket } from "ws";
let count = 0;
const l = new websocket.Listener(0, { host: "127.0.0.1", pingIntervalMs: 0 });
await l.attach({ onTextMessage: () => { count++; } }, "/count");
await l.start();
const ws = new WebSocket(`ws://127.0.0.1:${l.port}/count`);
await new Promise(r => ws.once("open", r));
const M = "m".repeat(100);
const N = 200000;
const t0 = Date.now();
for (let i = 0; i < N; i++) { if (ws.bufferedAmount >= 65536) await new Promise<void>(r => ws.send(M, () => r())); else ws.send(M); }
while (count < N) await new Promise(r => setTimeout(r, 5));
console.log("count", count, Date.now() - t0, "ms");
process.exit(0);
