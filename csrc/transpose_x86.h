/*
 * The 16 x 16 transpose of 32-bit lanes in AVX-512 registers, and the strided transpose built on it, shared by
 * attention (a head's k or v) and the GEMM's packing of a transposed B (a weight). x86-64 only; callers of the
 * inline parts are compiled with avx512f enabled.
 */
#ifndef HRM_TRANSPOSE_X86_H
#define HRM_TRANSPOSE_X86_H

#if defined(__x86_64__)
#include <immintrin.h>

/* t[c*ldt + r] = x[r*ld + c] for r < R, c < C, and zeros in rows R..Rpad-1 of t (Rpad >= R): a strided
 * matrix transposed 16 x 16 blocks at a time (pack_x86.c). Attention's k and v (Rpad = R = S, ldt = S); a
 * weight's B panel (R = its columns, Rpad = ldt = the panel width); a weight gradient's strip of op(A). With
 * `round`, every value is rounded to bfloat16 on the way (hrm_bf16_round16). */
void hrm_transpose_avx512(float *t, long ldt, const float *x, long ld, long R, long Rpad, long C, int round);

/* Lanes [0, n) of a 16-lane mask (n may be <= 0 or >= 16). */
static inline __mmask16 hrm_lanes16(long n) {
  return n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* hrm_bf16_round (gemm.h) on 16 lanes: round to nearest even at bit 16, NaN kept quiet, the same bits. */
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) __m512 hrm_bf16_round16(__m512 x) {
  __m512i u = _mm512_castps_si512(x), hi = _mm512_set1_epi32((int)0xffff0000u);
  __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd), hi);
  __m512i quiet = _mm512_or_si512(_mm512_and_si512(u, hi), _mm512_set1_epi32(0x400000));
  return _mm512_castsi512_ps(_mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), quiet));
}

/* The 16 x 16 transpose of r[0..15] in registers (out[k] = column k): 2x2 interleaves, 4x4 shuffles, then
 * two 128-bit lane shuffles. */
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void hrm_transpose16(__m512 *r) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]); /* per lane: a0 b0 a1 b1 */
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]); /* a2 b2 a3 b3 */
  }
  for (int i = 0; i < 16; i += 4) { /* r[i + j] lane l: rows i..i+3, column 4l + j */
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int i = 0; i < 16; i += 8) /* t[i + j]: columns j, 8 + j; t[i + 4 + j]: columns 4 + j, 12 + j */
    for (int j = 0; j < 4; j++) {
      t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + 4 + j], 0x88);
      t[i + 4 + j] = _mm512_shuffle_f32x4(r[i + j], r[i + 4 + j], 0xdd);
    }
  for (int k = 0; k < 8; k++) { /* t[k]: columns k, k + 8 of rows 0-7; t[8 + k]: the same of rows 8-15 */
    r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
    r[k + 8] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
  }
}

#endif

#endif
