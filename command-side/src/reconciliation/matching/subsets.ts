// Bounded subset-sum: which few items, out of a small pool, add up to a
// target. Depth first over the pool in its given order, pruned by what the
// rest of the pool can still add; every visited node counts against a
// budget, and running out is reported, never hidden.

export interface SubsetQuery {
  /** Positive magnitudes, in the pool's canonical order. */
  readonly magnitudes: readonly bigint[];
  readonly target: bigint;
  /** Largest |sum − target| accepted (0: exact only). */
  readonly slackMinor: bigint;
  readonly sizeMin: number;
  readonly sizeMax: number;
  readonly nodesMax: number;
  /** Subsets to collect before stopping (the caller ranks them). */
  readonly keepMax: number;
}

export interface SubsetAnswer {
  /** Positions in the pool, ascending, per subset found. */
  readonly subsets: number[][];
  /** The node budget ran out before the search was complete. */
  readonly cut: boolean;
}

export function findSubsets(query: SubsetQuery): SubsetAnswer {
  const { magnitudes, target, slackMinor, sizeMin, sizeMax, nodesMax, keepMax } = query;
  const n = magnitudes.length;
  const rest: bigint[] = new Array<bigint>(n + 1).fill(0n);
  for (let i = n - 1; i >= 0; i--) rest[i] = (rest[i + 1] ?? 0n) + (magnitudes[i] ?? 0n);
  const subsets: number[][] = [];
  const chosen: number[] = [];
  let nodes = 0;
  let cut = false;
  const low = target - slackMinor;
  const high = target + slackMinor;
  const visit = (from: number, sum: bigint): void => {
    for (let i = from; i < n; i++) {
      if (subsets.length >= keepMax || cut) return;
      if (++nodes > nodesMax) {
        cut = true;
        return;
      }
      // Nothing from here on can reach the target any more.
      if (sum + (rest[i] ?? 0n) < low) return;
      const next = sum + (magnitudes[i] ?? 0n);
      if (next > high) continue;
      chosen.push(i);
      if (next >= low && chosen.length >= sizeMin) subsets.push([...chosen]);
      else if (chosen.length < sizeMax) visit(i + 1, next);
      chosen.pop();
    }
  };
  visit(0, 0n);
  return { subsets, cut };
}

/** Every subset of size 1..sizeMax of the pool with its sum, bounded by nodesMax. */
export function subsetSums(magnitudes: readonly bigint[], sizeMax: number, nodesMax: number): { sums: Map<bigint, number[][]>; cut: boolean } {
  const sums = new Map<bigint, number[][]>();
  const chosen: number[] = [];
  let nodes = 0;
  let cut = false;
  const visit = (from: number, sum: bigint): void => {
    for (let i = from; i < magnitudes.length; i++) {
      if (++nodes > nodesMax) {
        cut = true;
        return;
      }
      const next = sum + (magnitudes[i] ?? 0n);
      chosen.push(i);
      const list = sums.get(next);
      if (list === undefined) sums.set(next, [[...chosen]]);
      else list.push([...chosen]);
      if (chosen.length < sizeMax) visit(i + 1, next);
      chosen.pop();
      if (cut) return;
    }
  };
  visit(0, 0n);
  return { sums, cut };
}
