/**
 * Sparse sign-SGD for the puzzle embedding (official CastedSparseEmbeddingSignSGD_Distributed): only the rows
 * of puzzles in the batch change. Per unique id: G = sum of its rows' gradients;
 *   W[id] = W[id] * (1 - lr*wd) - lr * sign(G)
 * Rows not in the batch are untouched (no decay).
 */

export function signSgdUpdate(
  weights: Float32Array, // [N, d]
  rowGrads: Float32Array, // [B, d], row b for ids[b]
  ids: Int32Array, // [B]
  d: number,
  lr: number,
  weightDecay: number,
): void {
  const sums = new Map<number, Float64Array>();
  for (let b = 0; b < ids.length; b++) {
    let g = sums.get(ids[b]);
    if (!g) sums.set(ids[b], (g = new Float64Array(d)));
    for (let i = 0; i < d; i++) g[i] += rowGrads[b * d + i];
  }
  const decay = 1 - lr * weightDecay;
  for (const [id, g] of sums) {
    const row = weights.subarray(id * d, (id + 1) * d);
    for (let i = 0; i < d; i++) row[i] = row[i] * decay - lr * Math.sign(g[i]);
  }
}
