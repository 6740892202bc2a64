/**
 * SFTP host key verification: a pinned SHA-256 fingerprint or an OpenSSH known_hosts file.
 * ssh2 accepts any key when no `hostVerifier` is set; the client always sets one.
 *
 * @internal
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { FtpError } from "../errors.ts";
import type { HostKeyPolicy } from "../options.ts";

/** `SHA256:<base64, no padding>` of a key blob, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(keyBlob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type written at the start of an SSH public key blob (`ssh-ed25519`, …). */
export function keyTypeOf(keyBlob: Uint8Array): string {
  if (keyBlob.length < 4) return "unknown";
  const len = Buffer.from(keyBlob.buffer, keyBlob.byteOffset, keyBlob.byteLength).readUInt32BE(0);
  if (len > 64 || 4 + len > keyBlob.length) return "unknown";
  return Buffer.from(keyBlob.subarray(4, 4 + len)).toString("latin1");
}

function normalizeFingerprint(fp: string): string {
  const s = fp.trim().replace(/=+$/, "");
  const body = s.toUpperCase().startsWith("SHA256:") ? s.slice(7) : s;
  if (!/^[A-Za-z0-9+/]{43}$/.test(body)) {
    throw new FtpError(
      "FTP_INVALID_CONFIG",
      `hostKey.fingerprint ${JSON.stringify(fp)} is not a SHA-256 fingerprint as printed by "ssh-keygen -lf" (SHA256: and 43 base64 characters)`,
    );
  }
  return `SHA256:${body}`;
}

/** One usable known_hosts line. */
interface KnownHost {
  readonly patterns: readonly string[];
  readonly keyType: string;
  readonly key: Buffer;
  readonly revoked: boolean;
}

/** Parse known_hosts text; `@cert-authority` lines and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHost[] {
  const out: KnownHost[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]?.startsWith("@") === true) marker = fields.shift();
    if (marker === "@cert-authority") continue;
    const [hosts, keyType, b64] = fields;
    if (hosts === undefined || keyType === undefined || b64 === undefined) continue;
    if (!/^[A-Za-z0-9+/]+=*$/.test(b64)) continue;
    out.push({ patterns: hosts.split(","), keyType, key: Buffer.from(b64, "base64"), revoked: marker === "@revoked" });
  }
  return out;
}

/** The host name as known_hosts writes it: `host`, or `[host]:port` off port 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (const ch of pattern) {
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "i");
}

function hashedMatches(pattern: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = pattern.split("|");
  if (parts.length !== 4 || parts[1] !== "1") return false;
  const salt = Buffer.from(parts[2] ?? "", "base64");
  const expected = Buffer.from(parts[3] ?? "", "base64");
  const actual = createHmac("sha1", salt).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** OpenSSH semantics: a matching negated pattern excludes the line; else any positive match. */
export function hostMatches(patterns: readonly string[], names: readonly string[]): boolean {
  let positive = false;
  for (const p of patterns) {
    const negated = p.startsWith("!");
    const pat = negated ? p.slice(1) : p;
    const hit = names.some((n) => (pat.startsWith("|1|") ? hashedMatches(pat, n) : globToRegExp(pat).test(n)));
    if (hit && negated) return false;
    if (hit) positive = true;
  }
  return positive;
}

const SUPPORTED_HOST_KEY_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/** A verifier for one connection attempt; it remembers why it refused. */
export interface HostKeyVerifier {
  /** ssh2's `hostVerifier`: true to accept the key. */
  verify(keyBlob: Buffer): boolean;
  /** Set once `verify` refused a key: the `FTP_HOST_KEY` error to report. */
  readonly refusal: FtpError | undefined;
  /** Host key algorithms to prefer (those the known_hosts file has for this host). */
  readonly preferredAlgorithms: readonly string[];
  /** True for `insecureAcceptAnyHostKey`. */
  readonly insecure: boolean;
}

