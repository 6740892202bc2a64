/**
 * Unit tests (no server): name and path rules, host key policies, configuration checks,
 * error mapping, CSV encoding, service validation.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PayloadBindingError } from "@pirouette/core";
import * as ftp from "../src/index.ts";
import { CsvEncoder, parseHeaderLine } from "../src/internal/csv.ts";
import { fingerprintOf, hostMatches, keyTypeOf, loadHostKeyPolicy, parseKnownHosts } from "../src/internal/host-key.ts";
import { toFtpError } from "../src/internal/map-error.ts";
import { checkPath, isInside, joinPath, parentOf, unsafeNameReason } from "../src/internal/paths.ts";
import { resolveConfig } from "../src/internal/config.ts";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

/** An SSH public key blob of the given type with random key material. */
function keyBlob(type = "ssh-ed25519"): Buffer {
  const t = Buffer.from(type);
  const k = randomBytes(32);
  const out = Buffer.alloc(4 + t.length + 4 + k.length);
  out.writeUInt32BE(t.length, 0);
  t.copy(out, 4);
  out.writeUInt32BE(k.length, 4 + t.length);
  k.copy(out, 8 + t.length);
  return out;
}

describe("remote names", () => {
  it("rejects names that could leave the directory or change a command", () => {
    for (const bad of ["", ".", "..", "../x", "a/../../y", "/etc/passwd", "..\\evil.csv", "a\\b", "a\u0000b", "a\nb.csv", "a\rb", "tab\there", "\u007f"]) {
      expect(unsafeNameReason(bad), JSON.stringify(bad)).toBeDefined();
    }
    for (const good of ["orders.csv", "report..csv", "...", "a b.txt", "ünïcödé.json", ".hidden"]) {
      expect(unsafeNameReason(good), good).toBeUndefined();
    }
  });

  it("rejects paths with control characters before they reach a server", () => {
    expect(code(() => checkPath("/in/a\r\nDELE /etc/passwd"))).toBe("FTP_PATH");
    expect(code(() => checkPath("/in/a\u0000.csv"))).toBe("FTP_PATH");
    expect(code(() => checkPath(""))).toBe("FTP_PATH");
    expect(checkPath("/in/ok.csv")).toBe("/in/ok.csv");
  });

  it("keeps paths inside a root after normalisation", () => {
    expect(isInside("/in", "/in/a.csv")).toBe(true);
    expect(isInside("/in/", "/in/sub/../a.csv")).toBe(true);
    expect(isInside("/in", "/in/../etc/passwd")).toBe(false);
    expect(isInside("/in", "/inbox/a.csv")).toBe(false);
    expect(isInside("/", "/anything")).toBe(true);
    expect(joinPath("/in/", "a")).toBe("/in/a");
    expect(parentOf("/in/a.csv")).toBe("/in");
    expect(parentOf("/a")).toBe("/");
    expect(parentOf("a")).toBe("");
  });
});

