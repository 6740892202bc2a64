/**
 * Type-level reading of SDL type references, so decorated resolvers are checked by tsc:
 * `@graphql.query("String!", { args: { name: "String!" } })` wants a method taking
 * `{ name: string }` and returning a `string`.
 *
 * @module
 */

/** The built-in scalars and their TypeScript types. */
interface Scalars {
  String: string;
  ID: string;
  Int: number;
  Float: number;
  Boolean: boolean;
}

type Trim<S extends string> = S extends ` ${infer R}` ? Trim<R> : S extends `${infer R} ` ? Trim<R> : S;

type NonNullValue<S extends string> = S extends `[${infer Item}]` ? SdlValue<Item>[] : S extends keyof Scalars ? Scalars[S] : unknown;

/**
 * The TypeScript type of an SDL type reference: built-in scalars map to their types, lists to
 * arrays, a type without `!` may also be `null` or `undefined`, and other named types (objects,
 * enums, inputs, custom scalars) are `unknown`.
 *
 * @example
 * ```ts
 * type A = SdlValue<"String!">;   // string
 * type B = SdlValue<"[Int!]">;    // number[] | null | undefined
 * type C = SdlValue<"Order!">;    // unknown
 * ```
 */
export type SdlValue<S extends string> = Trim<S> extends `${infer Inner}!` ? NonNullValue<Trim<Inner>> : NonNullValue<Trim<S>> | null | undefined;

type NonNullResult<S extends string> = S extends `[${infer Item}]` ? readonly SdlResult<Item>[] : S extends keyof Scalars ? Scalars[S] : unknown;

/**
 * What a resolver of an SDL type may return: as {@link SdlValue}, with lists read-only (a
 * resolver may hand out an array it keeps).
 *
 * @example
 * ```ts
 * type R = SdlResult<"[String!]!">; // readonly string[]
 * ```
 */
export type SdlResult<S extends string> = Trim<S> extends `${infer Inner}!` ? NonNullResult<Trim<Inner>> : NonNullResult<Trim<S>> | null | undefined;

type Required<A> = { [K in keyof A as A[K] extends `${string}!` | `${string}=${string}` ? K : never]: A[K] extends `${infer T}=${string}` ? Exclude<SdlValue<T>, undefined> : SdlValue<A[K] & string> };
type Optional<A> = { [K in keyof A as A[K] extends `${string}!` | `${string}=${string}` ? never : K]?: SdlValue<A[K] & string> };
type Flatten<T> = { [K in keyof T]: T[K] };

/**
 * The arguments object of a field declared with an SDL argument map: non-null arguments and
 * arguments with a default are present, the others optional.
 *
 * @example
 * ```ts
 * type A = SdlArgs<{ name: "String!"; limit: "Int = 10"; tag: "String" }>;
 * // { name: string; limit: number | null; tag?: string | null | undefined }
 * ```
 */
export type SdlArgs<A extends Readonly<Record<string, string>>> = Flatten<Required<A> & Optional<A>>;
