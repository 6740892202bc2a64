import net from "node:net";
const orig = net.Socket.prototype.write;
let calls = 0, bytes = 0;
net.Socket.prototype.write = function (chunk, ...rest) { calls++; bytes += chunk.length; return orig.call(this, chunk, ...rest); };
process.on("exit", () => console.log(`socket writes: ${calls}, bytes ${bytes}`));
