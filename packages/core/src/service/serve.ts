/**
 * `serve(...listeners)`: Ballerina's program lifecycle for Node processes.
 *
 * @module
 */
import { toError } from "../errors.ts";
import type { Listener } from "./listener.ts";
import { silentLogger, type Logger } from "./logger.ts";

/** Options for {@link serve}, passed as the last argument. */
export interface ServeOptions {
  /** How long the graceful stop may take before listeners are stopped immediately. Default 30 000 ms. */
  readonly gracefulStopTimeoutMs?: number;
  /** Signals that trigger the graceful stop. Default SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Run after every listener stopped (Ballerina's `runtime:onGracefulStop`), in order. */
  readonly onGracefulStop?: readonly (() => unknown)[];
  /** Call `process.exit(code)` once stopped. Default true. */
  readonly exit?: boolean;
  readonly logger?: Logger;
}

/** The handle {@link serve} resolves to. */
export interface Served {
  /** Stop gracefully now, as if a signal arrived. Resolves with the exit code. */
  stop(): Promise<number>;
  /** Resolves with the exit code once everything stopped: 0, or 1 if something failed. */
  readonly stopped: Promise<number>;
}

function isListener(x: unknown): x is Listener {
  return typeof x === "object" && x !== null && typeof (x as Listener).start === "function";
}

/**
 * Start every listener, then turn SIGTERM/SIGINT into `gracefulStop` on all of them (a second
 * signal, or the timeout, into `immediateStop`), run the `onGracefulStop` hooks, and exit with
 * 0, or 1 if a start, stop or hook failed. If a listener fails to start, the ones already
 * started are stopped and the promise rejects.
 *
 * @example
 * ```ts
 * await serve(kafkaListener, httpListener, { gracefulStopTimeoutMs: 10_000 });
 * ```
 */
export async function serve(...args: (Listener | ServeOptions)[]): Promise<Served> {
  const last = args[args.length - 1];
  const options: ServeOptions = last !== undefined && !isListener(last) ? last : {};
  const listeners = args.filter(isListener);
  const log = options.logger ?? silentLogger;
  const timeoutMs = options.gracefulStopTimeoutMs ?? 30_000;
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];

  const started: Listener[] = [];
  try {
    for (const l of listeners) {
      await l.start();
      started.push(l);
    }
  } catch (e) {
    log.error({ err: toError(e) }, "a listener failed to start; stopping the others");
    await Promise.allSettled(started.map((l) => l.gracefulStop()));
    process.exitCode = 1;
    throw e;
  }

  // Like a Ballerina program with listeners, stay up until stopped, even when no listener holds
  // a socket open (the in-memory one): signal handlers alone do not keep Node running.
  const keepAlive = setInterval(() => undefined, 2 ** 30);

  let failed = false;
  let stopping: Promise<number> | undefined;
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => {
    resolveStopped = resolve;
  });

  const immediate = async (): Promise<void> => {
    failed = true;
    const results = await Promise.allSettled(listeners.map((l) => l.immediateStop()));
    for (const r of results) if (r.status === "rejected") log.error({ err: toError(r.reason) }, "immediateStop failed");
  };

  const graceful = async (): Promise<number> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
      timer.unref();
    });
    const all = Promise.allSettled(listeners.map((l) => l.gracefulStop()));
    const outcome = await Promise.race([all, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      log.error({ timeoutMs }, "graceful stop timed out; stopping immediately");
      await immediate();
    } else {
      for (const r of outcome) {
        if (r.status === "rejected") {
          failed = true;
          log.error({ err: toError(r.reason) }, "gracefulStop failed");
        }
      }
    }
    for (const hook of options.onGracefulStop ?? []) {
      try {
        await hook();
      } catch (e) {
        failed = true;
        log.error({ err: toError(e) }, "onGracefulStop hook failed");
      }
    }
    for (const s of signals) process.off(s, onSignal);
    clearInterval(keepAlive);
    const code = failed ? 1 : 0;
    process.exitCode = code;
    resolveStopped(code);
    if (options.exit !== false) process.exit(code);
    return code;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping === undefined) {
      log.info({ signal }, "stopping gracefully");
      stopping = graceful();
      return;
    }
    log.warn({ signal }, "second signal: stopping immediately");
    void immediate();
  };
  for (const s of signals) process.on(s, onSignal);

  return {
    stop: () => (stopping ??= graceful()),
    stopped,
  };
}
