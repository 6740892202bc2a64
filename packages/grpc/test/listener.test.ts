import { setTimeout as sleep } from "node:timers/promises";
import * as grpcJs from "@grpc/grpc-js";
import { Stream, service, type HandlerContext } from "@pirouette/core";
import { afterEach, describe, expect, it } from "vitest";
import * as grpc from "../src/index.ts";
import { collect, PROTO, rawClient, rawUnary, until, type HelloReply, type HelloRequest, type RawClient } from "./helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function serve(impl: object, options: grpc.ListenerOptions = {}, name = "Greeter"): Promise<{ listener: grpc.Listener; client: RawClient }> {
  const listener = new grpc.Listener(0, { host: "127.0.0.1", ...options });
  await listener.attach(impl, { name, descriptor: PROTO });
  await listener.start();
  const client = rawClient(listener.port, { "grpc.max_send_message_length": 16 * 1024 * 1024 });
  cleanup.push(() => listener.immediateStop());
  cleanup.push(() => client.close());
  return { listener, client };
}

const greeter = {
  sayHello: (req: HelloRequest): HelloReply => ({ message: `Hello ${req.name}` }),
  lotsOfReplies: (req: HelloRequest) => Stream.of("Hi", "Hey", "GM").map((g) => ({ message: `${g} ${req.name}` })),
  async lotsOfGreetings(reqs: Stream<HelloRequest, grpc.GrpcError>): Promise<HelloReply> {
    const names = await reqs.map((r) => r.name).toArray();
    return { message: `Hello ${names.join(", ")}` };
  },
  bidiHello: (reqs: Stream<HelloRequest, grpc.GrpcError>) => reqs.map((r) => ({ message: `Hi ${r.name}` })),
};

