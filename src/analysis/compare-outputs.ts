// Did logging change what the model generated? Compare two passes' output token ids per request.

export interface OutputComparison {
  requests: number;
  identical: number;
  diverged: Array<{ request: number; firstDifferentPosition: number; lengths: [number, number] }>;
}

export function compareOutputs(a: number[][], b: number[][]): OutputComparison {
  if (a.length !== b.length) throw new Error(`passes returned ${a.length} and ${b.length} requests`);
  const diverged: OutputComparison["diverged"] = [];
  a.forEach((x, i) => {
    const y = b[i]!;
    const n = Math.min(x.length, y.length);
    let k = 0;
    while (k < n && x[k] === y[k]) k++;
    if (k < n || x.length !== y.length)
      diverged.push({ request: i, firstDifferentPosition: k, lengths: [x.length, y.length] });
  });
  return { requests: a.length, identical: a.length - diverged.length, diverged };
}
