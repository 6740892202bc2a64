/**
 * Depth and complexity limits as a graphql-js validation rule.
 * @internal
 * @module
 */
import { GraphQLError, Kind, type ASTVisitor, type SelectionSetNode, type ValidationContext, type ValidationRule } from "graphql";

interface Measure {
  readonly depth: number;
  readonly cost: number;
}

const LEAF: Measure = { depth: 0, cost: 0 };

/**
 * Reports operations nesting deeper than `maxDepth` or selecting more than `maxComplexity`
 * fields (fragments expanded: each spread counts its fragment again). `__typename` is free;
 * introspection fields count for complexity, not depth.
 * A limit of 0 (or less) is off.
 */
export function limitsRule(maxDepth: number, maxComplexity: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const m = measure(node.selectionSet, context, new Map(), new Set());
      const name = node.name === undefined ? "the operation" : `operation "${node.name.value}"`;
      if (maxDepth > 0 && m.depth > maxDepth) {
        context.reportError(
          new GraphQLError(`${name} is ${m.depth} levels deep; at most ${maxDepth} are allowed`, {
            nodes: [node],
            extensions: { code: "QUERY_TOO_DEEP", depth: m.depth, maxDepth },
          }),
        );
      }
      if (maxComplexity > 0 && m.cost > maxComplexity) {
        context.reportError(
          new GraphQLError(`${name} selects ${m.cost} fields; at most ${maxComplexity} are allowed`, {
            nodes: [node],
            extensions: { code: "QUERY_TOO_COMPLEX", complexity: m.cost, maxComplexity },
          }),
        );
      }
      return false;
    },
  });
}

/** Depth and field count of a selection set. Fragments are measured once (memo) and cycles skipped (NoFragmentCycles reports them). */
function measure(set: SelectionSetNode, context: ValidationContext, memo: Map<string, Measure>, visiting: Set<string>): Measure {
  let depth = 0;
  let cost = 0;
  for (const sel of set.selections) {
    let m: Measure;
    switch (sel.kind) {
      case Kind.FIELD: {
        if (sel.name.value === "__typename") continue;
        const child = sel.selectionSet === undefined ? LEAF : measure(sel.selectionSet, context, memo, visiting);
        // Introspection (__schema, __type) is bounded by complexity and can be turned off; its
        // type references nest deep by design, so it does not count for depth.
        m = { depth: sel.name.value.startsWith("__") ? 0 : child.depth + 1, cost: child.cost + 1 };
        break;
      }
      case Kind.INLINE_FRAGMENT:
        m = measure(sel.selectionSet, context, memo, visiting);
        break;
      case Kind.FRAGMENT_SPREAD: {
        const name = sel.name.value;
        const known = memo.get(name);
        if (known !== undefined) {
          m = known;
          break;
        }
        const fragment = context.getFragment(name);
        if (fragment === undefined || fragment === null || visiting.has(name)) continue;
        visiting.add(name);
        m = measure(fragment.selectionSet, context, memo, visiting);
        visiting.delete(name);
        memo.set(name, m);
        break;
      }
    }
    if (m.depth > depth) depth = m.depth;
    cost += m.cost;
  }
  return { depth, cost };
}
