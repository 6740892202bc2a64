import { describe, expect, test } from "vitest";
import { main, sampleReadings } from "../src/main.ts";

describe("mqtt-sensors example (real Mosquitto)", () => {
  test("main() handles, rejects, averages and answers as the report says", async () => {
    const lines: string[] = [];
    const s = await main({ log: (line) => lines.push(line) });

    expect(sampleReadings("s1")).toHaveLength(6);
    expect(s.published).toBe(18);
    expect(s.handled).toBe(17);
    expect(s.invalid).toHaveLength(1);
    expect(s.invalid[0]?.code).toBe("PAYLOAD_VALIDATION");
    expect(s.invalid[0]?.topic).toMatch(/\/s3\/temperature$/);
    expect(s.perSensor).toEqual([
      { sensor: "s1", readings: 6, average: 20.5, peak: 23 },
      { sensor: "s2", readings: 6, average: 13.3, peak: 14.5 },
      { sensor: "s3", readings: 5, average: 30.8, peak: 36 },
    ]);
    expect(s.alerts.map((a) => a.split(" (")[0])).toEqual(["s3 34 °C", "s3 36 °C"]);
    expect(s.statuses).toEqual({ s1: "online", s2: "online", s3: "online" });
    expect(s.thermostat).toEqual({ accepted: true, celsius: 21, heating: true });
    expect(lines.some((l) => l.startsWith("thermostat (MQTT 5 request/response)"))).toBe(true);
  });
});
