// The 1:1 choice: among all scored pairs, the set of pairs with the largest
// total weight (PAIR_WEIGHT of each score) in which no item appears twice (a
// maximum-weight bipartite matching), not the first or the locally best pair. The pairs form a graph;
// each connected component is solved on its own, exactly by the Hungarian
// method when it is small enough (almost all are one or two pairs), else
// greedily by score, and the bound says so.
import assert from "node:assert";
import { at, present } from "./at.ts";

export interface Edge {
  /** Indices into the external and internal items. */
  readonly external: number;
  readonly internal: number;
  readonly score: number;
}

export interface AssignmentResult {
  /** Chosen edges, indices into the input edges. */
  readonly chosen: readonly number[];
  /** Components solved greedily because they exceeded componentSizeMax. */
  readonly greedyComponents: number;
}

class UnionFind {
  private readonly parent: Int32Array;
  constructor(size: number) {
    this.parent = new Int32Array(size);
    for (let i = 0; i < size; i++) this.parent[i] = i;
  }
  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = (this.parent[root] ?? 0);
    while (this.parent[x] !== root) {
      const next = (this.parent[x] ?? 0);
      this.parent[x] = root;
      x = next;
    }
    return root;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/**
 * Edges must be sorted by (external, internal) and unique per pair: the
 * order makes the result independent of how the caller found them.
 */
export function assign(edges: readonly Edge[], externalCount: number, componentSizeMax: number): AssignmentResult {
  const nodes = externalCount + (edges.reduce((max, e) => Math.max(max, e.internal), -1) + 1);
  const sets = new UnionFind(nodes);
  for (const edge of edges) sets.union(edge.external, externalCount + edge.internal);
  // Each component's edges, in edge order, by a counting sort on their root (almost all components are one edge: an array each was a million arrays).
  const roots = new Int32Array(edges.length);
  const starts = new Int32Array(nodes + 1);
  edges.forEach((edge, index) => {
    const root = sets.find(edge.external);
    roots[index] = root;
    starts[root + 1] = at(starts, root + 1) + 1;
  });
  for (let k = 0; k < nodes; k++) starts[k + 1] = at(starts, k + 1) + at(starts, k);
  const next = starts.slice(0, nodes);
  const grouped = new Int32Array(edges.length);
  for (let index = 0; index < edges.length; index++) {
    const root = at(roots, index);
    grouped[at(next, root)] = index;
    next[root] = at(next, root) + 1;
  }
  const chosen: number[] = [];
  let greedyComponents = 0;
  // The order components are solved in does not matter: each is solved on its own, and the chosen edges are sorted at the end.
  for (let root = 0; root < nodes; root++) {
    const from = at(starts, root);
    const to = at(starts, root + 1);
    if (to - from === 0) continue;
    if (to - from === 1) {
      chosen.push(at(grouped, from));
      continue;
    }
    const members = Array.from(grouped.subarray(from, to));
    const externals = distinct(members.map((i) => (at(edges, i)).external));
    const internals = distinct(members.map((i) => (at(edges, i)).internal));
    // The method's cost is n²·m: both sides are bounded, the larger one more loosely.
    if (Math.min(externals.length, internals.length) > componentSizeMax || Math.max(externals.length, internals.length) > 4 * componentSizeMax) {
      greedyComponents++;
      chosen.push(...greedy(edges, members));
    } else {
      chosen.push(...hungarian(edges, members, externals, internals));
    }
  }
  chosen.sort((a, b) => a - b);
  return { chosen, greedyComponents };
}

function distinct(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** By score, then by position (the edges' canonical order). */
function greedy(edges: readonly Edge[], members: readonly number[]): number[] {
  const order = [...members].sort((a, b) => (at(edges, b)).score - (at(edges, a)).score || a - b);
  const usedExternal = new Set<number>();
  const usedInternal = new Set<number>();
  const chosen: number[] = [];
  for (const index of order) {
    const edge = at(edges, index);
    if (usedExternal.has(edge.external) || usedInternal.has(edge.internal)) continue;
    usedExternal.add(edge.external);
    usedInternal.add(edge.internal);
    chosen.push(index);
  }
  return chosen;
}

/**
 * What a pair of a given score is worth in the total: each 10 points double
 * it (100 → 102,400; 50 → 3,200). Summing raw scores would trade one certain
 * pair (100) for two doubtful ones (55 + 55) on the same items; with weights
 * like odds, a set of pairs wins by being likelier right, not by being more.
 * Integers, exact in a double.
 */
export const PAIR_WEIGHT: readonly number[] = Array.from({ length: 101 }, (_, score) => Math.round(100 * 2 ** (score / 10)));

const NO_EDGE = (PAIR_WEIGHT[100] ?? 0) + 1;

/**
 * Maximum-weight matching of one component by the Hungarian method
 * (shortest augmenting paths with potentials, O(n²·m) for n ≤ m). Costs are
 * NO_EDGE − weight for a scored pair and NO_EDGE for no pair, so leaving an
 * item unmatched costs as much as pairing it with nothing, and the
 * least-cost complete assignment is the largest-weight matching. Integer
 * costs: exact.
 */
function hungarian(edges: readonly Edge[], members: readonly number[], externals: readonly number[], internals: readonly number[]): number[] {
  const rowsAreExternal = externals.length <= internals.length;
  const rows = rowsAreExternal ? externals : internals;
  const cols = rowsAreExternal ? internals : externals;
  const n = rows.length;
  const m = cols.length;
  const rowOf = new Map(rows.map((item, i) => [item, i + 1]));
  const colOf = new Map(cols.map((item, j) => [item, j + 1]));
  const cost = new Float64Array((n + 1) * (m + 1)).fill(NO_EDGE);
  const edgeAt = new Int32Array((n + 1) * (m + 1)).fill(-1);
  for (const index of members) {
    const edge = at(edges, index);
    const r = present(rowOf.get(rowsAreExternal ? edge.external : edge.internal), "row");
    const c = present(colOf.get(rowsAreExternal ? edge.internal : edge.external), "column");
    cost[r * (m + 1) + c] = NO_EDGE - (PAIR_WEIGHT[edge.score] ?? 0);
    edgeAt[r * (m + 1) + c] = index;
  }
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0] ?? 0;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j] === 1) continue;
        const reduced = (cost[i0 * (m + 1) + j] ?? 0) - (u[i0] ?? 0) - (v[j] ?? 0);
        if (reduced < (minv[j] ?? 0)) {
          minv[j] = reduced;
          way[j] = j0;
        }
        if ((minv[j] ?? 0) < delta) {
          delta = (minv[j] ?? 0);
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j] === 1) {
          const row = p[j] ?? 0;
          u[row] = (u[row] ?? 0) + delta;
          v[j] = (v[j] ?? 0) - delta;
        } else minv[j] = (minv[j] ?? 0) - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = (way[j0] ?? 0);
      p[j0] = (p[j1] ?? 0);
      j0 = j1;
    } while (j0 !== 0);
  }
  const chosen: number[] = [];
  for (let j = 1; j <= m; j++) {
    const r = (p[j] ?? 0);
    if (r === 0) continue;
    const index = edgeAt[r * (m + 1) + j] ?? -1;
    if (index >= 0) chosen.push(index);
  }
  assert.ok(chosen.length <= n);
  return chosen;
}
