/**
 * Where a listener remembers which files it processed, across restarts.
 *
 * @module
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { toError } from "@pirouette/core";
import { FtpError } from "./errors.ts";

/**
 * A store of processed files for `ftp.Listener({ stateStore })`: remote path → the file's
 * signature (size and modification time) when it was processed. A file whose signature is
 * stored is not taken again; a changed one (a re-upload) is. Implement it on a database to
 * share it between restarts or machines; {@link fileStateStore} keeps it in a local JSON file.
 *
 * @example
 * ```ts
 * const store: ProcessedFileStore = {
 *   get: (path) => redis.hget("sftp-processed", path).then((v) => v ?? undefined),
 *   set: (path, sig) => redis.hset("sftp-processed", path, sig).then(() => undefined),
 *   delete: (path) => redis.hdel("sftp-processed", path).then(() => undefined),
 * };
 * ```
 */
export interface ProcessedFileStore {
  get(path: string): string | undefined | Promise<string | undefined>;
  set(path: string, signature: string): void | Promise<void>;
  delete(path: string): void | Promise<void>;
}

/**
 * A {@link ProcessedFileStore} in a local JSON file, rewritten atomically (write + rename) after
 * each change. Fine for one listener process and up to some ten thousand files.
 *
 * @example
 * ```ts
 * const listener = new ftp.Listener({ ...connection, stateStore: ftp.fileStateStore("/var/lib/ingest/sftp-state.json") });
 * ```
 */
export function fileStateStore(filePath: string): ProcessedFileStore {
  let entries: Map<string, string> | undefined;
  let loading: Promise<Map<string, string>> | undefined;
  let writing: Promise<void> = Promise.resolve();
  const load = (): Promise<Map<string, string>> =>
    (loading ??= (async () => {
      try {
        const raw: unknown = JSON.parse(await readFile(filePath, "utf8"));
        if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("not a JSON object");
        entries = new Map(Object.entries(raw as Record<string, unknown>).filter((kv): kv is [string, string] => typeof kv[1] === "string"));
      } catch (e) {
        if ((e as { code?: unknown }).code !== "ENOENT") {
          throw new FtpError("FTP_INVALID_CONFIG", `cannot read the state file ${filePath}: ${toError(e).message}`, { cause: e });
        }
        entries = new Map();
      }
      return entries;
    })());
  const save = (map: Map<string, string>): Promise<void> => {
    const body = JSON.stringify(Object.fromEntries(map));
    writing = writing.catch(() => undefined).then(async () => {
      await mkdir(dirname(filePath), { recursive: true });
      const tmp = `${filePath}.${process.pid}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, filePath);
    });
    return writing;
  };
  return {
    async get(path) {
      return (await load()).get(path);
    },
    async set(path, signature) {
      const map = await load();
      map.set(path, signature);
      await save(map);
    },
    async delete(path) {
      const map = await load();
      if (map.delete(path)) await save(map);
    },
  };
}
