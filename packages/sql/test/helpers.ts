import type { StandardSchemaV1 } from "@standard-schema/spec";
import { randomBytes } from "node:crypto";

export const PGURL = process.env["PGURL"] ?? "postgres://postgres@127.0.0.1:5432/test";
export const MYSQL_URL = process.env["MYSQL_URL"] ?? "mysql://root@127.0.0.1:3306/test";

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

/** A minimal hand-written Standard Schema: `{ id: number, name: string }`. */
export const Person: StandardSchemaV1<unknown, { id: number; name: string }> = {
  "~standard": {
    version: 1,
    vendor: "test",
    validate(value) {
      const v = value as { id?: unknown; name?: unknown };
      const issues: StandardSchemaV1.Issue[] = [];
      if (typeof v.id !== "number") issues.push({ message: "expected a number", path: ["id"] });
      if (typeof v.name !== "string") issues.push({ message: "expected a string", path: ["name"] });
      return issues.length > 0 ? { issues } : { value: { id: v.id as number, name: v.name as string } };
    },
  },
};
