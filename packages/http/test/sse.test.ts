import { request } from "node:http";
import { PushSource, Stream } from "@pirouette/core";
import * as http from "@pirouette/http";
import { describe, expect, test } from "vitest";
import { curl, raw, sleep, socketTo, startListener, untilClosed, waitFor } from "./helpers.ts";

/** An endless feed (one event every `everyMs`) that records when it is closed. */
function ticker(everyMs: number, state: { closed: number; sent: number }, size = 1): Stream<http.SseEvent> {
  const payload = "x".repeat(size);
  return Stream.from(
    async function* () {
      for (let i = 1; ; i++) {
        await sleep(everyMs);
        state.sent++;
        yield { id: String(i), data: payload };
      }
    },
    { close: () => void state.closed++ },
  );
}

const WIRE_EVENTS: unknown[] = [
  { id: "1", event: "price", data: '{"sym":"ACME","px":12.5}' },
  { comment: "a comment\nover two lines", retry: 2500 },
  { data: "line one\nline two\r\nline three\rline four" },
  { id: "evil\nevent: injected", event: "also\r\nevil", data: "" },
  "a plain string",
  { sym: "ACME", px: 13 },
  { data: "last", id: "7" },
];

const WIRE_TEXT =
  "id: 1\nevent: price\ndata: {\"sym\":\"ACME\",\"px\":12.5}\n\n" +
  ": a comment\n: over two lines\nretry: 2500\n\n" +
  "data: line one\ndata: line two\ndata: line three\ndata: line four\n\n" +
  "id: evilevent: injected\nevent: alsoevil\ndata: \n\n" +
  "data: a plain string\n\n" +
  'data: {"sym":"ACME","px":13}\n\n' +
  "id: 7\ndata: last\n\n";

