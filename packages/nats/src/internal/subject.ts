/**
 * NATS subject rules.
 *
 * @internal
 * @module
 */
import { NatsError } from "../errors.ts";

/** Check a subject: non-empty tokens separated by dots, no whitespace; wildcards only when subscribing. */
export function checkSubject(subject: unknown, wildcards: boolean, what = "subject"): string {
  if (typeof subject !== "string" || subject.length === 0) throw new NatsError("NATS_INVALID_SUBJECT", `the ${what} must be a non-empty string`);
  if (/\s/.test(subject) || subject.includes("\u0000")) throw new NatsError("NATS_INVALID_SUBJECT", `the ${what} "${subject}" contains whitespace or NUL`);
  const tokens = subject.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    if (t.length === 0) throw new NatsError("NATS_INVALID_SUBJECT", `the ${what} "${subject}" has an empty token`);
    const wild = t === "*" || t === ">";
    if (!wild && (t.includes("*") || t.includes(">"))) {
      throw new NatsError("NATS_INVALID_SUBJECT", `the ${what} "${subject}": wildcards must be whole tokens`);
    }
    if (wild && !wildcards) throw new NatsError("NATS_INVALID_SUBJECT", `the ${what} "${subject}" contains a wildcard; only subscriptions may`);
    if (t === ">" && i !== tokens.length - 1) throw new NatsError("NATS_INVALID_SUBJECT", `the ${what} "${subject}": ">" must be the last token`);
  }
  return subject;
}

/** Whether `subject` matches the subscription `pattern` (`*` one token, `>` one or more). */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    if (t === ">") return s.length > i;
    if (i >= s.length) return false;
    if (t !== "*" && t !== s[i]) return false;
  }
  return p.length === s.length;
}
