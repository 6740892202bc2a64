/**
 * The port between the client and the pg / mysql2 drivers.
 *
 * @module
 * @internal
 */
import type { Row, ExecutionResult } from "../options.ts";
import type { Dialect } from "../sql-template.ts";

/** An open result: read batches until null. */
export interface RowReader {
  /** The next batch (never empty), or null at the end. Rejects with a driver error. */
  read(): Promise<Row[] | null>;
  /**
   * Release the result (early close, end or failure). Resolves to whether the session can
   * be reused; false means it must be destroyed.
   */
  close(keepSession: boolean): Promise<boolean>;
}

/** One connection. */
export interface Session {
  rows(text: string, values: unknown[], batchSize: number): RowReader;
  exec(text: string, values: unknown[]): Promise<ExecutionResult>;
  /** Statements without parameters or results (BEGIN, COMMIT…). */
  run(text: string): Promise<void>;
  release(destroy: boolean): void;
}

export interface Driver {
  readonly dialect: Dialect;
  acquire(): Promise<Session>;
  end(): Promise<void>;
}

/** Drivers treat `undefined` differently (mysql2 throws): bind it as NULL. */
export function bindable(values: unknown[]): unknown[] {
  return values.map((v) => (v === undefined ? null : v));
}
