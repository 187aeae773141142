// An immutable string-keyed map whose update copies only what it touches:
// a fixed trie of LEVELS levels of FANOUT-wide arrays, indexed by the key's
// hash, with immutable Maps as leaves. A change copies one array per level
// on its key's path and that key's leaf. The recon stream's state must be
// immutable (the stream writer decides a batch of commands against states
// it may throw away), and it holds every item of an account: copying one
// Map per event made loading a stream of n events cost n². Here an event
// costs LEVELS × FANOUT plus a leaf of n / FANOUT^LEVELS entries: folding
// 150,000 match events (200,000 live items) takes 0.68 s
// (`node --expose-gc --import tsx bench/match-internals.ts`); one level of
// 1,024 buckets, tried first, took 4.7 s in a scratch run.

const FANOUT = 32;
const LEVELS = 3;
const LEAVES = FANOUT ** LEVELS;

/** FNV-1a over UTF-16 units: fast, and the same on every machine. */
function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % LEAVES;
}

type Node<V> = readonly (Node<V> | ReadonlyMap<string, V>)[];

const EMPTY_LEAF: ReadonlyMap<string, never> = new Map<string, never>();

function emptyNode<V>(level: number): Node<V> {
  // Every slot shares one empty child: the empty trie is LEVELS arrays, not FANOUT^LEVELS.
  const child = level === LEVELS - 1 ? EMPTY_LEAF : emptyNode<V>(level + 1);
  return new Array<Node<V> | ReadonlyMap<string, V>>(FANOUT).fill(child);
}

/** The slot of `leaf` at `level`: the leaf number's base-FANOUT digit, most significant first. */
function slot(leaf: number, level: number): number {
  return Math.floor(leaf / FANOUT ** (LEVELS - 1 - level)) % FANOUT;
}

export class BucketMap<V> {
  private constructor(
    private readonly root: Node<V>,
    readonly size: number,
  ) {}

  static empty<V>(): BucketMap<V> {
    return new BucketMap<V>(emptyNode<V>(0), 0);
  }

  private leafOf(key: string): ReadonlyMap<string, V> {
    const leaf = hashOf(key);
    let node: Node<V> | ReadonlyMap<string, V> = this.root;
    for (let level = 0; level < LEVELS; level++) node = (node as Node<V>)[slot(leaf, level)] ?? EMPTY_LEAF;
    return node as ReadonlyMap<string, V>;
  }

  get(key: string): V | undefined {
    return this.leafOf(key).get(key);
  }

  has(key: string): boolean {
    return this.leafOf(key).has(key);
  }

  /** A map with these keys set and those removed (removals after sets). */
  with(set: readonly (readonly [string, V])[], remove: readonly string[] = []): BucketMap<V> {
    let root = this.root;
    let size = this.size;
    // Leaves copied by this change (so several keys in one leaf copy it once), by leaf number.
    const copied = new Map<number, Map<string, V>>();
    const leafFor = (leaf: number): Map<string, V> => {
      let copy = copied.get(leaf);
      if (copy !== undefined) return copy;
      const path: (Node<V> | ReadonlyMap<string, V>)[][] = [];
      let node: Node<V> | ReadonlyMap<string, V> = root;
      for (let level = 0; level < LEVELS; level++) {
        const array: (Node<V> | ReadonlyMap<string, V>)[] = [...(node as Node<V>)];
        path.push(array);
        node = array[slot(leaf, level)] ?? EMPTY_LEAF;
      }
      copy = new Map(node as ReadonlyMap<string, V>);
      // Link the copies bottom up, then make the new root current.
      let child: Node<V> | ReadonlyMap<string, V> = copy;
      for (let level = LEVELS - 1; level >= 0; level--) {
        const array: (Node<V> | ReadonlyMap<string, V>)[] = path[level] ?? [];
        array[slot(leaf, level)] = child;
        child = array;
      }
      root = child as Node<V>;
      copied.set(leaf, copy);
      return copy;
    };
    for (const [key, value] of set) {
      const target = leafFor(hashOf(key));
      if (!target.has(key)) size++;
      target.set(key, value);
    }
    for (const key of remove) if (leafFor(hashOf(key)).delete(key)) size--;
    return new BucketMap(root, size);
  }

  *entries(): IterableIterator<[string, V]> {
    const walk = function* (node: Node<V> | ReadonlyMap<string, V>, level: number, seen: Set<unknown>): IterableIterator<[string, V]> {
      if (level === LEVELS) {
        yield* (node as ReadonlyMap<string, V>).entries();
        return;
      }
      for (const child of node as Node<V>) {
        // Shared empty children are visited once.
        if (seen.has(child)) continue;
        seen.add(child);
        yield* walk(child, level + 1, seen);
      }
    };
    yield* walk(this.root, 0, new Set());
  }
}