describe("host keys", () => {
  it("computes fingerprints as ssh-keygen -lf prints them", () => {
    const blob = keyBlob();
    const expected = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
    expect(fingerprintOf(blob)).toBe(expected);
    expect(keyTypeOf(blob)).toBe("ssh-ed25519");
  });

  it("accepts the pinned key only, and refuses with FTP_HOST_KEY", async () => {
    const good = keyBlob();
    const make = await loadHostKeyPolicy({ fingerprint: fingerprintOf(good).replace("SHA256:", "") + "=" }, "h", 22);
    const v = make();
    expect(v.verify(keyBlob())).toBe(false);
    expect(v.refusal?.code).toBe("FTP_HOST_KEY");
    expect(make().verify(good)).toBe(true);
  });

  it("rejects a malformed fingerprint and a missing policy at configuration time", async () => {
    await expect(loadHostKeyPolicy({ fingerprint: "MD5:aa:bb" }, "h", 22)).rejects.toMatchObject({ code: "FTP_INVALID_CONFIG" });
    await expect(loadHostKeyPolicy(undefined, "h", 22)).rejects.toMatchObject({ code: "FTP_INVALID_CONFIG" });
    await expect(loadHostKeyPolicy({ knownHostsFile: "/nonexistent/known_hosts" }, "h", 22)).rejects.toMatchObject({ code: "FTP_INVALID_CONFIG" });
  });

  it("reads known_hosts: [host]:port, hashed names, wildcards, negation, @revoked", async () => {
    const key = keyBlob();
    const other = keyBlob();
    const b64 = key.toString("base64");
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("[files.example]:2222").digest("base64")}`;
    const text = [
      "# comment",
      `[files.example]:2222 ssh-ed25519 ${other.toString("base64")}`,
      `${hashed} ssh-ed25519 ${b64}`,
      `@cert-authority *.example ssh-ed25519 ${other.toString("base64")}`,
      "garbage line",
    ].join("\n");
    expect(parseKnownHosts(text)).toHaveLength(2);
    const make = await loadHostKeyPolicy({ knownHosts: text }, "files.example", 2222);
    expect(make().verify(key)).toBe(true);
    const wrongHost = await loadHostKeyPolicy({ knownHosts: text }, "files.example", 22);
    const v = wrongHost();
    expect(v.verify(key)).toBe(false);
    expect(v.refusal?.message).toMatch(/no entry for files\.example/);

    expect(hostMatches(["*.example", "!bad.example"], ["good.example"])).toBe(true);
    expect(hostMatches(["*.example", "!bad.example"], ["bad.example"])).toBe(false);
    expect(hostMatches(["10.0.0.?"], ["10.0.0.7"])).toBe(true);

    const revoked = await loadHostKeyPolicy({ knownHosts: `@revoked * ssh-ed25519 ${b64}\nfiles.example ssh-ed25519 ${b64}` }, "files.example", 22);
    const r = revoked();
    expect(r.verify(key)).toBe(false);
    expect(r.refusal?.message).toMatch(/@revoked/);
    expect(make().preferredAlgorithms).toEqual(["ssh-ed25519"]);
  });
});

describe("configuration", () => {
  it("needs a host key policy, a user and a secret for SFTP", () => {
    expect(code(() => new ftp.Client({ url: "sftp://u:p@h" }))).toBe("FTP_INVALID_CONFIG");
    expect(code(() => new ftp.Client({ protocol: "sftp", hostKey: { insecureAcceptAnyHostKey: true } }))).toBe("FTP_INVALID_CONFIG");
    expect(code(() => new ftp.Client({ url: "sftp://u@h", hostKey: { insecureAcceptAnyHostKey: true } }))).toBe("FTP_INVALID_CONFIG");
    expect(code(() => new ftp.Client({ url: "sftp://u:p@h", hostKey: { insecureAcceptAnyHostKey: true } }))).toBeUndefined();
    expect(code(() => new ftp.Client({ url: "ftp://h", hostKey: { insecureAcceptAnyHostKey: true } }))).toBe("FTP_INVALID_CONFIG");
    expect(code(() => new ftp.Client({ url: "sftp://u:p@h", protocol: "ftp" }))).toBe("FTP_INVALID_CONFIG");
    expect(code(() => new ftp.Client({ url: "http://h" }))).toBe("FTP_INVALID_CONFIG");
    expect(code(() => new ftp.Client({ port: 70000 }))).toBe("FTP_INVALID_CONFIG");
    expect(code(() => new ftp.Client({ maxConnections: 0 }))).toBe("FTP_INVALID_CONFIG");
  });

  it("reads protocol, host, port, user and TLS from the URL", () => {
    const c = resolveConfig({ url: "ftps://a%40b:p%3Aw@files.example:990" });
    expect(c).toMatchObject({ protocol: "ftp", host: "files.example", port: 990, username: "a@b", password: "p:w", secure: {} });
    expect(resolveConfig({ url: "sftp://u:p@h", hostKey: { insecureAcceptAnyHostKey: true } })).toMatchObject({ protocol: "sftp", port: 22, maxConnections: 1 });
    expect(resolveConfig({})).toMatchObject({ protocol: "ftp", host: "127.0.0.1", port: 21, maxConnections: 2 });
  });

  it("never shows the password in JSON or errors", () => {
    const secret = `S3cr3t-CANARY-${Date.now()}`;
    const c = new ftp.Client({ url: `sftp://u:${secret}@h`, hostKey: { insecureAcceptAnyHostKey: true } });
    expect(JSON.stringify(c)).not.toContain(secret);
    const e = toFtpError(Object.assign(new Error("All configured authentication methods failed"), { level: "client-authentication" }), undefined, "connect");
    expect(e.code).toBe("FTP_AUTH");
    expect(JSON.stringify(e)).not.toContain(secret);
  });

  it("checks listener options and service config", async () => {
    expect(code(() => new ftp.Listener({ pollingIntervalMs: 0 }))).toBe("FTP_INVALID_CONFIG");
    expect(code(() => new ftp.Listener({ concurrency: 0 }))).toBe("FTP_INVALID_CONFIG");
    const l = new ftp.Listener({ url: "ftp://u:p@127.0.0.1:1" });
    await expect(l.attach({ onFileText: () => undefined })).rejects.toMatchObject({ code: "FTP_INVALID_CONFIG" });
    await expect(l.attach({ onFileText: () => undefined }, { path: "/in", afterProcess: { moveTo: "" } })).rejects.toMatchObject({ code: "FTP_INVALID_CONFIG" });
    await expect(l.attach({ onFileText: () => undefined }, { path: "/in", fileNamePattern: 42 })).rejects.toMatchObject({ code: "FTP_INVALID_CONFIG" });
    await expect(l.attach({ onFileTxt: () => undefined }, { path: "/in" })).rejects.toMatchObject({ code: "FTP_UNKNOWN_METHOD" });
    await expect(l.attach({ onError: () => undefined }, { path: "/in" })).rejects.toMatchObject({ code: "FTP_MISSING_METHOD" });
    await expect(l.attach({ onFileChange: () => undefined, onFileCsv: () => undefined }, { path: "/in" })).rejects.toMatchObject({
      code: "FTP_METHOD_CONFLICT",
    });
    await expect(l.attach({ onFileCsv: () => undefined, onFileDelete: () => undefined }, { path: "/in", fileNamePattern: "*.csv" })).resolves.toBeUndefined();
    await l.gracefulStop();
  });
});

