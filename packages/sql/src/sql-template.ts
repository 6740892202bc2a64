/**
 * The `sql` tagged template: parameterised queries, never string building.
 *
 * @module
 */
import { SqlError } from "./errors.ts";

const brand: unique symbol = Symbol.for("@pirouette/sql/SqlQuery");

/** @internal One piece of a query: literal text, a bound value, or a quoted identifier. */
export type Segment =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "value"; readonly value: unknown }
  | { readonly kind: "identifier"; readonly parts: readonly string[] };

/** The SQL dialects a query can be rendered for. */
export type Dialect = "postgres" | "mysql";

/**
 * A parameterised query (Ballerina's `sql:ParameterizedQuery`), built only by the {@link sql}
 * tag and its helpers. Values stay separate from the text and are sent to the server as bound
 * parameters; fragments (`sql` inside `sql`) nest.
 *
 * @example
 * ```ts
 * const q: SqlQuery = sql`SELECT * FROM customers WHERE id = ${id}`;
 * q.render("postgres"); // { text: "SELECT * FROM customers WHERE id = $1", values: [id] }
 * ```
 */
export class SqlQuery {
  /** @internal */
  readonly segments: readonly Segment[];
  declare readonly [brand]: true;

  /** @internal Use the {@link sql} tag. */
  constructor(segments: readonly Segment[]) {
    this.segments = segments;
    Object.defineProperty(this, brand, { value: true, enumerable: false });
  }

  /** Whether `value` is a query built by the `sql` tag (from any copy of this package). */
  static is(value: unknown): value is SqlQuery {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /**
   * The text with placeholders for `dialect` (`$1…` for PostgreSQL, `?` for MySQL) and the
   * values to bind, in order.
   *
   * @example
   * ```ts
   * sql`SELECT ${1} + ${2}`.render("mysql"); // { text: "SELECT ? + ?", values: [1, 2] }
   * ```
   */
  render(dialect: Dialect): { readonly text: string; readonly values: unknown[] } {
    let text = "";
    const values: unknown[] = [];
    for (const s of this.segments) {
      if (s.kind === "text") text += s.text;
      else if (s.kind === "value") {
        values.push(s.value);
        text += dialect === "postgres" ? `$${values.length}` : "?";
      } else text += s.parts.map((p) => quoteIdentifier(p, dialect)).join(".");
    }
    return { text, values };
  }
}

function quoteIdentifier(name: string, dialect: Dialect): string {
  return dialect === "postgres" ? `"${name.replaceAll('"', '""')}"` : `\`${name.replaceAll("`", "``")}\``;
}

function build(strings: TemplateStringsArray, values: readonly unknown[]): SqlQuery {
  if (!Array.isArray(strings) || !Array.isArray((strings as { raw?: unknown }).raw)) {
    throw new SqlError("SQL_INVALID_QUERY", "sql must be used as a tagged template: sql`SELECT …`");
  }
  const segments: Segment[] = [];
  strings.forEach((text, i) => {
    if (text !== "") segments.push({ kind: "text", text });
    if (i < values.length) {
      const v = values[i];
      if (SqlQuery.is(v)) segments.push(...v.segments);
      else segments.push({ kind: "value", value: v });
    }
  });
  return new SqlQuery(segments);
}

/** The `sql` tag, with its helpers. */
export interface SqlTag {
  /** Build a parameterised query; `${value}` becomes a bound parameter, `${sql`…`}` nests. */
  (strings: TemplateStringsArray, ...values: unknown[]): SqlQuery;
  /**
   * Join fragments or values with a separator (default `", "`): values become parameters.
   *
   * @example
   * ```ts
   * sql`SELECT * FROM t WHERE id IN (${sql.join([1, 2, 3])})`;
   * sql`INSERT INTO t (a, b) VALUES ${sql.join(rows.map((r) => sql`(${r.a}, ${r.b})`))}`;
   * ```
   */
  join(items: readonly unknown[], separator?: string): SqlQuery;
  /**
   * A quoted identifier (table or column name, `schema.table` as separate parts), escaped for
   * the dialect the query runs on.
   *
   * @example
   * ```ts
   * sql`SELECT * FROM ${sql.id("public", "orders")}`; // "public"."orders" / `public`.`orders`
   * ```
   */
  id(...parts: string[]): SqlQuery;
  /** The empty fragment, for optional clauses: `${cond ? sql`AND x = ${x}` : sql.empty}`. */
  readonly empty: SqlQuery;
}

/**
 * Builds a parameterised {@link SqlQuery}. Interpolated values are never spliced into the SQL
 * text: each becomes a placeholder and is bound by the server, so `'; DROP TABLE t; --` stays
 * data. Nested `sql` fragments, {@link SqlTag.join} and {@link SqlTag.id} compose queries.
 *
 * @example
 * ```ts
 * const minAge = 18;
 * const byCity = city === undefined ? sql.empty : sql` AND city = ${city}`;
 * const q = sql`SELECT id, name FROM ${sql.id("customers")} WHERE age >= ${minAge}${byCity}`;
 * for await (const row of db.query(q)) console.log(row);
 * ```
 */
export const sql: SqlTag = Object.assign(
  (strings: TemplateStringsArray, ...values: unknown[]): SqlQuery => build(strings, values),
  {
    join(items: readonly unknown[], separator = ", "): SqlQuery {
      const segments: Segment[] = [];
      items.forEach((item, i) => {
        if (i > 0 && separator !== "") segments.push({ kind: "text", text: separator });
        if (SqlQuery.is(item)) segments.push(...item.segments);
        else segments.push({ kind: "value", value: item });
      });
      return new SqlQuery(segments);
    },
    id(...parts: string[]): SqlQuery {
      if (parts.length === 0 || parts.some((p) => typeof p !== "string" || p === "" || p.includes("\0"))) {
        throw new SqlError("SQL_INVALID_QUERY", "sql.id needs non-empty identifier parts");
      }
      return new SqlQuery([{ kind: "identifier", parts }]);
    },
    empty: new SqlQuery([]),
  },
);

/** @internal */
export function requireQuery(q: unknown): SqlQuery {
  if (!SqlQuery.is(q)) {
    throw new SqlError("SQL_INVALID_QUERY", "queries must be built with the sql tag: sql`SELECT … ${value}`");
  }
  return q;
}
