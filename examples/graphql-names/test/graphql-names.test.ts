import * as graphql from "@pirouette/graphql";
import { describe, expect, test } from "vitest";
import { createListener } from "../src/names.ts";

async function started() {
  const { listener, service } = await createListener({ port: 0, host: "127.0.0.1" });
  await listener.start();
  const client = new graphql.Client(`http://127.0.0.1:${listener.port}/graphql`);
  return {
    listener,
    service,
    client,
    async [Symbol.asyncDispose]() {
      await client.close();
      await listener.gracefulStop();
    },
  };
}

describe("graphql-names example", () => {
  test("the seeds' subscription: names() streams Walter, Skyler, Jesse and completes", async () => {
    await using app = await started();
    const names = await app.client.subscribe<{ names: string }>("subscription { names }").map((d) => d.names).toArray();
    expect(names).toEqual(["Walter", "Skyler", "Jesse"]);
  });

  test("queries, a validated mutation, and the live nameAdded feed", async () => {
    await using app = await started();
    const { client, service } = app;
    expect(await client.query<{ greeting: string }, { name: string }>("query($name: String!) { greeting(name: $name) }", { name: " Hank " })).toEqual({
      greeting: "Hello, Hank",
    });

    const added = client.subscribe<{ nameAdded: string }>("subscription { nameAdded }");
    const firstTwo = added.map((d) => d.nameAdded).take(2).toArray();
    while (service.subscribers === 0) await new Promise((r) => setTimeout(r, 5));

    // Two mutation fields in one operation run in document order.
    const m = await client.mutate<{ a: number; b: number }>('mutation { a: addName(name: "Marie") b: addName(name: "Gus") }');
    expect(m).toEqual({ a: 4, b: 5 });
    expect(await firstTwo).toEqual(["Marie", "Gus"]);
    // take(2) closed the stream: the subscription completed and the server released its feed.
    while (service.subscribers > 0) await new Promise((r) => setTimeout(r, 5));

    expect(await client.query<{ names: string[] }>("{ names }")).toEqual({ names: ["Walter", "Skyler", "Jesse", "Marie", "Gus"] });
    const bad = await client.mutate('mutation { addName(name: "   ") }').catch((e: unknown) => e);
    expect(graphql.GraphqlError.is(bad) && bad.code).toBe("BAD_USER_INPUT");
    expect((bad as graphql.GraphqlError).message).toBe("invalid arguments for Mutation.addName: name: a name cannot be empty");
  });
});
