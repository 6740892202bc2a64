import { test, expect } from "vitest";
import { z } from "zod";
import { memory, payload, service, PayloadValidationError } from "../src/index.ts";

test("memory listener end to end", async () => {
  const broker = new memory.Broker();
  const listener = new memory.Listener({ broker, groupId: "g", retry: { maxAttempts: 2, initialDelayMs: 1, jitter: false } });
  const Order = z.object({ id: z.number() });
  const seen: number[] = [];
  const errors: Error[] = [];
  @service(listener, "orders")
  class Orders {
    @payload(Order)
    onMessage(o: z.infer<typeof Order>) {
      if (o.id === 3) throw new Error("three");
      seen.push(o.id);
      return { ok: o.id };
    }
    onError(e: Error) { errors.push(e); }
  }
  void Orders;
  await listener.start();
  const client = new memory.Client({ broker });
  await client.publish("orders", { id: 1 });
  await client.publish("orders", { id: "bad" });
  await client.publish("orders", { id: 3 });
  const reply = await client.request("orders", { id: 4 });
  expect(JSON.parse(Buffer.from(reply.value).toString())).toEqual({ ok: 4 });
  await new Promise((r) => setTimeout(r, 50));
  expect(seen).toEqual([1, 4]);
  expect(errors.some((e) => e instanceof PayloadValidationError)).toBe(true);
  expect(broker.messages("orders.DLT").length).toBe(2);
  await listener.gracefulStop();
});
