/**
 * Sensors on a real Mosquitto (MQTT_URL, default mqtt://127.0.0.1:1883):
 *
 * 1. Three simulated sensors are `mqtt.Client`s. Each announces itself with a retained
 *    `…/<sensor>/status` = "online" (and a last will "offline" in case it dies), then pipes a
 *    `Stream` of readings into its client (a `Sink`) at QoS 1. Sensor s3 sends one broken reading.
 * 2. A `@service` class on an `mqtt.Listener` subscribes to `…/+/temperature` (a wildcard),
 *    binds each reading with a zod `@payload` and keeps them; readings over 30 °C raise alerts;
 *    the broken one reaches `onError` as a `PayloadValidationError` with its topic.
 * 3. A thermostat service answers MQTT 5 requests: its return value goes to the requester's
 *    response topic with the correlation data (`client.request`).
 * 4. A dashboard client reads the retained status topics through `receive()` (a `Stream`), and a
 *    query expression averages the readings per sensor.
 *
 * Topics are prefixed per run; retained messages are cleared at the end. Run it with
 * `pnpm --filter @pirouette/example-mqtt-sensors start`.
 */
import { randomUUID } from "node:crypto";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { avg, count, from, max, payload, PayloadValidationError, service, Stream } from "@pirouette/core";
import * as mqtt from "@pirouette/mqtt";

/** A temperature reading. */
export const Reading = z.object({
  sensor: z.string().regex(/^s\d$/),
  celsius: z.number().min(-50).max(150),
  seq: z.number().int().nonnegative(),
});
export type Reading = z.infer<typeof Reading>;

/** A thermostat request. */
export const Setpoint = z.object({ celsius: z.number().min(5).max(30) });

/** What {@link main} returns: the figures its report prints. */
export interface Summary {
  readonly published: number;
  readonly handled: number;
  readonly invalid: readonly { readonly topic: string; readonly code: string }[];
  readonly alerts: readonly string[];
  readonly perSensor: readonly { readonly sensor: string; readonly readings: number; readonly average: number; readonly peak: number }[];
  readonly statuses: Readonly<Record<string, string>>;
  readonly thermostat: unknown;
}

/** Options for {@link main}. */
export interface MainOptions {
  readonly url?: string;
  /** Where report lines go. Default `console.log`. */
  readonly log?: (line: string) => void;
}

const ALERT_CELSIUS = 30;

