/**
 * Topic names, topic filters and subscription normalisation.
 *
 * @internal
 * @module
 */
import { MqttError } from "../errors.ts";
import type { QoS, Subscription, Subscriptions } from "../options.ts";

/** A subscription with every field resolved. */
export interface ResolvedSubscription {
  readonly topic: string;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
}

const MAX_TOPIC_BYTES = 65535;

function checkCommon(topic: unknown, what: string): string {
  if (typeof topic !== "string" || topic.length === 0) {
    throw new MqttError("MQTT_INVALID_TOPIC", `${what} must be a non-empty string`);
  }
  if (topic.includes("\u0000")) throw new MqttError("MQTT_INVALID_TOPIC", `${what} "${topic}" contains a NUL character`);
  if (Buffer.byteLength(topic, "utf8") > MAX_TOPIC_BYTES) {
    throw new MqttError("MQTT_INVALID_TOPIC", `${what} is longer than ${MAX_TOPIC_BYTES} bytes`);
  }
  return topic;
}

/** Check a topic name (what is published to): no wildcards. */
export function checkTopicName(topic: unknown): string {
  const t = checkCommon(topic, "a topic name");
  if (t.includes("+") || t.includes("#")) {
    throw new MqttError("MQTT_INVALID_TOPIC", `the topic name "${t}" contains a wildcard (+ or #); wildcards are for subscriptions only`);
  }
  return t;
}

/** Check a topic filter (what is subscribed to): `+` fills a whole level, `#` is the whole last level. */
export function checkTopicFilter(filter: unknown): string {
  const f = checkCommon(filter, "a topic filter");
  const levels = f.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      throw new MqttError("MQTT_INVALID_TOPIC", `the topic filter "${f}": "#" must be the whole last level`);
    }
    if (level.includes("+") && level !== "+") {
      throw new MqttError("MQTT_INVALID_TOPIC", `the topic filter "${f}": "+" must be a whole level`);
    }
  }
  return f;
}

/**
 * Whether `topic` matches `filter` (MQTT 3.1.1 §4.7 / MQTT 5 §4.7): `+` one level, `#` the rest
 * (including the parent level); filters starting with a wildcard do not match `$`-topics.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  // Shared subscriptions ($share/<group>/<filter>) match on the inner filter.
  const inner = filter.startsWith("$share/") ? filter.split("/").slice(2).join("/") : filter;
  const f = inner.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}

function isQoS(x: unknown): x is QoS {
  return x === 0 || x === 1 || x === 2;
}

/** Turn Ballerina's `string|string[]|Subscription|Subscription[]` into resolved subscriptions. */
export function normalizeSubscriptions(input: Subscriptions | undefined, what = "subscriptions"): ResolvedSubscription[] {
  if (input === undefined) return [];
  const list: readonly (string | Subscription)[] = typeof input === "string" || !Array.isArray(input) ? [input as string | Subscription] : input;
  const out = new Map<string, ResolvedSubscription>();
  for (const s of list) {
    const sub: Subscription = typeof s === "string" ? { topic: s } : s;
    if (typeof sub !== "object" || sub === null) {
      throw new MqttError("MQTT_INVALID_CONFIG", `${what} must be topic filters or { topic, qos } objects`);
    }
    const topic = checkTopicFilter(sub.topic);
    const qos = sub.qos ?? 1;
    if (!isQoS(qos)) throw new MqttError("MQTT_INVALID_CONFIG", `the QoS of "${topic}" must be 0, 1 or 2`);
    const rh = sub.retainHandling ?? 0;
    if (rh !== 0 && rh !== 1 && rh !== 2) throw new MqttError("MQTT_INVALID_CONFIG", `retainHandling of "${topic}" must be 0, 1 or 2`);
    out.set(topic, {
      topic,
      qos,
      noLocal: sub.noLocal ?? false,
      retainAsPublished: sub.retainAsPublished ?? false,
      retainHandling: rh,
    });
  }
  return [...out.values()];
}
