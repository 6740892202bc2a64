/**
 * Publishing dead letters to `<topic>.DLT`.
 *
 * @internal
 * @module
 */
import { deadLetterHeaders, toError, type DeadLetterRecord, type Logger } from "@pirouette/core";
import { KafkaDeadLetterHeaders } from "../options.ts";
import type { Bound } from "./records.ts";
import type { Transport, TransportAdmin, TransportProducer } from "./transport.ts";


/** Sends failed records to a dead-letter topic on the same cluster, same partition when it exists. */
export class DeadLetterPublisher {
  readonly #transport: Transport;
  readonly #name: (topic: string) => string;
  readonly #logger: Logger;
  #producer: Promise<TransportProducer> | undefined;
  #admin: Promise<TransportAdmin> | undefined;
  readonly #partitions = new Map<string, Promise<number | undefined>>();
  #closed = false;

  constructor(transport: Transport, name: (topic: string) => string, logger: Logger) {
    this.#transport = transport;
    this.#name = name;
    this.#logger = logger;
  }

  async send(b: Bound, rec: DeadLetterRecord<unknown>): Promise<void> {
    const { topic, partition, offset, timestamp } = b.record;
    const target = this.#name(topic);
    const count = await this.#ensureTopic(topic, target);
    const headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> = {
      ...b.raw.headers,
      ...deadLetterHeaders({ ...rec, coordinates: { topic, partition, offset } }),
      [KafkaDeadLetterHeaders.topic]: topic,
      [KafkaDeadLetterHeaders.partition]: String(partition),
      [KafkaDeadLetterHeaders.offset]: String(offset),
      [KafkaDeadLetterHeaders.timestamp]: String(timestamp),
    };
    const producer = await this.#connectProducer();
    await producer.send(target, [
      {
        key: b.raw.key,
        value: b.raw.value,
        headers,
        ...(count !== undefined && partition < count ? { partition } : {}),
      },
    ]);
  }

  #connectProducer(): Promise<TransportProducer> {
    if (this.#producer === undefined) {
      const p = this.#transport.producer({ idempotent: false, allowAutoTopicCreation: true, acks: -1, gzip: false });
      this.#producer = p.connect().then(
        () => p,
        (e: unknown) => {
          this.#producer = undefined;
          throw e;
        },
      );
    }
    return this.#producer;
  }

  /** Create the DLT with the source's partition count if it is missing; resolve its partition count. */
  #ensureTopic(source: string, target: string): Promise<number | undefined> {
    let p = this.#partitions.get(target);
    if (p === undefined) {
      p = this.#create(source, target).catch((e: unknown) => {
        this.#logger.warn({ err: toError(e), topic: target }, "could not check or create the dead-letter topic; producing anyway");
        this.#partitions.delete(target);
        return undefined;
      });
      this.#partitions.set(target, p);
    }
    return p;
  }

  async #create(source: string, target: string): Promise<number | undefined> {
    if (this.#admin === undefined) {
      const a = this.#transport.admin();
      this.#admin = a.connect().then(
        () => a,
        (e: unknown) => {
          this.#admin = undefined;
          throw e;
        },
      );
    }
    const admin = await this.#admin;
    const existing = await admin.partitionCount(target);
    if (existing !== undefined) return existing;
    const sourceCount = (await admin.partitionCount(source)) ?? 1;
    await admin.createTopic(target, sourceCount);
    return (await admin.partitionCount(target)) ?? sourceCount;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing: Promise<void>[] = [];
    if (this.#producer !== undefined) closing.push(this.#producer.then((p) => p.disconnect()));
    if (this.#admin !== undefined) closing.push(this.#admin.then((a) => a.disconnect()));
    for (const r of await Promise.allSettled(closing)) {
      if (r.status === "rejected") this.#logger.warn({ err: toError(r.reason) }, "closing the dead-letter producer failed");
    }
  }
}