describe("error mapping", () => {
  it("maps driver errors to codes, and only connection losses and timeouts are transient", () => {
    const cases: [unknown, string][] = [
      [Object.assign(new Error("No such file"), { code: 2 }), "FTP_NOT_FOUND"],
      [Object.assign(new Error("Permission denied"), { code: 3 }), "FTP_PERMISSION"],
      [Object.assign(new Error("Failure"), { code: 4 }), "FTP_FAILED"],
      [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "FTP_CONNECTION"],
      [new Error("get: No response from server"), "FTP_CONNECTION"],
      [Object.assign(new Error("Timed out while waiting for handshake"), { level: "client-timeout" }), "FTP_TIMEOUT"],
      [Object.assign(new Error("550 Failed to open file."), { name: "FTPError", code: 550 }), "FTP_NOT_FOUND"],
      [Object.assign(new Error("530 Login incorrect."), { name: "FTPError", code: 530 }), "FTP_AUTH"],
      [Object.assign(new Error("421 Timeout."), { name: "FTPError", code: 421 }), "FTP_CONNECTION"],
    ];
    for (const [e, c] of cases) expect(toFtpError(e, "/p", "read").code, String(e)).toBe(c);
    expect(toFtpError(Object.assign(new Error("553 Could not create file."), { name: "FTPError", code: 553 }), "/p", "write").code).toBe("FTP_FAILED");
    expect(toFtpError(new Error("x"), "/p", "read").path).toBe("/p");
    expect(new ftp.FtpError("FTP_CONNECTION", "x").transient).toBe(true);
    expect(new ftp.FtpError("FTP_NOT_FOUND", "x").transient).toBe(false);
    expect(ftp.FtpError.isFtpError(new ftp.FtpError("FTP_AUTH", "x"))).toBe(true);
    expect(ftp.FtpError.isFtpError(new PayloadBindingError("x"))).toBe(false);
  });
});

describe("CSV encoding", () => {
  it("writes a header from the first record, quotes as RFC 4180, and follows a given column order", () => {
    const enc = new CsvEncoder(undefined, true);
    const first = Buffer.from(enc.encode([{ id: "1", note: 'said "hi", left', n: 2 }])).toString();
    const second = Buffer.from(enc.encode([{ n: 3, id: "2", note: null }])).toString();
    expect(first).toBe('id,note,n\n1,"said ""hi"", left",2\n');
    expect(second).toBe("2,,3\n");
    const append = new CsvEncoder(["n", "id"], false);
    expect(Buffer.from(append.encode([{ id: "x", n: 1 }])).toString()).toBe("1,x\n");
    expect(Buffer.from(new CsvEncoder(undefined, true).encode([["a", "b,c"]])).toString()).toBe('a,"b,c"\n');
    expect(parseHeaderLine('id,"a,b"\r\n')).toEqual(["id", "a,b"]);
    expect(parseHeaderLine("")).toBeUndefined();
  });
});
