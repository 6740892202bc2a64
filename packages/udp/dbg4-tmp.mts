import { PirouetteError, PayloadBindingError, json } from "@pirouette/core";
let t = performance.now();
for (let i = 0; i < 10000; i++) new PirouetteError("X", "m");
console.log("PirouetteError", ((performance.now() - t) * 100).toFixed(1), "ns/each");
t = performance.now();
for (let i = 0; i < 10000; i++) new Error("m");
console.log("Error", ((performance.now() - t) * 100).toFixed(1), "ns/each");
const c = json();
t = performance.now();
for (let i = 0; i < 10000; i++) { try { c.decode(Buffer.from("garbage")); } catch {} }
console.log("json decode garbage", ((performance.now() - t) * 100).toFixed(1), "ns/each");
console.log(Error.stackTraceLimit, typeof Error.prepareStackTrace);
