/**
 * The seeds' GraphQL service, in Pirouette:
 *
 * ```ballerina
 * service /graphql on new graphql:Listener(9000) {
 *   resource function subscribe names() returns stream<string, error?> {
 *     return ["Walter", "Skyler", "Jesse"].toStream();
 *   }
 * }
 * ```
 *
 * GraphQL needs a Query type (Ballerina's compiler asks for a `resource function get` too), so
 * the service also answers `greeting(name)` and `names` as a query, takes new names with the
 * `addName` mutation (validated with zod), and streams them live with `nameAdded`.
 */
import { PushSource, Stream } from "@pirouette/core";
import * as graphql from "@pirouette/graphql";
import { z } from "zod";

/** A name: 1 to 40 characters, trimmed. */
export const Name = z.object({ name: z.string().trim().min(1, "a name cannot be empty").max(40) });

/** The names service: the schema is derived from its decorated methods. */
export class NamesService {
  readonly #names = ["Walter", "Skyler", "Jesse"];
  /** One feed per `nameAdded` subscriber. */
  readonly #feeds = new Set<PushSource<string>>();

  /** Ballerina's `resource function get greeting(string name) returns string`. */
  @graphql.query("String!", { args: { name: "String!" }, schema: Name })
  greeting({ name }: z.infer<typeof Name>): string {
    return `Hello, ${name}`;
  }

  /** Every name so far (a query field may share its name with the subscription). */
  @graphql.query("[String!]!", { name: "names" })
  allNames(): readonly string[] {
    return this.#names;
  }

  /** The seeds' `resource function subscribe names() returns stream<string, error?>`. */
  @graphql.subscription("String!")
  names(): Stream<string> {
    return Stream.from([...this.#names]);
  }

  /** Ballerina's `remote function addName(string name) returns int`: mutations run one after the other. */
  @graphql.mutation("Int!", { args: { name: "String!" }, schema: Name })
  addName({ name }: z.infer<typeof Name>): number {
    this.#names.push(name);
    for (const feed of this.#feeds) feed.push(name);
    return this.#names.length;
  }

  /** Names as they are added; the feed is released when the subscriber completes or goes away. */
  @graphql.subscription("String!")
  nameAdded(): Stream<string> {
    const feed: PushSource<string> = new PushSource<string>({ onClose: () => this.#feeds.delete(feed) });
    this.#feeds.add(feed);
    return feed.stream;
  }

  /** Live `nameAdded` subscribers. */
  get subscribers(): number {
    return this.#feeds.size;
  }
}

/** Options of {@link createListener}. */
export interface NamesOptions {
  /** Default 9000 (Ballerina's example); 0 picks a free port. */
  readonly port?: number;
  readonly host?: string;
}

/**
 * A listener with the names service attached at `/graphql`.
 *
 * @example
 * ```ts
 * const { listener } = createListener({ port: 0 });
 * await listener.start();
 * ```
 */
export async function createListener(options: NamesOptions = {}): Promise<{ listener: graphql.Listener; service: NamesService }> {
  const listener = new graphql.Listener(options.port ?? 9000, {
    ...(options.host === undefined ? {} : { host: options.host }),
    gracefulStopTimeoutMs: 5_000,
  });
  const service = new NamesService();
  // `service /graphql on listener` (the `@service(listener, "/graphql")` decorator does the same).
  await listener.attach(service, "/graphql");
  return { listener, service };
}
