import { Dispatcher } from "@pirouette/core";
const d = new Dispatcher<number>({ telemetry: { system: "x" }, invoke: () => undefined, reportError: () => undefined, concurrency: 4, maxInFlight: 1e9 });
let acked = false;
void d.submit({ message: 1, destination: "x", coordinates: {}, ack: () => { acked = true; }, reject: () => undefined });
console.log("acked synchronously:", acked);