/** Check the policy now (fingerprint syntax, known_hosts readable) and build verifiers from it. */
export async function loadHostKeyPolicy(
  policy: HostKeyPolicy | undefined,
  host: string,
  port: number,
): Promise<() => HostKeyVerifier> {
  if (policy === undefined) {
    throw new FtpError(
      "FTP_INVALID_CONFIG",
      'SFTP needs hostKey: a pinned { fingerprint: "SHA256:…" } (ssh-keygen -lf), a { knownHostsFile }, or, for throw-away test servers only, { insecureAcceptAnyHostKey: true }',
    );
  }
  if ("insecureAcceptAnyHostKey" in policy) {
    if (policy.insecureAcceptAnyHostKey !== true) throw new FtpError("FTP_INVALID_CONFIG", "hostKey.insecureAcceptAnyHostKey must be true when given");
    return () => ({ verify: () => true, refusal: undefined, preferredAlgorithms: [], insecure: true });
  }
  if ("fingerprint" in policy) {
    const list = (typeof policy.fingerprint === "string" ? [policy.fingerprint] : [...policy.fingerprint]).map(normalizeFingerprint);
    if (list.length === 0) throw new FtpError("FTP_INVALID_CONFIG", "hostKey.fingerprint needs at least one fingerprint");
    return () => fingerprintVerifier(list, host, port);
  }
  let text: string;
  if ("knownHostsFile" in policy) {
    try {
      text = await readFile(policy.knownHostsFile, "utf8");
    } catch (cause) {
      throw new FtpError("FTP_INVALID_CONFIG", `cannot read hostKey.knownHostsFile ${policy.knownHostsFile}: ${(cause as Error).message}`, { cause });
    }
  } else if ("knownHosts" in policy && typeof policy.knownHosts === "string") {
    text = policy.knownHosts;
  } else {
    throw new FtpError("FTP_INVALID_CONFIG", "hostKey must have fingerprint, knownHostsFile, knownHosts or insecureAcceptAnyHostKey");
  }
  const names = [knownHostsName(host, port)];
  const entries = parseKnownHosts(text).filter((e) => hostMatches(e.patterns, names));
  const preferred = [...new Set(entries.filter((e) => !e.revoked).flatMap((e) => SUPPORTED_HOST_KEY_ALGORITHMS[e.keyType] ?? []))];
  return () => knownHostsVerifier(entries, names[0] as string, preferred);
}

function fingerprintVerifier(pinned: readonly string[], host: string, port: number): HostKeyVerifier {
  const v = {
    refusal: undefined as FtpError | undefined,
    preferredAlgorithms: [] as string[],
    insecure: false,
    verify(keyBlob: Buffer): boolean {
      const fp = fingerprintOf(keyBlob);
      if (pinned.includes(fp)) return true;
      v.refusal = new FtpError(
        "FTP_HOST_KEY",
        `the SFTP server ${host}:${port} presented a ${keyTypeOf(keyBlob)} host key with fingerprint ${fp}, which is not the pinned one; refused before authenticating`,
        { serverCode: fp },
      );
      return false;
    },
  };
  return v;
}

function knownHostsVerifier(entries: readonly KnownHost[], name: string, preferred: readonly string[]): HostKeyVerifier {
  const v = {
    refusal: undefined as FtpError | undefined,
    preferredAlgorithms: preferred,
    insecure: false,
    verify(keyBlob: Buffer): boolean {
      const fp = fingerprintOf(keyBlob);
      const same = entries.filter((e) => e.key.equals(keyBlob));
      if (same.some((e) => e.revoked)) {
        v.refusal = new FtpError("FTP_HOST_KEY", `the SFTP server ${name} presented a host key marked @revoked in known_hosts (${fp}); refused`, { serverCode: fp });
        return false;
      }
      if (same.length > 0) return true;
      const detail =
        entries.length === 0
          ? `known_hosts has no entry for ${name}`
          : `its ${keyTypeOf(keyBlob)} key ${fp} does not match the known_hosts entries for ${name} (${entries.map((e) => e.keyType).join(", ")})`;
      v.refusal = new FtpError("FTP_HOST_KEY", `SFTP host key verification failed: ${detail}; refused before authenticating`, { serverCode: fp });
      return false;
    },
  };
  return v;
}
