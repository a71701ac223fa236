// A sorted set of integer positions kept as disjoint, non-adjacent runs [start, end], for the
// (request, layer) pairs whose positions have gaps or arrive out of order (coverage.ts keeps the
// common single run inline). Runs live in blocks of at most BLOCK_RUNS, so an insertion anywhere
// (descending positions with gaps, random order) costs O(log n + BLOCK_RUNS), never O(n): a flat
// array made 400k rows of descending gaps take 74 s.

const BLOCK_RUNS = 256;
const FIRST_BLOCK_RUNS = 4;

export class RunList {
  /** Each block: [s0, e0, s1, e1, ...] sorted, `counts[b]` runs used. */
  private blocks: Float64Array[] = [];
  private counts: number[] = [];
  /** Runs allocated in all blocks (what memory accounting charges). */
  capacity = 0;
  runs = 0;
  /** Positions covered. */
  size = 0;

  /** Adds [s, e]; false (and no change) when any of it is already present. */
  add(s: number, e: number): boolean {
    // First run whose end >= s - 1 (the only ones that can touch or overlap [s, e]).
    let b = this.firstBlockEndingAtOrAfter(s - 1);
    if (b === this.blocks.length) {
      this.insertAt(this.blocks.length - 1, this.blocks.length ? this.counts[this.blocks.length - 1]! : 0, s, e);
      return true;
    }
    let i = this.firstRunEndingAtOrAfter(b, s - 1);
    let left: [number, number] | null = null;
    if (this.blocks[b]![2 * i + 1] === s - 1) {
      left = [b, i];
      [b, i] = this.next(b, i);
    }
    if (b < this.blocks.length) {
      const start = this.blocks[b]![2 * i]!;
      if (start <= e) return false; // overlaps: its end is >= s
      if (start === e + 1) {
        if (left) {
          // [.. left] [s, e] [right ..] become one run
          const end = this.blocks[b]![2 * i + 1]!;
          this.blocks[left[0]]![2 * left[1] + 1] = end;
          this.removeAt(b, i);
        } else this.blocks[b]![2 * i] = s;
        this.size += e - s + 1;
        return true;
      }
    }
    if (left) {
      this.blocks[left[0]]![2 * left[1] + 1] = e;
      this.size += e - s + 1;
      return true;
    }
    this.insertAt(b, i, s, e);
    return true;
  }

  /** Same positions as `other`, compared block by block without copying. */
  equals(other: RunList): boolean {
    if (other.runs !== this.runs || other.size !== this.size) return false;
    let ob = 0;
    let oi = 0;
    for (let b = 0; b < this.blocks.length; b++) {
      const blk = this.blocks[b]!;
      for (let i = 0; i < this.counts[b]!; i++) {
        while (oi === other.counts[ob]) {
          ob++;
          oi = 0;
        }
        const oblk = other.blocks[ob]!;
        if (blk[2 * i] !== oblk[2 * oi] || blk[2 * i + 1] !== oblk[2 * oi + 1]) return false;
        oi++;
      }
    }
    return true;
  }

  /** Every run in order, as a flat [s0, e0, s1, e1, ...]. */
  toFlat(): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.blocks.length; b++) {
      const blk = this.blocks[b]!;
      for (let j = 0; j < 2 * this.counts[b]!; j++) out.push(blk[j]!);
    }
    return out;
  }

  get min(): number {
    return this.blocks.length ? this.blocks[0]![0]! : -1;
  }

  get max(): number {
    const last = this.blocks.length - 1;
    return last >= 0 ? this.blocks[last]![2 * this.counts[last]! - 1]! : -1;
  }

  /** Runs in the fullest block (<= BLOCK_RUNS): bounds what one insertion moves. */
  get largestBlock(): number {
    let m = 0;
    for (const c of this.counts) if (c > m) m = c;
    return m;
  }

  private next(b: number, i: number): [number, number] {
    return i + 1 < this.counts[b]! ? [b, i + 1] : [b + 1, 0];
  }

  private firstBlockEndingAtOrAfter(t: number): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.blocks[mid]![2 * this.counts[mid]! - 1]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private firstRunEndingAtOrAfter(b: number, t: number): number {
    const blk = this.blocks[b]!;
    let lo = 0;
    let hi = this.counts[b]!;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (blk[2 * mid + 1]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Inserts run [s, e] before run i of block b (i may equal its count: at its end). */
  private insertAt(b: number, i: number, s: number, e: number): void {
    if (b < 0) {
      this.blocks.push(new Float64Array(2 * FIRST_BLOCK_RUNS));
      this.counts.push(0);
      this.capacity += FIRST_BLOCK_RUNS;
      b = 0;
      i = 0;
    }
    let n = this.counts[b]!;
    if (n * 2 === this.blocks[b]!.length) {
      if (n < BLOCK_RUNS) this.grow(b);
      else if (i === n || i === 0) {
        // Appending past the end or before the start (positions in order, or in reverse): a new
        // block beside it keeps the full one full, where a split would leave two half-empty.
        const at = i === 0 ? b : b + 1;
        this.blocks.splice(at, 0, new Float64Array(2 * FIRST_BLOCK_RUNS));
        this.counts.splice(at, 0, 0);
        this.capacity += FIRST_BLOCK_RUNS;
        b = at;
        i = 0;
        n = 0;
      } else {
        // Split the full block in two halves; continue in the half that holds position i.
        const half = n >> 1;
        const right = new Float64Array(2 * BLOCK_RUNS);
        right.set(this.blocks[b]!.subarray(2 * half, 2 * n));
        this.blocks.splice(b + 1, 0, right);
        this.counts.splice(b + 1, 0, n - half);
        this.counts[b] = half;
        this.capacity += BLOCK_RUNS;
        if (i > half) {
          b++;
          i -= half;
        }
        n = this.counts[b]!;
      }
    }
    const blk = this.blocks[b]!;
    blk.copyWithin(2 * i + 2, 2 * i, 2 * n);
    blk[2 * i] = s;
    blk[2 * i + 1] = e;
    this.counts[b] = n + 1;
    this.runs++;
    this.size += e - s + 1;
  }

  private grow(b: number): void {
    const old = this.blocks[b]!;
    const bigger = new Float64Array(Math.min(2 * BLOCK_RUNS, old.length * 2));
    bigger.set(old);
    this.capacity += (bigger.length - old.length) / 2;
    this.blocks[b] = bigger;
  }

  private removeAt(b: number, i: number): void {
    const n = this.counts[b]!;
    this.blocks[b]!.copyWithin(2 * i, 2 * i + 2, 2 * n);
    this.counts[b] = n - 1;
    this.runs--;
    if (n - 1 === 0) {
      this.capacity -= this.blocks[b]!.length / 2;
      this.blocks.splice(b, 1);
      this.counts.splice(b, 1);
    }
  }
}
