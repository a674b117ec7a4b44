/**
 * The dihedral group of a grid as the official dataset/common.py numbers it (numpy conventions, rot90 is
 * counter-clockwise): 0 identity, 1 rot90, 2 rot180, 3 rot270, 4 flip left-right, 5 flip up-down,
 * 6 transpose, 7 anti-transpose. DIHEDRAL_INVERSE[t] undoes t.
 */

export const DIHEDRAL_INVERSE = [0, 3, 2, 1, 4, 5, 6, 7] as const;

/** Source cell (row, col) in an H x W grid for output cell (i, j) of transform t; output shape too. */
function source(t: number, H: number, W: number, i: number, j: number): [number, number] {
  switch (t) {
    case 1:
      return [j, W - 1 - i];
    case 2:
      return [H - 1 - i, W - 1 - j];
    case 3:
      return [H - 1 - j, i];
    case 4:
      return [i, W - 1 - j];
    case 5:
      return [H - 1 - i, j];
    case 6:
      return [j, i];
    case 7:
      return [H - 1 - j, W - 1 - i];
    default:
      return [i, j];
  }
}

/** Applies transform t to a row-major H x W grid; returns the grid and its new shape. */
export function dihedral<T extends Uint8Array | Int32Array>(
  grid: T,
  H: number,
  W: number,
  t: number,
): { grid: T; H: number; W: number } {
  const swap = t === 1 || t === 3 || t === 6 || t === 7;
  const [h, w] = swap ? [W, H] : [H, W];
  const out = new (grid.constructor as { new (n: number): T })(h * w);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const [r, c] = source(t, H, W, i, j);
      out[i * w + j] = grid[r * W + c];
    }
  return { grid: out, H: h, W: w };
}