describe("grpc.Listener with a plain grpc-js client", () => {
  it("serves the four call kinds", async () => {
    const { client } = await serve(greeter);
    expect(await rawUnary(client, "SayHello", { name: "Ann" })).toEqual({ message: "Hello Ann" });

    const replies = await collect<HelloReply>(client.LotsOfReplies({ name: "Bo" }));
    expect(replies.map((r) => r.message)).toEqual(["Hi Bo", "Hey Bo", "GM Bo"]);

    const summary = await new Promise<HelloReply>((resolve, reject) => {
      const call = client.LotsOfGreetings((err: Error | null, res: HelloReply) => (err === null ? resolve(res) : reject(err))) as grpcJs.ClientWritableStream<HelloRequest>;
      for (const name of ["a", "b", "c"]) call.write({ name });
      call.end();
    });
    expect(summary.message).toBe("Hello a, b, c");

    const bidi = client.BidiHello() as grpcJs.ClientDuplexStream<HelloRequest, HelloReply>;
    const got = collect<HelloReply>(bidi);
    bidi.write({ name: "x" });
    bidi.write({ name: "y" });
    bidi.end();
    expect((await got).map((r) => r.message)).toEqual(["Hi x", "Hi y"]);
  });

  it("accepts proto-cased method names, Caller-based streaming and iterables", async () => {
    const { client } = await serve({
      SayHello: (req: HelloRequest) => ({ message: `hey ${req.name}` }),
      async LotsOfReplies(req: HelloRequest, caller: grpc.Caller<HelloReply>) {
        for (let i = 0; i < req.count!; i++) await caller.send({ message: `${i}` });
        caller.complete();
      },
      *bidiHello() {
        yield { message: "one" };
        yield { message: "two" };
      },
    });
    expect(await rawUnary(client, "SayHello", { name: "z" })).toEqual({ message: "hey z" });
    expect((await collect<HelloReply>(client.LotsOfReplies({ name: "", count: 4 }))).length).toBe(4);
    const bidi = client.BidiHello() as grpcJs.ClientDuplexStream<HelloRequest, HelloReply>;
    bidi.end();
    expect((await collect<HelloReply>(bidi)).map((r) => r.message)).toEqual(["one", "two"]);
    // An RPC without a method answers UNIMPLEMENTED.
    await expect(rawUnary(client, "Upload", { data: Buffer.from("x") })).rejects.toMatchObject({ code: grpcJs.status.UNIMPLEMENTED });
  });

  it("maps GrpcError to its status and other errors to INTERNAL without leaking them", async () => {
    const errors: Error[] = [];
    const { client } = await serve({
      sayHello(req: HelloRequest) {
        if (req.name === "missing") throw new grpc.GrpcError("NOT_FOUND", "no such greeter", { metadata: { "x-reason": "gone" } });
        throw new Error("secret database password in message");
      },
      lotsOfReplies: () =>
        Stream.from(async function* () {
          yield { message: "first" };
          throw new grpc.GrpcError("FAILED_PRECONDITION", "stream broke");
        }),
      onError: (e: Error) => void errors.push(e),
    });
    const notFound = await rawUnary(client, "SayHello", { name: "missing" }).catch((e: grpcJs.ServiceError) => e);
    expect(notFound).toMatchObject({ code: grpcJs.status.NOT_FOUND, details: "no such greeter" });
    expect((notFound as grpcJs.ServiceError).metadata.get("x-reason")).toEqual(["gone"]);

    const internal = await rawUnary(client, "SayHello", { name: "x" }).catch((e: grpcJs.ServiceError) => e);
    expect(internal).toMatchObject({ code: grpcJs.status.INTERNAL, details: "internal error" });
    expect(JSON.stringify(internal)).not.toContain("secret");
    expect(errors.map((e) => e.message)).toEqual(["secret database password in message"]);

    const received: HelloReply[] = [];
    const err = await new Promise<grpcJs.ServiceError>((resolve) => {
      const call = client.LotsOfReplies({ name: "" });
      call.on("data", (d: HelloReply) => received.push(d));
      call.on("error", resolve);
    });
    expect(err.code).toBe(grpcJs.status.FAILED_PRECONDITION);
    expect(received).toEqual([{ message: "first" }]);
  });

  it("passes metadata in and sends headers and trailers out", async () => {
    const { client } = await serve({
      sayHello(_req: HelloRequest, caller: grpc.Caller<HelloReply>) {
        caller.sendHeaders({ "x-server": "pirouette" });
        caller.setTrailers({ "x-trailer": "done" });
        return { message: String(caller.metadata["x-user"]) };
      },
    });
    const md = new grpcJs.Metadata();
    md.set("x-user", "ann");
    let headers: grpcJs.Metadata | undefined;
    let trailers: grpcJs.Metadata | undefined;
    const res = await new Promise<HelloReply>((resolve, reject) => {
      const call = client.SayHello({ name: "" }, md, (err: Error | null, r: HelloReply) => (err === null ? resolve(r) : reject(err))) as grpcJs.ClientUnaryCall;
      call.on("metadata", (m) => (headers = m));
      call.on("status", (s) => (trailers = s.metadata));
    });
    await until(() => trailers !== undefined);
    expect(res.message).toBe("ann");
    expect(headers?.get("x-server")).toEqual(["pirouette"]);
    expect(trailers?.get("x-trailer")).toEqual(["done"]);
  });

  it("aborts the handler's signal and closes its streams when the client cancels", async () => {
    let signal: AbortSignal | undefined;
    let outClosed = false;
    const { client } = await serve({
      lotsOfReplies(_req: HelloRequest, caller: grpc.Caller<HelloReply>) {
        signal = caller.signal;
        let i = 0;
        return Stream.from(
          async function* () {
            for (;;) {
              yield { message: `${i++}` };
              await sleep(5);
            }
          },
          { close: () => void (outClosed = true) },
        );
      },
      async bidiHello(reqs: Stream<HelloRequest, grpc.GrpcError>, _caller: grpc.Caller<HelloReply>, ctx: HandlerContext) {
        signal = ctx.signal;
        await reqs.next();
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        return { message: "never sent" };
      },
    });
    const call = client.LotsOfReplies({ name: "" });
    call.on("error", () => undefined);
    await new Promise((resolve) => call.once("data", resolve));
    call.cancel();
    await until(() => signal?.aborted === true && outClosed);
    expect(signal?.reason).toMatchObject({ code: "CANCELLED" });

    signal = undefined;
    const bidi = client.BidiHello() as grpcJs.ClientDuplexStream<HelloRequest, HelloReply>;
    bidi.on("error", () => undefined);
    bidi.write({ name: "a" });
    await until(() => signal !== undefined);
    bidi.cancel();
    await until(() => signal?.aborted === true);
    expect((signal as AbortSignal | undefined)?.reason).toMatchObject({ code: "CANCELLED" });
  });

  it("aborts a streaming handler with DEADLINE_EXCEEDED when the deadline passes", async () => {
    let reason: unknown;
    let incoming: unknown = "not read";
    const { client } = await serve({
      async bidiHello(reqs: Stream<HelloRequest, grpc.GrpcError>, caller: grpc.Caller<HelloReply>) {
        // The request stream fails with the deadline, or (when the client's half-close came first) ends.
        incoming = await reqs.toArray().then(
          () => "ended",
          (e: unknown) => e,
        );
        if (!caller.signal.aborted) await new Promise((resolve) => caller.signal.addEventListener("abort", resolve));
        reason = caller.signal.reason;
      },
    });
    const bidi = client.BidiHello({ deadline: Date.now() + 300 }) as grpcJs.ClientDuplexStream<HelloRequest, HelloReply>;
    const failed = new Promise<grpcJs.ServiceError>((resolve) => bidi.on("error", resolve));
    bidi.write({ name: "a" });
    expect((await failed).code).toBe(grpcJs.status.DEADLINE_EXCEEDED);
    await until(() => reason !== undefined);
    expect(reason).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(incoming === "ended" || (grpc.GrpcError.is(incoming) && incoming.code === "DEADLINE_EXCEEDED")).toBe(true);
  });

  it("aborts the handler's signal when the deadline passes", async () => {
    let reason: unknown;
    let deadline: Date | undefined;
    const { client } = await serve({
      async sayHello(_req: HelloRequest, caller: grpc.Caller<HelloReply>) {
        deadline = caller.deadline;
        await new Promise((resolve) => caller.signal.addEventListener("abort", resolve));
        reason = caller.signal.reason;
        return { message: "too late" };
      },
    });
    const err = await rawUnary(client, "SayHello", { name: "" }, { deadline: Date.now() + 200 }).catch((e: grpcJs.ServiceError) => e);
    expect(err).toMatchObject({ code: grpcJs.status.DEADLINE_EXCEEDED });
    await until(() => reason !== undefined);
    expect(reason).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(deadline).toBeInstanceOf(Date);
  });

  it("answers RESOURCE_EXHAUSTED to a 5 MiB message and keeps serving", async () => {
    let uploads = 0;
    const { client } = await serve({
      ...greeter,
      upload: (b: { data: Buffer }) => {
        uploads++;
        return { message: `${b.data.length}` };
      },
    });
    const big = await rawUnary(client, "Upload", { data: Buffer.alloc(5 * 1024 * 1024) }).catch((e: grpcJs.ServiceError) => e);
    expect(big).toMatchObject({ code: grpcJs.status.RESOURCE_EXHAUSTED });
    expect(uploads).toBe(0);
    expect(await rawUnary(client, "Upload", { data: Buffer.alloc(1024) })).toEqual({ message: "1024" });
    expect(await rawUnary(client, "SayHello", { name: "still" })).toEqual({ message: "Hello still" });
  });

  it("graceful stop lets running unary calls finish, then refuses new ones", async () => {
    let started = 0;
    const { listener, client } = await serve(
      {
        async sayHello(req: HelloRequest) {
          started++;
          await sleep(req.delay_ms ?? 0);
          return { message: `done ${req.name}` };
        },
      },
      { gracefulStopTimeoutMs: 10_000 },
    );
    const calls = [1, 2, 3].map((i) => rawUnary<HelloReply>(client, "SayHello", { name: `${i}`, delay_ms: 300 }));
    await until(() => started === 3);
    const stopping = listener.gracefulStop();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.message)).toEqual(["done 1", "done 2", "done 3"]);
    await stopping;
    expect(listener.state).toBe("stopped");
    const late = rawClient(listener.port);
    cleanup.push(() => late.close());
    await expect(rawUnary(late, "SayHello", { name: "late" }, { deadline: Date.now() + 1000 })).rejects.toMatchObject({
      code: expect.any(Number) as number,
    });
  });

  it("graceful stop cancels calls still running after the timeout (UNAVAILABLE) and aborts their signals", async () => {
    let signal: AbortSignal | undefined;
    const { listener, client } = await serve(
      {
        async sayHello(_req: HelloRequest, caller: grpc.Caller<HelloReply>) {
          signal = caller.signal;
          await new Promise((resolve) => caller.signal.addEventListener("abort", resolve));
          return { message: "never sent" };
        },
      },
      { gracefulStopTimeoutMs: 200 },
    );
    const call = rawUnary(client, "SayHello", { name: "" }).catch((e: grpcJs.ServiceError) => e);
    await until(() => signal !== undefined);
    await listener.gracefulStop();
    expect(await call).toMatchObject({ code: grpcJs.status.UNAVAILABLE });
    expect(signal?.aborted).toBe(true);
  });

  it("immediateStop aborts running handlers", async () => {
    let signal: AbortSignal | undefined;
    const { listener, client } = await serve({
      lotsOfReplies(_req: HelloRequest, caller: grpc.Caller<HelloReply>) {
        signal = caller.signal;
        return Stream.from(async function* () {
          for (;;) {
            yield { message: "tick" };
            await sleep(10);
          }
        });
      },
    });
    const call = client.LotsOfReplies({ name: "" });
    const failed = new Promise<grpcJs.ServiceError>((resolve) => call.on("error", resolve));
    call.on("data", () => undefined);
    await until(() => signal !== undefined);
    await listener.immediateStop();
    expect(signal?.aborted).toBe(true);
    expect((await failed).code).toBeOneOf([grpcJs.status.UNAVAILABLE, grpcJs.status.CANCELLED, grpcJs.status.INTERNAL]);
  });

  it("validates services against the proto", async () => {
    const listener = new grpc.Listener(0, { host: "127.0.0.1" });
    cleanup.push(() => listener.immediateStop());
    await expect(listener.attach(greeter, { name: "Nope", descriptor: PROTO })).rejects.toMatchObject({ code: "GRPC_UNKNOWN_SERVICE" });
    await expect(listener.attach({ unrelated() {} }, { name: "Greeter", descriptor: PROTO })).rejects.toMatchObject({ code: "GRPC_MISSING_METHOD" });
    await expect(listener.attach({ sayHello() {}, onMessage() {} }, { name: "Greeter", descriptor: PROTO })).rejects.toMatchObject({
      code: "GRPC_UNKNOWN_METHOD",
    });
    await expect(listener.attach(greeter, "Greeter")).rejects.toMatchObject({ code: "GRPC_INVALID_SERVICE" });
    await expect(listener.attach(greeter, { name: "Greeter", descriptor: "/nonexistent.proto" })).rejects.toMatchObject({ code: "GRPC_PROTO" });
    const e = await listener.attach(greeter, { descriptor: PROTO }).catch((x: unknown) => x);
    expect(grpc.GrpcError.is(e) && e.name).toBe("GrpcError");
    expect(grpc.GrpcError.is(e) && e.code).toBe("GRPC_UNKNOWN_SERVICE"); // two services: a name is needed
  });

  it("binds decorated classes (@service + @grpc.Descriptor) by fully qualified name", async () => {
    const listener = new grpc.Listener(0, { host: "127.0.0.1" });
    cleanup.push(() => listener.immediateStop());
    @service(listener, "pirouette.test.Other")
    @grpc.Descriptor(grpc.loadProto(PROTO))
    class Other {
      ping(req: HelloRequest): HelloReply {
        return { message: `pong ${req.name}` };
      }
    }
    void Other;
    await listener.start();
    const def = grpc.loadProto(PROTO).definition("Other");
    const Ctor = grpcJs.makeGenericClientConstructor(def, "Other");
    const client = new Ctor(`127.0.0.1:${listener.port}`, grpcJs.credentials.createInsecure()) as unknown as RawClient;
    cleanup.push(() => client.close());
    expect(await rawUnary(client, "Ping", { name: "q" })).toEqual({ message: "pong q" });
  });
});
