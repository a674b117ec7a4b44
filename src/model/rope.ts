/**
 * RoPE tables exactly as the official RotaryEmbedding builds them in float32: inv_freq = 1 / theta^(2i/HD),
 * freqs = outer(positions, inv_freq), emb = concat(freqs, freqs), tables cos(emb) and sin(emb) [S, HD].
 */
export function ropeTables(S: number, HD: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const f = Math.fround;
  const cos = new Float32Array(S * HD);
  const sin = new Float32Array(S * HD);
  const half = HD / 2;
  for (let i = 0; i < half; i++) {
    const invFreq = f(1 / f(Math.pow(theta, f(f(2 * i) / HD))));
    for (let p = 0; p < S; p++) {
      const a = f(p * invFreq);
      cos[p * HD + i] = cos[p * HD + half + i] = Math.cos(a);
      sin[p * HD + i] = sin[p * HD + half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}
