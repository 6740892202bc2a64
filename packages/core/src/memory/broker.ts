/**
 * An in-process message broker: topics as append-only logs, consumer groups with
 * acknowledgement and redelivery, and fault injection for tests.
 *
 * @module
 */
import { PirouetteError } from "../errors.ts";

/** A message as stored and delivered by the in-memory broker. */
export interface Message {
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** Position in the topic's log. */
  readonly offset: number;
  /** How many times this message has been delivered to the group (1 on first delivery). */
  readonly deliveryCount: number;
  readonly timestamp: number;
}

/** Faults the broker injects into deliveries. Probabilities are in [0, 1]. */
export interface FaultOptions {
  /** Deliver a message twice (the duplicate must be acked too). */
  readonly duplicate?: number;
  /** Delay each delivery by this many milliseconds. */
  readonly delayMs?: number;
  /** Swap adjacent deliveries (different keys only are affected in practice). */
  readonly reorder?: number;
  /** Random number source, for reproducible tests. Default Math.random. */
  readonly random?: () => number;
}

/** Options for {@link Broker}. */
export interface BrokerOptions {
  /** Messages kept per topic once every group has acknowledged them. Default 10 000. */
  readonly retention?: number;
  readonly faults?: FaultOptions;
}

interface Stored {
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly offset: number;
  readonly timestamp: number;
}

/** @internal A consumer attached to a group. */
export interface Member {
  readonly id: string;
  /** Offer a message; return false when the member has no room (it will call `ready` later). */
  deliver(message: Message): boolean;
  /** The member was disconnected by the broker (fault injection). */
  disconnected(reason: Error): void;
  /** False while the member cannot take more messages (it calls `Broker.ready` later). */
  hasRoom?(): boolean;
}

class Group {
  cursor: number;
  readonly redeliver: Stored[] = [];
  readonly unacked = new Map<number, { stored: Stored; member: Member }>();
  readonly deliveries = new Map<number, number>();
  readonly members: Member[] = [];
  next = 0;
  constructor(start: number) {
    this.cursor = start;
  }
}

class Topic {
  readonly log: Stored[] = [];
  base = 0; // offset of log[0]
  readonly groups = new Map<string, Group>();
  get end(): number {
    return this.base + this.log.length;
  }
  at(offset: number): Stored | undefined {
    return this.log[offset - this.base];
  }
}

/**
 * The in-memory broker behind `memory.Listener` and `memory.Client`: zero dependencies, for
 * the demo and for unit tests of services and the dispatcher. Every group receives every
 * message of a topic; within a group each message goes to one member and is redelivered if it
 * is nacked or its member disconnects before acking.
 *
 * @example
 * ```ts
 * const broker = new memory.Broker({ faults: { duplicate: 0.1 } });
 * const client = new memory.Client({ broker });
 * await client.publish("orders", { id: 1 });
 * broker.disconnectAll(); // consumers lose unacked messages to redelivery
 * ```
 */
export class Broker {
  /** The process-wide broker used when none is given. */
  static readonly default: Broker = new Broker();
  readonly #topics = new Map<string, Topic>();
  readonly #retention: number;
  #faults: FaultOptions;
  #memberSeq = 0;

  constructor(options: BrokerOptions = {}) {
    this.#retention = options.retention ?? 10_000;
    this.#faults = options.faults ?? {};
  }

  /** Replace the fault settings (`{}` turns faults off). */
  setFaults(faults: FaultOptions): void {
    this.#faults = faults;
  }

