/**
 * Interop with peers we did not write: Debian's mosquitto_pub and mosquitto_sub (MQTT 5 and
 * 3.1.1) against our Listener and Client, including MQTT 5 request/response.
 */
import { afterEach, describe, expect, test } from "vitest";
import { z } from "zod";
import * as mqtt from "../src/index.ts";
import { clearRetained, mosquittoPub, mosquittoSub, MQTT_URL, unique, waitFor } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const Reading = z.object({ sensor: z.string(), celsius: z.number() });
type Reading = z.infer<typeof Reading>;

/** The formatted lines mosquitto_sub printed (its -d debug lines left out). */
function lines(output: string): string[] {
  return output.split("\n").filter((l) => l.includes("|"));
}

describe("interop with mosquitto_pub / mosquitto_sub", () => {
  for (const version of [5, 4] as const) {
    test(`mosquitto_pub (${version === 5 ? "MQTT 5" : "MQTT 3.1.1"}) → our Listener, payload bound by a schema`, async () => {
      const base = unique(`pub-v${version}`);
      const got: Reading[] = [];
      const l = new mqtt.Listener(MQTT_URL, undefined, `${base}/+/temperature`, { protocolVersion: version });
      cleanups.push(() => l.immediateStop());
      await l.attach({ onMessage: (r: Reading) => void got.push(r) }, { payload: Reading });
      await l.start();
      const v = version === 5 ? "mqttv5" : "mqttv311";
      await mosquittoPub("-V", v, "-q", "1", "-t", `${base}/s1/temperature`, "-m", JSON.stringify({ sensor: "s1", celsius: 21.5 }));
      await mosquittoPub("-V", v, "-q", "2", "-t", `${base}/s2/temperature`, "-m", JSON.stringify({ sensor: "s2", celsius: -4 }));
      await waitFor(() => got.length === 2, "two readings from mosquitto_pub");
      expect(got.sort((a, b) => a.sensor.localeCompare(b.sensor))).toEqual([
        { sensor: "s1", celsius: 21.5 },
        { sensor: "s2", celsius: -4 },
      ]);
    });
  }

  test("mosquitto_pub MQTT 5 user properties reach the message", async () => {
    const topic = `${unique("userprops")}/x`;
    const got: mqtt.Message[] = [];
    const l = new mqtt.Listener(MQTT_URL, undefined, topic);
    cleanups.push(() => l.immediateStop());
    await l.attach({ onMessage: (m: mqtt.Message) => void got.push(m) });
    await l.start();
    await mosquittoPub("-V", "mqttv5", "-t", topic, "-m", "hello", "-D", "publish", "user-property", "tenant", "acme", "-D", "publish", "content-type", "text/plain");
    await waitFor(() => got.length === 1, "the message");
    expect(Buffer.from(got[0]?.payload ?? []).toString()).toBe("hello");
    expect(got[0]?.properties?.userProperties).toMatchObject({ tenant: "acme" });
    expect(got[0]?.properties?.contentType).toBe("text/plain");
  });

  test("our Client → mosquitto_sub: topic, QoS, payload and content type as published", async () => {
    const topic = `${unique("sub")}/x`;
    const sub = mosquittoSub("-V", "mqttv5", "-d", "-q", "1", "-C", "1", "-t", topic, "-F", "%t|%q|%r|%C|%p");
    cleanups.push(async () => sub.child.kill());
    await sub.ready;
    const c = new mqtt.Client(MQTT_URL, undefined, { sendContentType: true });
    cleanups.push(() => c.close());
    await c.publish(topic, { payload: { hello: "mosquitto" }, qos: 1 });
    expect(await sub.done).toBe(0);
    expect(lines(sub.output())).toEqual([`${topic}|1|0|application/json|{"hello":"mosquitto"}`]);
  });

  test("our retained message → a later mosquitto_sub (MQTT 3.1.1) sees it with the retained flag", async () => {
    const topic = `${unique("retained")}/x`;
    cleanups.push(() => clearRetained(topic));
    const c = new mqtt.Client(MQTT_URL, undefined, { protocolVersion: 4 });
    cleanups.push(() => c.close());
    await c.publish(topic, { payload: "last known", qos: 1, retained: true });
    const sub = mosquittoSub("-V", "mqttv311", "-C", "1", "-t", topic, "-F", "%t|%r|%p");
    expect(await sub.done).toBe(0);
    expect(lines(sub.output())).toEqual([`${topic}|1|last known`]);
  });

  test("MQTT 5 request/response: mosquitto_pub asks, our Listener answers, mosquitto_sub gets the response and correlation data", async () => {
    const base = unique("rr");
    const l = new mqtt.Listener(MQTT_URL, undefined, `${base}/requests`);
    cleanups.push(() => l.immediateStop());
    await l.attach({
      onMessage: (req: { a: number; b: number }) => ({ sum: req.a + req.b }),
    }, { mode: "payload" });
    await l.start();
    const sub = mosquittoSub("-V", "mqttv5", "-d", "-C", "1", "-t", `${base}/responses`, "-F", "%t|%D|%p");
    cleanups.push(async () => sub.child.kill());
    await sub.ready;
    await mosquittoPub(
      "-V", "mqttv5", "-q", "1", "-t", `${base}/requests`, "-m", JSON.stringify({ a: 2, b: 40 }),
      "-D", "publish", "response-topic", `${base}/responses`,
      "-D", "publish", "correlation-data", "req-42",
    );
    expect(await sub.done).toBe(0);
    expect(lines(sub.output())).toEqual([`${base}/responses|req-42|{"sum":42}`]);
  });
});
