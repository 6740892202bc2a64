/**
 * A malicious SFTP server (ssh2's server, in process, port 0): it lists names no real OpenSSH
 * server can produce — `../x`, `/etc/passwd`, NUL inside a name — the CVE-2019-6111 attack on
 * clients that trust listings. The listener must never open them and must tell onError.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ssh2 from "ssh2";
import * as ftp from "../src/index.ts";
import { fingerprintOf } from "../src/internal/host-key.ts";
import { waitFor } from "./helpers.ts";

const { Server, utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;

const GOOD = Buffer.from("id,qty\nA,1\n");
const HOSTILE = ["../escape.csv", "/etc/passwd.csv", "a\u0000b.csv", "sub/../../x.csv", "..\\win.csv"];

interface Requested {
  readonly op: string;
  readonly path: string;
}

function fileAttrs(size: number) {
  return { mode: 0o100644, uid: 1000, gid: 1000, size, atime: 1_700_000_000, mtime: 1_700_000_000 };
}

describe("a hostile SFTP server", () => {
  let server: InstanceType<typeof Server>;
  let port = 0;
  let fingerprint = "";
  const requested: Requested[] = [];

  beforeAll(async () => {
    const keys = utils.generateKeyPairSync("ed25519");
    const parsed = utils.parseKey(keys.public);
    if (parsed instanceof Error) throw parsed;
    fingerprint = fingerprintOf((Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH());
    server = new Server({ hostKeys: [keys.private] }, (client) => {
      client.on("error", () => undefined);
      client.on("authentication", (ctx) => (ctx.method === "password" && ctx.password === "pw" ? ctx.accept() : ctx.reject(["password"])));
      client.on("ready", () => {
        client.on("session", (acceptSession) => {
          const session = acceptSession();
          session.on("sftp", (acceptSftp) => {
            const sftp = acceptSftp();
            const dirsListed = new Set<string>();
            let handles = 0;
            const open = new Map<string, string>();
            sftp.on("REALPATH", (id, path) => {
              requested.push({ op: "REALPATH", path });
              sftp.name(id, [{ filename: path === "." ? "/in" : path, longname: "", attrs: fileAttrs(0) }]);
            });
            sftp.on("OPENDIR", (id, path) => {
              requested.push({ op: "OPENDIR", path });
              const h = `d${++handles}`;
              open.set(h, path);
              sftp.handle(id, Buffer.from(h));
            });
            sftp.on("READDIR", (id, handle) => {
              const h = handle.toString();
              if (dirsListed.has(h)) return sftp.status(id, STATUS.EOF);
              dirsListed.add(h);
              const names = ["good.csv", ...HOSTILE].map((filename) => ({
                filename,
                longname: `-rw-r--r--    1 u        u        ${filename === "good.csv" ? GOOD.length : 9} Nov 22 12:00 ${filename}`,
                attrs: fileAttrs(filename === "good.csv" ? GOOD.length : 9),
              }));
              return sftp.name(id, names);
            });
            const stat = (op: string) => (id: number, path: string) => {
              requested.push({ op, path });
              if (path === "/in/good.csv") return sftp.attrs(id, fileAttrs(GOOD.length));
              return sftp.status(id, STATUS.NO_SUCH_FILE);
            };
            sftp.on("STAT", stat("STAT"));
            sftp.on("LSTAT", stat("LSTAT"));
            sftp.on("OPEN", (id, path) => {
              requested.push({ op: "OPEN", path });
              if (path !== "/in/good.csv") return sftp.status(id, STATUS.NO_SUCH_FILE);
              const h = `f${++handles}`;
              open.set(h, path);
              return sftp.handle(id, Buffer.from(h));
            });
            sftp.on("READ", (id, _handle, offset, length) => {
              if (offset >= GOOD.length) return sftp.status(id, STATUS.EOF);
              return sftp.data(id, GOOD.subarray(offset, offset + length));
            });
            sftp.on("FSTAT", (id) => sftp.attrs(id, fileAttrs(GOOD.length)));
            sftp.on("CLOSE", (id, handle) => {
              open.delete(handle.toString());
              sftp.status(id, STATUS.OK);
            });
          });
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("rejects every hostile name with FTP_PATH and only ever opens the good file", async () => {
    const handled: string[] = [];
    const errors: ftp.FtpError[] = [];
    const listener = new ftp.Listener({
      protocol: "sftp",
      host: "127.0.0.1",
      port,
      auth: { credentials: { username: "u", password: "pw" } },
      hostKey: { fingerprint },
      pollingIntervalMs: 50,
    });
    await listener.attach(
      {
        onFileCsv: (rows: Record<string, string>[], file: ftp.FileInfo) => void handled.push(`${file.path}:${rows.length}`),
        onError: (e: Error) => void errors.push(e as ftp.FtpError),
      },
      { path: "/in" },
    );
    await listener.start();
    try {
      await waitFor(() => handled.length === 1 && errors.length === HOSTILE.length, "the good file handled and the hostile names reported");
      for (let i = 0; i < 3; i++) await listener.poll();
    } finally {
      await listener.gracefulStop();
    }
    expect(handled).toEqual(["/in/good.csv:1"]);
    expect(errors.map((e) => e.code)).toEqual(HOSTILE.map(() => "FTP_PATH"));
    expect(errors.map((e) => e.path).sort()).toEqual(HOSTILE.map((n) => `/in/${n}`).sort());
    expect(errors.find((e) => e.path?.includes("\u0000"))?.message).toContain("NUL");
    // Nothing but the directory and the good file was ever asked for.
    const touched = requested.filter((r) => r.op !== "OPENDIR" && r.op !== "REALPATH").map((r) => r.path);
    expect([...new Set(touched)]).toEqual(["/in/good.csv"]);
  });

  it("lets the client's list show what the server sent, for the caller to judge", async () => {
    const client = new ftp.Client({ protocol: "sftp", host: "127.0.0.1", port, auth: { credentials: { username: "u", password: "pw" } }, hostKey: { fingerprint } });
    try {
      const names = (await client.list("/in")).map((f) => f.name);
      expect(names).toEqual(["good.csv", ...HOSTILE]);
    } finally {
      await client.close();
    }
  });
});
