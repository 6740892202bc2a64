/**
 * Remote path rules: names from a server are hostile until checked (CVE-2019-6111), and a path
 * we send must not carry characters that change the protocol's meaning (NUL, CR, LF).
 *
 * @internal
 * @module
 */
import { posix } from "node:path";
import { FtpError } from "../errors.ts";

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why a name from a directory listing cannot be used as one entry of that directory, or
 * `undefined` when it can: empty, `.`/`..`, a path separator (`/`, `\`), NUL or another control
 * character.
 */
export function unsafeNameReason(name: string): string | undefined {
  if (name === "") return "an empty name";
  if (name === "." || name === "..") return `the name "${name}"`;
  if (name.includes("\u0000")) return "a NUL character";
  if (CONTROL.test(name)) return "a control character";
  if (name.includes("/") || name.includes("\\")) return "a path separator";
  return undefined;
}

/** A printable form of a hostile name, for messages and logs. */
export function printable(name: string): string {
  return JSON.stringify(name);
}

/** Reject a path we are asked to send: empty, or with NUL / CR / LF / other control characters. */
export function checkPath(path: string, what = "path"): string {
  if (typeof path !== "string" || path === "") throw new FtpError("FTP_PATH", `the remote ${what} must be a non-empty string`);
  if (CONTROL.test(path)) {
    throw new FtpError("FTP_PATH", `the remote ${what} ${printable(path)} contains a control character (NUL, CR, LF…)`, { path });
  }
  return path;
}

/** `dir/name`, POSIX style (remote paths always use `/`). */
export function joinPath(dir: string, name: string): string {
  if (dir === "" || dir === ".") return name;
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/** Whether `path` is `root` or inside it, after POSIX normalisation of both. */
export function isInside(root: string, path: string): boolean {
  const r = trimSlash(posix.normalize(root));
  const p = trimSlash(posix.normalize(path));
  if (r === "/") return p.startsWith("/");
  return p === r || p.startsWith(`${r}/`);
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

/** The parent directory of a remote path (`""` for a bare name). */
export function parentOf(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  if (i < 0) return "";
  if (i === 0) return "/";
  return path.slice(0, i);
}

/** The last segment of a remote path. */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** The extension without the dot, or `""`. */
export function extensionOf(name: string): string {
  const i = name.lastIndexOf(".");
  return i <= 0 ? "" : name.slice(i + 1);
}
