/**
 * Interop with a peer we did not write: Debian's amqp-tools (librabbitmq-c), `amqp-publish`,
 * `amqp-consume` and `amqp-get`. CI installs them with `apt-get install amqp-tools`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { text } from "@pirouette/core";
import * as rabbitmq from "../src/index.ts";
import { RABBITMQ_URL, Topology, unique, waitFor } from "./helpers.ts";

const exec = promisify(execFile);
const tool = async (name: string, ...args: string[]): Promise<string> =>
  (await exec(name, [`--url=${RABBITMQ_URL}`, ...args], { timeout: 20_000 })).stdout;

let topo: Topology;
let client: rabbitmq.Client;
let listener: rabbitmq.Listener | undefined;

beforeEach(async () => {
  topo = new Topology();
  client = new rabbitmq.Client(RABBITMQ_URL);
  await client.start();
});

afterEach(async () => {
  await listener?.immediateStop();
  listener = undefined;
  await client.close();
  await topo.cleanup();
});

describe("amqp-tools interop", () => {
  test("amqp-publish → listener: a JSON body with headers binds to a typed payload; a text body with the text codec", async () => {
    const json = topo.serviceQueue(unique("interop-json"));
    const plain = topo.serviceQueue(unique("interop-text"));
    const Order = z.object({ id: z.string(), amount: z.number() });
    const orders: z.infer<typeof Order>[] = [];
    const metas: rabbitmq.Message[] = [];
    const lines: string[] = [];
    listener = new rabbitmq.Listener(RABBITMQ_URL);
    await listener.attach(
      {
        onMessage: (o: z.infer<typeof Order>) => void orders.push(o),
      },
      { name: json, payload: Order },
    );
    const meta = topo.serviceQueue(`${json}-meta`);
    await listener.attach({ onMessage: (m: rabbitmq.Message) => void metas.push(m) }, meta);
    await listener.start();
    const textListener = new rabbitmq.Listener(RABBITMQ_URL, undefined, undefined, { codec: text() });
    await textListener.attach({ onMessage: (line: string) => void lines.push(line) }, { name: plain, mode: "payload" });
    await textListener.start();
    try {
      await tool("amqp-publish", "-r", json, "-C", "application/json", "-p", "-b", '{"id":"O-1","amount":99.99}');
      await tool("amqp-publish", "-r", meta, "-H", "tenant: acme", "-C", "text/plain", "-b", "hello");
      await tool("amqp-publish", "-r", plain, "-b", "plain text from librabbitmq");
      await waitFor(() => orders.length === 1 && metas.length === 1 && lines.length === 1, "three messages");
      expect(orders).toEqual([{ id: "O-1", amount: 99.99 }]);
      expect(metas[0]!.properties).toMatchObject({ contentType: "text/plain", headers: { tenant: "acme" } });
      expect(Buffer.from(metas[0]!.content).toString()).toBe("hello");
      expect(lines).toEqual(["plain text from librabbitmq"]);
    } finally {
      await textListener.gracefulStop();
    }
  });

  test("amqp-publish --reply-to → onRequest → amqp-get reads the reply", async () => {
    const queue = topo.serviceQueue(unique("interop-rpc"));
    const replies = topo.queue(unique("interop-replies"));
    await client.queueDeclare(replies);
    listener = new rabbitmq.Listener(RABBITMQ_URL);
    await listener.attach({ onRequest: (n: { n: number }) => ({ square: n.n * n.n }) }, { name: queue, mode: "payload" });
    await listener.start();
    await tool("amqp-publish", "-r", queue, "-t", replies, "-b", '{"n":12}');
    let reply = "";
    await waitFor(async () => {
      try {
        reply = await tool("amqp-get", "-q", replies);
        return true;
      } catch {
        return false; // amqp-get exits non-zero while the queue is empty
      }
    }, "the reply");
    expect(JSON.parse(reply)).toEqual({ square: 144 });
  });

  test("client.publishMessage → amqp-consume and amqp-get read what we published", async () => {
    const queue = topo.queue(unique("interop-out"));
    await client.queueDeclare(queue);
    for (const n of [1, 2, 3]) await client.publishMessage({ routingKey: queue, content: { n } });
    await client.publishMessage({ routingKey: queue, content: "last one" });
    const consumed = await tool("amqp-consume", "-q", queue, "-c", "3", "cat");
    expect(consumed.match(/\{"n":\d\}/g)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(await tool("amqp-get", "-q", queue)).toBe("last one");
    expect((await client.queueDeclare(queue)).messageCount).toBe(0);
  });
});
