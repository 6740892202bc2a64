import * as kafka from "../src/index.ts";
const t0 = Date.now();
const l = new kafka.Listener("127.0.0.1:9092", { groupId: "g-missing", topics: "no-such-topic-xyz", driverRetry: { retries: 2, initialRetryTimeMs: 100 } });
await l.attach({ onConsumerRecord() {} });
try { await l.start(); console.log("started?!"); } catch (e) { const k = e as kafka.KafkaError; console.log("err", k.name, k.code, k.kafkaErrorType, k.message, Date.now() - t0); }
console.log(l.state);
const l2 = new kafka.Listener("127.0.0.1:1", { groupId: "g", topics: "x", driverRetry: { retries: 1, initialRetryTimeMs: 100 } });
await l2.attach({ onConsumerRecord() {} });
const t1 = Date.now();
try { await l2.start(); } catch (e) { const k = e as kafka.KafkaError; console.log("err2", k.name, k.code, k.message, Date.now() - t1); }
const p = new kafka.Producer("127.0.0.1:1", { driverRetry: { retries: 1, initialRetryTimeMs: 100 } });
const t2 = Date.now();
try { await p.send({ topic: "x", value: 1 }); } catch (e) { const k = e as kafka.KafkaError; console.log("err3", k.name, k.code, k.message, Date.now() - t2); }
await p.close();
