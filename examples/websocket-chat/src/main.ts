/**
 * A WebSocket chat room with an echo, after the seeds' Ballerina example:
 *
 * ```ballerina
 * service /chat on new websocket:Listener(9090) {
 *   resource function get .() returns websocket:Service { return new ChatService(); }
 * }
 * service class ChatService {
 *   *websocket:Service;
 *   remote function onTextMessage(websocket:Caller caller, string msg) returns error? {
 *     check caller->writeTextMessage("echo: " + msg);
 *   }
 * }
 * ```
 *
 * 1. a `websocket.Listener` on a free port; the `/chat` upgrade service checks a token (auth
 *    hook) and returns one `ChatConnection` per client (`onUpgrade`);
 * 2. JSON messages are routed by their `type` (`dispatcherKey`): `{"type":"say"}` → `onSay`,
 *    validated with zod (`@payload`); a bad one goes to `onSayError`; plain text is echoed by
 *    `onTextMessage`;
 * 3. three `websocket.Client`s chat; a fourth without a token is refused with 401;
 * 4. leaving broadcasts `left`; `gracefulStop` closes what is still open with 1001.
 *
 * Run it with `pnpm --filter @pirouette/example-websocket-chat start`.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { payload, service } from "@pirouette/core";
import * as websocket from "@pirouette/websocket";
import { z } from "zod";

const TOKEN = "let-me-in";

/** What clients send to say something. */
export const Say = z.object({ type: z.literal("say"), text: z.string().min(1).max(280) });
export type Say = z.infer<typeof Say>;

/** What the room sends. */
export type RoomEvent =
  | { readonly type: "joined"; readonly name: string; readonly members: readonly string[] }
  | { readonly type: "said"; readonly name: string; readonly text: string }
  | { readonly type: "left"; readonly name: string }
  | { readonly type: "rejected"; readonly reason: string };

/** What {@link main} returns. */
export interface Summary {
  readonly port: number;
  /** Every line of the transcript, in the order ada saw them. */
  readonly transcript: readonly string[];
  /** What the echo answered to plain text. */
  readonly echo: string;
  /** The HTTP status the client without a token got. */
  readonly refusedStatus: number;
  /** The close code the last client saw when the listener stopped. */
  readonly shutdownCloseCode: number | undefined;
  readonly rejected: readonly string[];
}

/** Options of {@link main}. */
export interface MainOptions {
  readonly log?: (line: string) => void;
}

/** The room: every open connection by name. */
class Room {
  readonly members = new Map<string, websocket.Caller>();

  broadcast(event: RoomEvent): void {
    for (const caller of this.members.values()) if (caller.isOpen) void caller.writeMessage(event);
  }
}

/**
 * Run the demo on a free port, print the transcript and resolve with its figures.
 *
 * @example
 * ```ts
 * const summary = await main({ log: () => {} });
 * summary.echo; // "echo: ping"
 * ```
 */