/** Each sensor's readings: s1 warms up, s2 stays cool, s3 overheats and sends one broken reading. */
export function sampleReadings(sensor: string): unknown[] {
  const base = { s1: 18, s2: 12, s3: 26 }[sensor] ?? 20;
  const step = { s1: 1, s2: 0.5, s3: 2 }[sensor] ?? 1;
  return Array.from({ length: 6 }, (_, seq) =>
    sensor === "s3" && seq === 3 ? { sensor, celsius: "hot", seq } : { sensor, celsius: base + step * seq, seq },
  );
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export async function main(options: MainOptions = {}): Promise<Summary> {
  const url = options.url ?? process.env["MQTT_URL"] ?? "mqtt://127.0.0.1:1883";
  const log = options.log ?? ((line: string) => console.log(line));
  const base = `pirouette-example/sensors/${randomUUID().slice(0, 8)}`;
  const sensors = ["s1", "s2", "s3"];

  // ── 1. The listener and its services ───────────────────────────────────────────────────
  const listener = new mqtt.Listener(url, undefined, [], { concurrency: 2 });
  const readings: Reading[] = [];
  const invalid: { topic: string; code: string }[] = [];
  const alerts: string[] = [];

  @service(listener)
  @mqtt.ServiceConfig({ subscriptions: { topic: `${base}/+/temperature`, qos: 1 } })
  class Temperatures {
    @payload(Reading)
    onMessage(r: Reading, caller: mqtt.Caller) {
      readings.push(r);
      if (r.celsius > ALERT_CELSIUS) alerts.push(`${r.sensor} ${r.celsius} °C (${caller.topic})`);
    }

    onError(error: Error, message: mqtt.Message | undefined) {
      invalid.push({ topic: message?.topic ?? "?", code: error instanceof PayloadValidationError ? error.code : error.name });
    }
  }

  @service(listener)
  @mqtt.ServiceConfig({ subscriptions: `${base}/thermostat/setpoint` })
  class Thermostat {
    // The return value is the MQTT 5 response (to the request's response topic).
    @payload(Setpoint)
    onMessage(req: z.infer<typeof Setpoint>) {
      return { accepted: true, celsius: req.celsius, heating: readings.some((r) => r.celsius < req.celsius) };
    }
  }
  void Temperatures;
  void Thermostat;
  await listener.start();

  // ── 2. The sensors: retained status, last will, readings piped into the client ────────────
  const statusTopic = (s: string): string => `${base}/${s}/status`;
  let published = 0;
  await Promise.all(
    sensors.map(async (s) => {
      const client = new mqtt.Client(url, `${base.replaceAll("/", "-")}-${s}`, {
        will: { topic: statusTopic(s), payload: "offline", retained: true },
        sink: { topic: `${base}/${s}/temperature`, qos: 1 },
      });
      await client.publish(statusTopic(s), { payload: "online", retained: true });
      const values = sampleReadings(s);
      published += values.length;
      await Stream.from(values).pipeTo(client); // every reading acknowledged (QoS 1), then the client closes
    }),
  );

  // ── 3. MQTT 5 request/response ────────────────────────────────────────────────────────
  const controller = new mqtt.Client(url);
  const dashboard = new mqtt.Client(url);
  try {
    const reply = await controller.request(`${base}/thermostat/setpoint`, { payload: { celsius: 21 } }, { timeoutMs: 5000 });
    const thermostat: unknown = JSON.parse(Buffer.from(reply.payload).toString("utf8"));

    // ── 4. The dashboard: retained statuses as a Stream ───────────────────────────────────
    await dashboard.subscribe(`${base}/+/status`);
    const statusEntries = await dashboard
      .receive()
      .take(sensors.length)
      .map((m) => [m.topic.split("/").at(-2) as string, Buffer.from(m.payload).toString("utf8")] as const)
      .toArray();
    const statuses = Object.fromEntries(statusEntries.sort(([a], [b]) => a.localeCompare(b)));

    // Wait for the listener to have handled every valid reading.
    const expected = published - 1;
    for (let i = 0; i < 200 && readings.length < expected; i++) await new Promise((r) => setTimeout(r, 25));
    await listener.gracefulStop();

    const perSensor = await from(Stream.from(readings))
      .groupBy((r) => r.sensor)
      .orderBy((g) => g.key)
      .select((g) => ({
        sensor: g.key,
        readings: count<Reading>().of(g.items) ?? 0,
        average: round1(avg((r: Reading) => r.celsius).of(g.items) ?? 0),
        peak: max((r: Reading) => r.celsius).of(g.items) ?? 0,
      }))
      .toArray();

    const summary: Summary = { published, handled: readings.length, invalid, alerts, perSensor, statuses, thermostat };
    log(`sensors on ${url.replace(/\/\/[^@]*@/, "//")}, topics under ${base}/`);
    log(`published ${published} readings, handled ${summary.handled}, invalid ${invalid.length} (${invalid.map((i) => `${i.code} on ${i.topic.split("/").at(-2)}`).join(", ")})`);
    log(`alerts over ${ALERT_CELSIUS} °C: ${alerts.length === 0 ? "none" : alerts.map((a) => a.split(" (")[0]).join("; ")}`);
    log("per sensor  (from(readings).groupBy(sensor).orderBy(key).select(count, avg, max))");
    for (const r of perSensor) log(`  ${r.sensor}  ${r.readings} readings  avg ${r.average.toFixed(1)} °C  peak ${r.peak} °C`);
    log(`statuses (retained): ${Object.entries(statuses).map(([k, v]) => `${k}=${v}`).join(", ")}`);
    log(`thermostat (MQTT 5 request/response): ${JSON.stringify(thermostat)}`);
    return summary;
  } finally {
    await listener.immediateStop();
    // Clear the retained statuses: an empty retained payload deletes them.
    for (const s of sensors) await controller.publish(statusTopic(s), { payload: "", retained: true }).catch(() => undefined);
    await controller.close();
    await dashboard.close();
  }
}

// Run when executed directly (`tsx src/main.ts`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
