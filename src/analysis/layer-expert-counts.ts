// Assignments per (logged layer, expert), counted row by row. When the meta line does not declare
// num_experts the width is a guess that widens as larger ids turn up (ids are bounded by the
// schema's MAX_EXPERT_ID, so this stops).
export class LayerExpertCounts {
  /** counts[layer index][expert]; an array may be replaced when it widens. */
  counts: Float64Array[];
  private width: number;

  constructor(layers: number, numExperts: number | undefined) {
    this.width = numExperts ?? 64;
    this.counts = Array.from({ length: layers }, () => new Float64Array(this.width));
  }

  add(layerIdx: number, expert: number): void {
    if (expert >= this.width) this.widen(Math.max(this.width * 2, expert + 1));
    this.counts[layerIdx]![expert]!++;
  }

  private widen(width: number): void {
    this.counts = this.counts.map((c) => {
      const w = new Float64Array(width);
      w.set(c);
      return w;
    });
    this.width = width;
  }
}
