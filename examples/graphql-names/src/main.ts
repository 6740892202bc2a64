/**
 * Start the names service on port 9000 (or `PORT`) until SIGTERM/SIGINT:
 *
 *   pnpm --filter @pirouette/example-graphql-names start
 *
 * Then, for example:
 *
 *   curl -s localhost:9000/graphql -H 'content-type: application/json' -d '{"query":"{ names }"}'
 *   curl -s localhost:9000/graphql -H 'content-type: application/json' \
 *     -d '{"query":"mutation { addName(name: \"Hank\") }"}'
 *
 * and subscribe with any graphql-ws client at ws://localhost:9000/graphql
 * (`subscription { names }`, `subscription { nameAdded }`).
 */
import { serve } from "@pirouette/core";
import { createListener } from "./names.ts";

const port = Number(process.env["PORT"] ?? 9000);
const { listener } = await createListener({ port });
await serve(listener);
console.log(`names service on http://localhost:${listener.port}/graphql (and ws://localhost:${listener.port}/graphql)`);
