/**
 * Reference non-causal multi-head softmax attention over the packed qkv layout [B,S,3,NH,HD]
 * (the official `_fallback_flash_attn_func` with causal=False and num_key_value_heads == num_heads).
 */
import type { FloatArray } from "../api.js";
import { ropeForward } from "./rope.js";

/** Offset of element (b, s, part, h, 0) in a [B,S,3,NH,HD] buffer. */
function qkvAt(b: number, s: number, part: number, h: number, S: number, NH: number, HD: number): number {
  return ((b * S + s) * 3 + part) * NH * HD + h * HD;
}

/** out[B,S,NH,HD] = softmax(q kᵀ / sqrt(HD)) v per (b, h); probs[B,NH,S,S] saved unless zero-length. */
export function attentionForward(
  out: FloatArray,
  probs: FloatArray,
  qkv: FloatArray,
  B: number,
  S: number,
  NH: number,
  HD: number,
): void {
  const scale = 1 / Math.sqrt(HD);
  const save = probs.length > 0;
  const row = new Float64Array(S);
  const acc = new Float64Array(HD);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let i = 0; i < S; i++) {
        const q = qkvAt(b, i, 0, h, S, NH, HD);
        let max = -Infinity;
        for (let j = 0; j < S; j++) {
          const k = qkvAt(b, j, 1, h, S, NH, HD);
          let dot = 0;
          for (let d = 0; d < HD; d++) dot += qkv[q + d] * qkv[k + d];
          row[j] = dot * scale;
          if (row[j] > max) max = row[j];
        }
        let sum = 0;
        for (let j = 0; j < S; j++) sum += row[j] = Math.exp(row[j] - max);
        const p0 = ((b * NH + h) * S + i) * S;
        const o = (b * S + i) * NH * HD + h * HD;
        acc.fill(0);
        for (let j = 0; j < S; j++) {
          const p = row[j] / sum;
          if (save) probs[p0 + j] = p;
          const v = qkvAt(b, j, 2, h, S, NH, HD);
          for (let d = 0; d < HD; d++) acc[d] += p * qkv[v + d];
        }
        for (let d = 0; d < HD; d++) out[o + d] = acc[d];
      }
    }
  }
}

/** attentionForward (no probs) of ropeForward(qkv): the rotation on a copy, qkv left as it is. */
export function attentionRopeForward(
  out: FloatArray,
  qkv: FloatArray,
  cos: FloatArray,
  sin: FloatArray,
  B: number,
  S: number,
  NH: number,
  HD: number,
): void {
  const rotated = qkv.slice();
  ropeForward(rotated, rotated, cos, sin, B * S, 3 * NH * HD, S, 2 * NH, HD);
  attentionForward(out, rotated.subarray(0, 0), rotated, B, S, NH, HD);
}

/**
 * With P = softmax(Z), Z = scale q kᵀ, O = P v:
 *   dv = Pᵀ dO;  dP = dO vᵀ;  dZ = P ∘ (dP - rowsum(P ∘ dP));  dq = scale dZ k;  dk = scale dZᵀ q.
 */
export function attentionBackward(
  dqkv: FloatArray,
  dout: FloatArray,
  qkv: FloatArray,
  probs: FloatArray,
  B: number,
  S: number,
  NH: number,
  HD: number,
): void {
  const scale = 1 / Math.sqrt(HD);
  const dz = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let s = 0; s < S; s++)
        for (let part = 0; part < 3; part++) {
          const o = qkvAt(b, s, part, h, S, NH, HD);
          for (let d = 0; d < HD; d++) dqkv[o + d] = 0;
        }
      for (let i = 0; i < S; i++) {
        const p0 = ((b * NH + h) * S + i) * S;
        const go = (b * S + i) * NH * HD + h * HD;
        let rowDot = 0;
        for (let j = 0; j < S; j++) {
          const v = qkvAt(b, j, 2, h, S, NH, HD);
          let dp = 0;
          for (let d = 0; d < HD; d++) dp += dout[go + d] * qkv[v + d];
          dz[j] = dp;
          rowDot += probs[p0 + j] * dp;
        }
        const q = qkvAt(b, i, 0, h, S, NH, HD);
        for (let j = 0; j < S; j++) {
          const p = probs[p0 + j];
          const g = p * (dz[j] - rowDot) * scale;
          const k = qkvAt(b, j, 1, h, S, NH, HD);
          const v = qkvAt(b, j, 2, h, S, NH, HD);
          for (let d = 0; d < HD; d++) {
            dqkv[v + d] += p * dout[go + d];
            dqkv[q + d] += g * qkv[k + d];
            dqkv[k + d] += g * qkv[q + d];
          }
        }
      }
    }
  }
}