describe("server-sent events", () => {
  test("Ballerina's wire format, headers, and the stream's end ends the response", async () => {
    await using l = await startListener([[{}, { resources: { "GET /feed": () => Stream.from(WIRE_EVENTS) } }]]);
    const res = await raw(`${l.url}/feed`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers["connection"]).toBe("keep-alive");
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    expect(res.body).toBe(WIRE_TEXT);
    expect(l.activeEventStreams).toBe(0);
  });

  test("interop: curl -N reads the feed, and our client parses the same feed", async () => {
    const events = [...WIRE_EVENTS, { event: "done", data: "bye" }];
    await using l = await startListener([[{}, { resources: { "GET /feed": () => Stream.from(events) } }]]);
    const { stdout } = await curl(["-N", `${l.url}/feed`]);
    expect(stdout).toBe(WIRE_TEXT + "event: done\ndata: bye\n\n");
    const client = new http.Client(l.url);
    const got = await client.events("/feed").toArray();
    expect(got).toEqual([
      { id: "1", event: "price", data: '{"sym":"ACME","px":12.5}' },
      { data: "line one\nline two\nline three\nline four" },
      { id: "evilevent: injected", event: "alsoevil", data: "" },
      { data: "a plain string" },
      { data: '{"sym":"ACME","px":13}' },
      { id: "7", data: "last" },
      { event: "done", data: "bye" },
    ]);
  });

  test("a client disconnect (curl killed by --max-time) closes the source stream", async () => {
    const state = { closed: 0, sent: 0 };
    await using l = await startListener([[{}, { resources: { "GET /ticks": () => ticker(20, state) } }]]);
    const { stdout, code } = await curl(["-N", "--max-time", "1", `${l.url}/ticks`]);
    expect(code).toBe(28); // curl's "operation timed out": it disconnected mid-stream
    expect(stdout).toMatch(/^id: 1\ndata: x\n\n/);
    await waitFor(() => state.closed === 1, "the source stream to be closed");
    await waitFor(() => l.activeEventStreams === 0, "the session to end");
  });

  test("heartbeat comments on an idle feed", async () => {
    const src = new PushSource<http.SseEvent>();
    await using l = await startListener([[{}, { resources: { "GET /idle": () => src.stream } }]], { sse: { heartbeatIntervalMs: 50 } });
    const got = await new Promise<string>((resolve, reject) => {
      const req = request(`${l.url}/idle`, { agent: false }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString("utf8");
          if (text.split(":\n\n").length > 2) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on("error", reject);
      req.end();
    });
    expect(got.startsWith(":\n\n:\n\n")).toBe(true);
  });

  test("HEAD on a feed answers the headers without starting the stream", async () => {
    const state = { closed: 0, sent: 0 };
    await using l = await startListener([[{}, { resources: { "GET /ticks": () => ticker(5, state) } }]]);
    const res = await raw(`${l.url}/ticks`, { method: "HEAD" });
    expect([res.status, res.headers["content-type"], res.body]).toEqual([200, "text/event-stream", ""]);
    await waitFor(() => state.closed === 1, "the unread stream to be closed");
    expect(state.sent).toBe(0);
  });

  test("Last-Event-ID reaches the handler", async () => {
    const seen: (string | undefined)[] = [];
    await using l = await startListener([
      [
        {},
        {
          resources: {
            "GET /resume": (req: http.Request) => {
              seen.push(req.lastEventId);
              return Stream.of({ id: "43", data: "next" });
            },
          },
        },
      ],
    ]);
    await raw(`${l.url}/resume`, { headers: { "last-event-id": "42" } });
    await raw(`${l.url}/resume`);
    expect(seen).toEqual(["42", undefined]);
  });

  test("a failing stream sends a final `event: error` and ends; onError hears about it", async () => {
    const errors: Error[] = [];
    const svc = {
      onError: (e: Error) => errors.push(e),
    };
    await using l = await startListener([
      [
        svc,
        {
          resources: {
            "GET /fails": () =>
              Stream.from(async function* () {
                yield { id: "1", data: "ok" };
                throw new Error("feed broke\nbadly");
              }),
          },
        },
      ],
    ]);
    const res = await raw(`${l.url}/fails`);
    expect(res.body).toBe("id: 1\ndata: ok\n\nevent: error\ndata: feed broke\ndata: badly\n\n");
    await waitFor(() => errors.length === 1, "onError");
    expect(errors[0]?.message).toBe("feed broke\nbadly");
    const client = new http.Client(l.url);
    const s = client.events("/fails");
    expect(await s.next()).toEqual({ value: { id: "1", data: "ok" } });
    const failed = await s.next();
    expect(failed).toMatchObject({ name: "HttpError", code: "SSE_ERROR_EVENT", message: "feed broke\nbadly" });
  });

  test("a client that never reads is disconnected after the stall timeout and its source closed", async () => {
    const state = { closed: 0, sent: 0 };
    const big = "y".repeat(64 * 1024);
    await using l = await startListener(
      [
        [
          {},
          {
            resources: {
              "GET /flood": () =>
                Stream.from(
                  function* () {
                    for (;;) {
                      state.sent++;
                      yield { data: big };
                    }
                  },
                  { close: () => void state.closed++ },
                ),
            },
          },
        ],
      ],
      { sse: { stallTimeoutMs: 200 } },
    );
    const s = await socketTo(l.port);
    s.write("GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
    s.pause(); // never read
    const closed = untilClosed(s);
    await waitFor(() => state.closed === 1, "the slow client's source to be closed", 20_000);
    // Bounded: the server stopped pulling once the socket was full (a few MB of kernel buffers).
    expect(state.sent * big.length).toBeLessThan(64 * 1024 * 1024);
    s.destroy();
    await closed;
    expect(l.activeEventStreams).toBe(0);
  });

  test("stopping the listener ends open feeds and closes their sources", async () => {
    const state = { closed: 0, sent: 0 };
    const l = await startListener([[{}, { resources: { "GET /ticks": () => ticker(10, state) } }]]);
    const client = new http.Client(l.url);
    const events = client.events("/ticks", { reconnect: false });
    expect((await events.next()) as unknown).toEqual({ value: { id: "1", data: "x" } });
    await l.gracefulStop();
    await waitFor(() => state.closed === 1, "the source stream to be closed");
    // The server ended the feed cleanly: our stream ends after what it already received.
    const rest = await events.toArray();
    expect(rest.every((e) => e.data === "x")).toBe(true);
  });

  test("streams of any elements, an async iterable, and a status/headers via Response", async () => {
    await using l = await startListener([
      [
        {},
        {
          resources: {
            "GET /gen": () =>
              (async function* () {
                yield 1;
                yield "two";
              })(),
            "GET /resp": () => new http.Response(Stream.of({ data: "x" }), { headers: { "x-feed": "yes" } }),
          },
        },
      ],
    ]);
    expect((await raw(`${l.url}/gen`)).body).toBe("data: 1\n\ndata: two\n\n");
    const r = await raw(`${l.url}/resp`);
    expect([r.headers["x-feed"], r.headers["content-type"], r.body]).toEqual(["yes", "text/event-stream", "data: x\n\n"]);
  });
});

describe("http.Client events()", () => {
  test("reconnects after a dropped connection with Last-Event-ID, honours `retry`, and resumes without gaps", async () => {
    const TOTAL = 60;
    const lastIds: (string | undefined)[] = [];
    let connections = 0;
    await using l = await startListener([
      [
        {},
        {
          resources: {
            "GET /numbers": (req: http.Request) => {
              connections++;
              lastIds.push(req.lastEventId);
              const from = Number(req.lastEventId ?? "0") + 1;
              const dropAfter = connections <= 2 ? 15 : Number.POSITIVE_INFINITY;
              return Stream.from(async function* () {
                yield { retry: 20 };
                let sent = 0;
                for (let i = from; i <= TOTAL; i++) {
                  if (sent === dropAfter) {
                    await sleep(20);
                    req.raw.socket.destroy(); // the connection drops mid-feed
                    await sleep(1000);
                    return;
                  }
                  sent++;
                  yield { id: String(i), event: "n", data: String(i) };
                }
              });
            },
          },
        },
      ],
    ]);
    const client = new http.Client(l.url);
    const started = Date.now();
    const got = await client
      .events("/numbers", { reconnect: { delayMs: 20_000, maxAttempts: 3 } })
      .map((e) => Number(e.data))
      .toArray();
    expect(got).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(lastIds).toEqual([undefined, "15", "30"]);
    expect(Date.now() - started).toBeLessThan(15_000); // the server's retry: 20 was used, not 20 s
  });

  test("204 ends the stream; non-200 and wrong content types fail it", async () => {
    await using l = await startListener([
      [
        {},
        {
          resources: {
            "GET /gone": () => undefined,
            "GET /json": () => ({ not: "events" }),
            "GET /denied": () => {
              throw new http.HttpError("FORBIDDEN", "no feed for you");
            },
          },
        },
      ],
    ]);
    const client = new http.Client(l.url);
    expect(await client.events("/gone").toArray()).toEqual([]);
    await expect(client.events("/json").toArray()).rejects.toMatchObject({ code: "SSE_CONTENT_TYPE" });
    await expect(client.events("/denied").toArray()).rejects.toMatchObject({ code: "HTTP_STATUS", status: 403, message: expect.stringContaining("no feed for you") });
    await expect(client.events("/nothing-here").toArray()).rejects.toMatchObject({ code: "HTTP_STATUS", status: 404 });
  });

  test("closing the client's stream closes the server's source", async () => {
    const state = { closed: 0, sent: 0 };
    await using l = await startListener([[{}, { resources: { "GET /ticks": () => ticker(5, state) } }]]);
    const client = new http.Client(l.url);
    const first = await client.events("/ticks").take(3).toArray();
    expect(first.map((e) => e.id)).toEqual(["1", "2", "3"]);
    await waitFor(() => state.closed === 1, "the server's source to be closed");
  });

  test("an unreachable server fails after the reconnection attempts", async () => {
    await using l = await startListener([]);
    const port = l.port;
    await l.gracefulStop();
    const client = new http.Client(`http://127.0.0.1:${port}`);
    await expect(client.events("/x", { reconnect: { maxAttempts: 2, delayMs: 10 } }).toArray()).rejects.toMatchObject({
      code: "CONNECTION",
      message: expect.stringContaining("gave up after 2"),
    });
    await expect(client.events("/x", { reconnect: false }).toArray()).rejects.toMatchObject({ code: "CONNECTION" });
  });
});
