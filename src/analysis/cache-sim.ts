// Expert-cache simulation of one layer's access sequence, for every capacity at once. Pure.
//
// LRU, LFU and Belady's OPT as defined here are priority policies whose priority order does not
// depend on the capacity, so they are stack algorithms (Mattson et al., 1970): the cache of
// capacity C always holds the top C entries of one stack, and an access hits with capacity C iff
// its stack depth is <= C. One pass per policy therefore gives the hits of every capacity 1..E.
// On an access to x at depth d (or a miss), x goes on top and the old top is carried down:
// at each position above d the lower-priority of (carried, resident) is carried further, and
// what is carried at the end lands at depth d (or at the bottom on a miss). test/cache-sim.test.ts
// checks every policy against a plain per-capacity simulation.
// Definitions (APPENDIX.md "expert cache"): a miss inserts the expert, evicting the policy's
// victim when full; lru evicts the least recently used; lfu the fewest accesses since the start
// (ties: least recently used); opt the one whose next access is farthest ahead (never = infinitely
// far; ties: lowest id); static keeps only the C most-accessed experts of the whole sequence
// (ties: lowest id): each is loaded at its first access (a miss) and never evicted, and every
// other expert is never cached. Every cache starts empty, so at C = E all policies agree.

export const CACHE_POLICIES = ["lru", "lfu", "opt", "static"] as const;
export type CachePolicy = (typeof CACHE_POLICIES)[number];

const NEVER = 0x7fffffff;

/** Per capacity c = 0..E, the hits of a cache of c experts (hits[0] = 0). */
export type HitsByCapacity = Float64Array;

/** Hits per capacity for one policy over one access sequence of expert ids in [0, E). */
export function simulateCache(seq: Int32Array, E: number, policy: CachePolicy): HitsByCapacity {
  return policy === "static" ? staticHits(seq, E) : stackHits(seq, E, policy);
}

function stackHits(seq: Int32Array, E: number, policy: "lru" | "lfu" | "opt"): HitsByCapacity {
  const n = seq.length;
  const stack = new Int32Array(E);
  const where = new Int32Array(E).fill(-1);
  let size = 0;
  const atDepth = new Float64Array(E + 1);
  // Priority state. lru: last access; lfu: accesses so far, then last access; opt: next access.
  const last = new Float64Array(E).fill(-1);
  const uses = new Float64Array(E);
  const next = new Int32Array(E).fill(NEVER);
  const nextUse = policy === "opt" ? nextUses(seq, E) : null;

  // Each policy's loop is written out with its priority test inline ("a has lower priority than
  // b": a would be evicted before b): one shared loop calling a comparator closure spent ~60% of
  // `cache`'s CPU in it here. LRU needs no test: the stack is in recency order, so everything
  // above the accessed depth moves down by one.
  for (let t = 0; t < n; t++) {
    const x = seq[t]!;
    const d = where[x]!;
    if (d !== 0) {
      const end = d === -1 ? size : d;
      if (policy === "lru") {
        for (let i = end; i > 0; i--) {
          const y = stack[i - 1]!;
          stack[i] = y;
          where[y] = i;
        }
        stack[0] = x;
        where[x] = 0;
      } else {
        let carried = stack[0]!;
        stack[0] = x;
        where[x] = 0;
        if (size > 0) {
          if (policy === "lfu") {
            for (let i = 1; i < end; i++) {
              const y = stack[i]!;
              if (uses[y]! < uses[carried]! || (uses[y] === uses[carried] && last[y]! < last[carried]!)) {
                stack[i] = carried;
                where[carried] = i;
                carried = y;
              }
            }
          } else {
            for (let i = 1; i < end; i++) {
              const y = stack[i]!;
              if (next[y]! > next[carried]! || (next[y] === next[carried] && y < carried)) {
                stack[i] = carried;
                where[carried] = i;
                carried = y;
              }
            }
          }
          stack[end] = carried;
          where[carried] = end;
        }
      }
      if (d === -1) size++;
      else atDepth[d + 1]!++;
    } else atDepth[1]!++;
    last[x] = t;
    uses[x]!++;
    if (nextUse) next[x] = nextUse[t]!;
  }
  const hits = new Float64Array(E + 1);
  for (let c = 1; c <= E; c++) hits[c] = hits[c - 1]! + atDepth[c]!;
  return hits;
}

/** For each position, the position of the next access to the same expert (NEVER if none). */
function nextUses(seq: Int32Array, E: number): Int32Array {
  const out = new Int32Array(seq.length);
  const seen = new Int32Array(E).fill(NEVER);
  for (let t = seq.length - 1; t >= 0; t--) {
    const x = seq[t]!;
    out[t] = seen[x]!;
    seen[x] = t;
  }
  return out;
}

function staticHits(seq: Int32Array, E: number): HitsByCapacity {
  const counts = accessCounts(seq, E);
  const order = Array.from({ length: E }, (_, i) => i).sort((a, b) => counts[b]! - counts[a]! || a - b);
  const hits = new Float64Array(E + 1);
  // A pinned expert's first access is a miss too (the cache starts empty like the others).
  for (let c = 1; c <= E; c++) hits[c] = hits[c - 1]! + Math.max(0, counts[order[c - 1]!]! - 1);
  return hits;
}

export function accessCounts(seq: Int32Array, E: number): Float64Array {
  const counts = new Float64Array(E);
  for (let t = 0; t < seq.length; t++) counts[seq[t]!]!++;
  return counts;
}

/**
 * The smallest capacity (of those given, ascending) whose hit rate reaches each target;
 * null when none does. Keys are the targets as written ("0.9").
 */
export function capacityFor(
  capacities: readonly number[],
  hitRates: readonly (number | null)[],
  targets: readonly number[],
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const target of targets) {
    let found: number | null = null;
    for (let i = 0; i < capacities.length; i++) {
      const r = hitRates[i];
      // A hair of tolerance: 0.9 of 10 accesses is 9/10, which floating point may put just below 0.9.
      if (r !== null && r !== undefined && r >= target - 1e-12) {
        found = capacities[i]!;
        break;
      }
    }
    out[String(target)] = found;
  }
  return out;
}
