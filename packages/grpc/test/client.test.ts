import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import * as grpcJs from "@grpc/grpc-js";
import { Stream } from "@pirouette/core";
import { afterEach, describe, expect, it } from "vitest";
import * as grpc from "../src/index.ts";
import { PROTO, rawGreeter, until, type Greeter, type HelloReply, type HelloRequest } from "./helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A plain grpc-js server (no Pirouette) on a free port. */
async function rawServer(impl: grpcJs.UntypedServiceImplementation): Promise<number> {
  const server = new grpcJs.Server();
  server.addService(rawGreeter().service, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpcJs.ServerCredentials.createInsecure(), (e, p) => (e === null ? resolve(p) : reject(e))),
  );
  cleanup.push(() => server.forceShutdown());
  return port;
}

function client(port: number, options: Partial<grpc.ClientOptions> = {}): grpc.Client<Greeter> {
  const c = new grpc.Client<Greeter>(`127.0.0.1:${port}`, { descriptor: PROTO, service: "Greeter", ...options });
  cleanup.push(() => c.close());
  return c;
}

const rawImpl: grpcJs.UntypedServiceImplementation = {
  SayHello: (call: grpcJs.ServerUnaryCall<HelloRequest, HelloReply>, cb: grpcJs.sendUnaryData<HelloReply>) => {
    if (call.request.name === "nobody") {
      cb({ code: grpcJs.status.NOT_FOUND, details: "nobody here" });
      return;
    }
    const user = call.metadata.get("x-user")[0];
    const md = new grpcJs.Metadata();
    md.set("x-served-by", "raw");
    call.sendMetadata(md);
    cb(null, { message: `Hello ${call.request.name}${user === undefined ? "" : ` (${String(user)})`}` });
  },
  LotsOfReplies: (call: grpcJs.ServerWritableStream<HelloRequest, HelloReply>) => {
    for (let i = 0; i < (call.request.count || 3); i++) call.write({ message: `${i} ${call.request.name}` });
    if (call.request.name === "fail") call.emit("error", { code: grpcJs.status.ABORTED, details: "stopped" });
    else call.end();
  },
  LotsOfGreetings: (call: grpcJs.ServerReadableStream<HelloRequest, HelloReply>, cb: grpcJs.sendUnaryData<HelloReply>) => {
    const names: string[] = [];
    call.on("data", (r: HelloRequest) => names.push(r.name));
    call.on("end", () => cb(null, { message: names.join("+") }));
  },
  BidiHello: (call: grpcJs.ServerDuplexStream<HelloRequest, HelloReply>) => {
    call.on("data", (r: HelloRequest) => call.write({ message: `echo ${r.name}` }));
    call.on("end", () => call.end());
  },
};