  #topic(name: string): Topic {
    let t = this.#topics.get(name);
    if (t === undefined) {
      t = new Topic();
      this.#topics.set(name, t);
    }
    return t;
  }

  /** Append a message to a topic and deliver it to every group. Returns its offset. */
  publish(topic: string, value: Uint8Array, options: { key?: string | undefined; headers?: Readonly<Record<string, string>> } = {}): number {
    if (topic.length === 0) throw new PirouetteError("INVALID_ARGUMENT", "topic must not be empty");
    const t = this.#topic(topic);
    const stored: Stored = {
      topic,
      key: options.key,
      value,
      headers: { ...options.headers },
      offset: t.end,
      timestamp: Date.now(),
    };
    t.log.push(stored);
    for (const g of t.groups.values()) this.#pump(t, g);
    this.#trim(t);
    return stored.offset;
  }

  /** Messages in a topic's log (for tests). */
  messages(topic: string): Message[] {
    const t = this.#topics.get(topic);
    return (t?.log ?? []).map((s) => ({ ...s, deliveryCount: 0 }));
  }

  /** @internal Join a group; `from` is where a new group starts. */
  join(topic: string, groupId: string, makeMember: (id: string) => Member, from: "earliest" | "latest" = "earliest"): Member {
    const t = this.#topic(topic);
    let g = t.groups.get(groupId);
    if (g === undefined) {
      g = new Group(from === "earliest" ? t.base : t.end);
      t.groups.set(groupId, g);
    }
    const member = makeMember(`m${++this.#memberSeq}`);
    g.members.push(member);
    this.#pump(t, g);
    return member;
  }

  /** @internal Leave a group; the member's unacked messages are redelivered to the others. */
  leave(topic: string, groupId: string, member: Member): void {
    const t = this.#topics.get(topic);
    const g = t?.groups.get(groupId);
    if (t === undefined || g === undefined) return;
    const i = g.members.indexOf(member);
    if (i >= 0) g.members.splice(i, 1);
    const back: Stored[] = [];
    for (const [offset, u] of g.unacked) {
      if (u.member === member) {
        g.unacked.delete(offset);
        back.push(u.stored);
      }
    }
    back.sort((a, b) => a.offset - b.offset);
    g.redeliver.unshift(...back);
    this.#pump(t, g);
  }

  /** @internal Acks from a member that no longer holds the message (it was disconnected) are dropped. */
  ack(topic: string, groupId: string, offset: number, member: Member): void {
    const t = this.#topics.get(topic);
    const g = t?.groups.get(groupId);
    if (t === undefined || g === undefined || g.unacked.get(offset)?.member !== member) return;
    g.unacked.delete(offset);
    g.deliveries.delete(offset);
    this.#trim(t);
  }

  /** @internal Put a message back for redelivery (at the head of the group's queue). */
  nack(topic: string, groupId: string, offset: number, member: Member): void {
    const t = this.#topics.get(topic);
    const g = t?.groups.get(groupId);
    const u = g?.unacked.get(offset);
    if (t === undefined || g === undefined || u === undefined || u.member !== member) return;
    g.unacked.delete(offset);
    g.redeliver.unshift(u.stored);
    queueMicrotask(() => this.#pump(t, g));
  }

  /** @internal A member has room again. */
  ready(topic: string, groupId: string): void {
    const t = this.#topics.get(topic);
    const g = t?.groups.get(groupId);
    if (t !== undefined && g !== undefined) this.#pump(t, g);
  }

  /** Unacknowledged messages of a group (for tests and health checks). */
  pending(topic: string, groupId: string): number {
    const t = this.#topics.get(topic);
    const g = t?.groups.get(groupId);
    if (t === undefined || g === undefined) return 0;
    return g.unacked.size + g.redeliver.length + (t.end - g.cursor);
  }

  /** Fault injection: disconnect every member; their unacked messages are redelivered. */
  disconnectAll(reason = "disconnected by fault injection"): void {
    for (const [name, t] of this.#topics) {
      for (const [groupId, g] of t.groups) {
        for (const m of [...g.members]) {
          this.leave(name, groupId, m);
          m.disconnected(new PirouetteError("CONNECTION", reason));
        }
      }
    }
  }

  #pump(t: Topic, g: Group): void {
    while (g.members.length > 0) {
      let stored = g.redeliver.shift();
      let fromLog = false;
      if (stored === undefined) {
        if (g.cursor >= t.end) return;
        stored = t.at(g.cursor);
        fromLog = true;
        if (stored === undefined) {
          g.cursor = t.base;
          continue;
        }
      }
      const f = this.#faults;
      const rnd = f.random ?? Math.random;
      // Reorder: deliver the following log message first.
      if (fromLog && f.reorder !== undefined && rnd() < f.reorder && g.cursor + 1 < t.end) {
        const following = t.at(g.cursor + 1) as Stored;
        g.cursor += 2;
        g.redeliver.unshift(stored);
        stored = following;
        fromLog = false;
      }
      const member = this.#pick(g);
      if (member === undefined) {
        if (!fromLog) g.redeliver.unshift(stored);
        return;
      }
      if (fromLog) g.cursor++;
      const count = (g.deliveries.get(stored.offset) ?? 0) + 1;
      g.deliveries.set(stored.offset, count);
      g.unacked.set(stored.offset, { stored, member });
      const message: Message = { ...stored, deliveryCount: count };
      const deliver = (): void => {
        if (!g.members.includes(member)) return;
        member.deliver(message);
        if (f.duplicate !== undefined && rnd() < f.duplicate) member.deliver({ ...message, deliveryCount: count + 1 });
      };
      if (f.delayMs !== undefined && f.delayMs > 0) setTimeout(deliver, f.delayMs);
      else deliver();
    }
  }

  /** Round-robin over members that accept; undefined when all are full. */
  #pick(g: Group): Member | undefined {
    const n = g.members.length;
    for (let k = 0; k < n; k++) {
      const m = g.members[(g.next + k) % n] as Member;
      if (m.hasRoom === undefined || m.hasRoom()) {
        g.next = (g.next + k + 1) % n;
        return m;
      }
    }
    return undefined;
  }

  #trim(t: Topic): void {
    if (t.log.length <= this.#retention) return;
    let min = t.end;
    for (const g of t.groups.values()) {
      min = Math.min(min, g.cursor, ...[...g.unacked.keys()], ...g.redeliver.map((s) => s.offset));
    }
    const drop = Math.min(t.log.length - this.#retention, min - t.base);
    if (drop > 0) {
      t.log.splice(0, drop);
      t.base += drop;
    }
  }
}
