/**
 * @pirouette/graphql: GraphQL listener with query, mutation and subscription resolvers (subscriptions return Streams over graphql-ws) and a GraphQL client
 *
 * @module
 */
export {};