describe("grpc.Client against a plain grpc-js server", () => {
  it("makes the four call kinds", async () => {
    const c = client(await rawServer(rawImpl));
    expect(await c.unary("sayHello", { name: "Ann" })).toEqual({ message: "Hello Ann" });
    expect(await c.unary("SayHello" as "sayHello", { name: "Bo" })).toEqual({ message: "Hello Bo" });
    const replies = await c.serverStream("lotsOfReplies", { name: "x", count: 5 }).map((r) => r.message).toArray();
    expect(replies).toEqual(["0 x", "1 x", "2 x", "3 x", "4 x"]);
    expect(await c.clientStream("lotsOfGreetings", Stream.of({ name: "a" }, { name: "b" }, { name: "c" }))).toEqual({ message: "a+b+c" });
    expect(await c.clientStream("lotsOfGreetings", [{ name: "arr" }])).toEqual({ message: "arr" });

    const bidi = c.bidi("bidiHello");
    const pumped = Stream.of({ name: "1" }, { name: "2" }).pipeTo(bidi);
    expect(await bidi.responses.map((r) => r.message).toArray()).toEqual(["echo 1", "echo 2"]);
    await pumped;

    const chat = c.bidi("bidiHello");
    await chat.send({ name: "solo" });
    const first = await chat.responses.next();
    expect(first).toEqual({ value: { message: "echo solo" } });
    chat.complete();
    expect(await chat.responses.next()).toBeUndefined();
  });

  it("sends metadata and reads headers", async () => {
    const c = client(await rawServer(rawImpl));
    const r = await c.unaryContext("sayHello", { name: "Ann" }, { metadata: { "x-user": "u1" } });
    expect(r.message.message).toBe("Hello Ann (u1)");
    expect(r.headers["x-served-by"]).toBe("raw");
  });

  it("fails with GrpcErrors carrying the status", async () => {
    const c = client(await rawServer(rawImpl));
    const e = await c.unary("sayHello", { name: "nobody" }).catch((x: unknown) => x);
    expect(grpc.GrpcError.is(e)).toBe(true);
    expect(e).toMatchObject({ code: "NOT_FOUND", grpcStatus: grpc.Status.NOT_FOUND, message: "nobody here" });

    const got: string[] = [];
    const err = await c
      .serverStream("lotsOfReplies", { name: "fail", count: 2 })
      .forEach((r) => void got.push(r.message))
      .catch((x: unknown) => x);
    expect(got).toEqual(["0 fail", "1 fail"]);
    expect(err).toMatchObject({ code: "ABORTED" });

    await expect(c.unary("upload", { data: Buffer.from("x") })).rejects.toMatchObject({ code: "UNIMPLEMENTED" });
    await expect(c.unary("nope" as "sayHello", { name: "" })).rejects.toThrow(/no RPC nope/);
    expect(() => c.serverStream("sayHello", { name: "" })).toThrow(/is unary/);
  });

  it("applies the default deadline and cancels through an AbortSignal", async () => {
    let cancelled = false;
    const port = await rawServer({
      SayHello: (call: grpcJs.ServerUnaryCall<HelloRequest, HelloReply>) => {
        call.on("cancelled", () => (cancelled = true));
      },
      LotsOfReplies: (call: grpcJs.ServerWritableStream<HelloRequest, HelloReply>) => {
        const t = setInterval(() => call.write({ message: "tick" }), 5);
        call.on("cancelled", () => {
          clearInterval(t);
          cancelled = true;
        });
      },
    });
    const c = client(port, { deadlineMs: 200 });
    await expect(c.unary("sayHello", { name: "" })).rejects.toMatchObject({ code: "DEADLINE_EXCEEDED" });

    cancelled = false;
    const ac = new AbortController();
    const p = c.unary("sayHello", { name: "" }, { signal: ac.signal, deadlineMs: 0 });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ code: "CANCELLED" });
    await until(() => cancelled);

    // Closing a response stream early cancels the call on the server.
    cancelled = false;
    const first = await c.serverStream("lotsOfReplies", { name: "" }, { deadlineMs: 0 }).take(3).toArray();
    expect(first).toHaveLength(3);
    await until(() => cancelled);
  });

  it("fails a response stream with UNAVAILABLE when the server is killed mid-stream (no hang)", async () => {
    const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/raw-server.mjs", import.meta.url))], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    cleanup.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    const port = Number(line.toString().trim());
    const c = client(port, { deadlineMs: 0, keepalive: { timeMs: 1000, timeoutMs: 1000 } });
    let n = 0;
    const stream = c.serverStream("lotsOfReplies", { name: "" });
    const outcome = stream
      .forEach(() => {
        if (++n === 5) child.kill("SIGKILL");
      })
      .then(
        () => "ended",
        (e: unknown) => e,
      );
    const result = await Promise.race([outcome, sleep(15_000).then(() => "hung")]);
    expect(result).toMatchObject({ code: "UNAVAILABLE" });
    expect(n).toBeGreaterThanOrEqual(5);
  });

  it("talks to our own listener, with metadata both ways", async () => {
    const listener = new grpc.Listener(0, { host: "127.0.0.1" });
    await listener.attach(
      {
        sayHello(req: HelloRequest, caller: grpc.Caller<HelloReply>) {
          caller.setTrailers({ "x-t": "1" });
          return { message: `${req.name}/${String(caller.metadata["x-a"])}` };
        },
        lotsOfGreetings: async (reqs: Stream<HelloRequest, grpc.GrpcError>) => ({ message: String(await reqs.count()) }),
        bidiHello: (reqs: Stream<HelloRequest, grpc.GrpcError>) => reqs.map((r) => ({ message: r.name.toUpperCase() })),
      },
      { name: "pirouette.test.Greeter", descriptor: grpc.loadProto(PROTO) },
    );
    await listener.start();
    cleanup.push(() => listener.gracefulStop());
    const c = client(listener.port);
    const r = await c.unaryContext("sayHello", { name: "n" }, { metadata: { "x-a": "b" } });
    expect(r.message.message).toBe("n/b");
    expect(r.trailers["x-t"]).toBe("1");
    const many = Stream.from(function* () {
      for (let i = 0; i < 1000; i++) yield { name: `${i}` };
    });
    expect(await c.clientStream("lotsOfGreetings", many)).toEqual({ message: "1000" });
    const bidi = c.bidi("bidiHello");
    void Stream.of({ name: "a" }, { name: "b" }).pipeTo(bidi);
    expect(await bidi.responses.map((x) => x.message).toArray()).toEqual(["A", "B"]);
  });

  it("rejects an unknown service", () => {
    expect(() => new grpc.Client("127.0.0.1:1", { descriptor: PROTO, service: "Missing" })).toThrow(grpc.GrpcError);
  });
});
