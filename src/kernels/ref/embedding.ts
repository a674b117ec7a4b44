/** Reference embedding gather (forward) and scatter-add (backward). */
import type { FloatArray, IndexArray } from "../api.js";

function checkId(id: number, t: number, V: number): void {
  if (!(id >= 0 && id < V))
    throw new RangeError(`embedding: ids[${t}] = ${id} is outside the table [0, ${V})`);
}

/** out[T,D] = table[ids[t], :]. */
export function embeddingForward(
  out: FloatArray,
  ids: IndexArray,
  table: FloatArray,
  T: number,
  D: number,
  V: number,
): void {
  for (let t = 0; t < T; t++) {
    const id = ids[t];
    checkId(id, t, V);
    out.set(table.subarray(id * D, id * D + D), t * D);
  }
}

/** dtable[V,D] += dout[T,D] scattered to rows ids[t]. */
export function embeddingBackward(
  dtable: FloatArray,
  dout: FloatArray,
  ids: IndexArray,
  T: number,
  D: number,
  V: number,
): void {
  for (let t = 0; t < T; t++) {
    const id = ids[t];
    checkId(id, t, V);
    for (let d = 0; d < D; d++) dtable[id * D + d] += dout[t * D + d];
  }
}