export async function main(options: MainOptions = {}): Promise<Summary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const listener = new websocket.Listener(0, { host: "127.0.0.1", gracefulStopTimeoutMs: 2000, closeTimeoutMs: 1000 });
  const room = new Room();

  /** One per client: returned by the upgrade service. */
  class ChatConnection implements websocket.Service {
    readonly name: string;
    constructor(name: string) {
      this.name = name;
    }

    onOpen(caller: websocket.Caller): void {
      room.members.set(this.name, caller);
      room.broadcast({ type: "joined", name: this.name, members: [...room.members.keys()] });
    }

    /** `{"type":"say","text":…}`, routed by dispatcherKey and validated by zod. */
    @payload(Say)
    onSay(msg: Say): void {
      room.broadcast({ type: "said", name: this.name, text: msg.text });
    }

    /** A `say` that failed validation: answered to the sender only; the connection stays open. */
    onSayError(error: Error): RoomEvent {
      return { type: "rejected", reason: error.message.split("\n")[1]?.trim() ?? error.message };
    }

    /** Plain text (not JSON): the seeds' echo. */
    onTextMessage(text: string): string {
      return `echo: ${text}`;
    }

    onClose(): void {
      room.members.delete(this.name);
      room.broadcast({ type: "left", name: this.name });
    }
  }

  // ── 1. `service /chat on listener`: the upgrade service ─────────────────────────────────
  @service(listener, "/chat")
  @websocket.ServiceConfig({
    subProtocols: ["chat.v1"],
    dispatcherKey: "type",
    auth: (req) => req.query.get("token") === TOKEN,
  })
  class ChatUpgrade {
    onUpgrade(req: websocket.UpgradeRequest): websocket.Service {
      return new ChatConnection(req.query.get("name") ?? "anonymous");
    }
  }
  void ChatUpgrade; // declared for its decorator

  await listener.start();
  const url = (name: string, token = TOKEN): string => `ws://127.0.0.1:${listener.port}/chat?name=${name}&token=${token}`;
  log(`chat on ws://127.0.0.1:${listener.port}/chat (subprotocol chat.v1)`);

  // ── 2. Three clients ────────────────────────────────────────────────────────────────────
  const connect = async (name: string): Promise<websocket.Client> => {
    const c = new websocket.Client(url(name), { subProtocols: ["chat.v1"] });
    await c.connect();
    return c;
  };
  const ada = await connect("ada");
  const seenByAda = ada.messages();
  const transcript: string[] = [];
  const nextEvent = async (): Promise<RoomEvent> => {
    const r = await seenByAda.next();
    if (r === undefined || r instanceof Error) throw r ?? new Error("ada's connection closed");
    const event = JSON.parse(r.value as string) as RoomEvent;
    const line =
      event.type === "joined"
        ? `→ ${event.name} joined (members: ${event.members.join(", ")})`
        : event.type === "said"
          ? `${event.name}: ${event.text}`
          : event.type === "left"
            ? `← ${event.name} left`
            : `! rejected: ${event.reason}`;
    transcript.push(line);
    log(`  ${line}`);
    return event;
  };
  log("");
  log("transcript (as ada sees it)");
  await nextEvent(); // ada joined
  const grace = await connect("grace");
  await nextEvent(); // grace joined
  const linus = await connect("linus");
  await nextEvent(); // linus joined

  await ada.writeMessage({ type: "say", text: "hello, room" });
  await nextEvent();
  await grace.writeMessage({ type: "say", text: "hi ada" });
  await nextEvent();
  await ada.writeMessage({ type: "say", text: "" }); // fails validation
  await nextEvent();

  // Plain text is echoed back to its sender only.
  await linus.writeTextMessage("ping");
  let echo = "";
  for await (const m of linus.messages()) {
    if (typeof m === "string" && m.startsWith("echo:")) {
      echo = m;
      break;
    }
  }
  log("");
  log(`linus sent plain text "ping" → ${echo}`);

  // ── 3. No token, no chat ────────────────────────────────────────────────────────────────
  let refusedStatus = 0;
  try {
    await new websocket.Client(url("mallory", "guess")).connect();
  } catch (e) {
    if (websocket.WebSocketError.is(e)) refusedStatus = e.status;
  }
  log(`mallory without a token → refused with ${refusedStatus}`);

  // ── 4. Leaving, then stopping ───────────────────────────────────────────────────────────
  log("");
  await grace.close(1000, "bye");
  await nextEvent(); // grace left
  await linus.close();
  await nextEvent(); // linus left
  await listener.gracefulStop();
  await seenByAda.toArray().catch(() => []);
  const shutdownCloseCode = ada.lastCloseFrame?.status;
  log(`listener ${listener.state}; ada's connection closed with ${shutdownCloseCode ?? "?"}`);

  const rejected = transcript.filter((l) => l.startsWith("! rejected"));
  return { port: listener.port, transcript, echo, refusedStatus, shutdownCloseCode, rejected };
}

// Run when executed directly (`tsx src/main.ts`), not when imported by the test.
const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(realpathSync(entry)).href === import.meta.url) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
