import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "../src/index.ts";
import { PROTO, type Greeter, type HelloRequest } from "./helpers.ts";

/** A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
let dir: string;
const pem: Record<string, string> = {};

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pirouette-grpc-tls-"));
  const key = (name: string): void => openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
  key("ca");
  openssl("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=pirouette-test-ca");
  writeFileSync(join(dir, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const name of ["server", "client"]) {
    key(name);
    openssl("req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`);
  }
  for (const f of ["ca.crt", "server.crt", "server.key", "client.crt", "client.key"]) pem[f] = readFileSync(join(dir, f), "utf8");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const impl = { sayHello: (r: HelloRequest) => ({ message: `secure ${r.name}` }) };

async function listen(tls: grpc.GrpcServerTls): Promise<grpc.Listener> {
  const listener = new grpc.Listener(0, { host: "127.0.0.1", tls });
  await listener.attach(impl, { name: "Greeter", descriptor: PROTO });
  await listener.start();
  return listener;
}

function client(port: number, tls?: grpc.GrpcClientTls): grpc.Client<Greeter> {
  return new grpc.Client<Greeter>(`127.0.0.1:${port}`, { descriptor: PROTO, service: "Greeter", deadlineMs: 3000, ...(tls === undefined ? {} : { tls }) });
}

describe("TLS (certificates made by openssl at test time)", () => {
  it("serves TLS; a client trusting the CA connects, a plaintext one fails", async () => {
    await using listener = await listen({ cert: pem["server.crt"]!, key: pem["server.key"]! });
    const good = client(listener.port, { ca: pem["ca.crt"]! });
    const plain = client(listener.port);
    try {
      expect(await good.unary("sayHello", { name: "a" })).toEqual({ message: "secure a" });
      await expect(plain.unary("sayHello", { name: "b" })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    } finally {
      good.close();
      plain.close();
    }
  });

  it("mutual TLS: a client certificate signed by the CA is required", async () => {
    await using listener = await listen({ cert: pem["server.crt"]!, key: pem["server.key"]!, ca: pem["ca.crt"]! });
    const withCert = client(listener.port, { ca: pem["ca.crt"]!, cert: pem["client.crt"]!, key: pem["client.key"]! });
    const without = client(listener.port, { ca: pem["ca.crt"]! });
    try {
      expect(await withCert.unary("sayHello", { name: "m" })).toEqual({ message: "secure m" });
      await expect(without.unary("sayHello", { name: "n" })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    } finally {
      withCert.close();
      without.close();
    }
  });
});
