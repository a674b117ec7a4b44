/*
 * AVX-512 packing of a transposed op(B) (B stored [N, K]: a linear layer's weight) into the 32-column panels of
 * the AVX-512 micro-kernels, 16 x 16 blocks at a time through register transposes. The portable packer loads
 * one element at a time, K floats from the last: ~3% of a float32 forward product at T = 2624, and more with
 * the bfloat16 conversion of each column on its own.
 */
#include "gemm.h"

#if defined(__x86_64__)
#include "transpose_x86.h"

/* Lanes [0, n) of a 16-lane mask (n may be <= 0 or >= 16). */
static inline __mmask16 lanes16(int n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* One float32 panel: dst[p*32 + j] = B[j*ldb + p] for j < n (zeros up to 32 columns), p < kc. */
__attribute__((target("avx512f"))) void hrm_pack_bt_f32_avx512(float *dst, const float *B, long ldb, int n,
                                                               int kc) {
  for (int j0 = 0; j0 < 32; j0 += 16)
    for (int p = 0; p < kc; p += 16) {
      __mmask16 pm = lanes16(kc - p);
      __m512 v[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++)
        v[i] = j0 + i < n ? _mm512_maskz_loadu_ps(pm, B + (j0 + i) * ldb + p) : _mm512_setzero_ps();
      hrm_transpose16(v);
      for (int k = 0; k < 16 && p + k < kc; k++) _mm512_storeu_ps(dst + (long)(p + k) * 32 + j0, v[k]);
    }
}

/* One bfloat16 panel of pairs along k: dst[q*32 + j] = bf16(B[j*ldb + 2q]) | bf16(B[j*ldb + 2q + 1]) << 16,
 * zero past kc and past n columns. 32 floats of a stored row convert to 16 pairs, one 32-bit lane each, so the
 * same 32-bit transpose spreads them across the panel. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void hrm_pack_bt_bf16_avx512(uint32_t *dst, const float *B,
                                                                                  long ldb, int n, int kc) {
  int nq = (kc + 1) / 2;
  for (int j0 = 0; j0 < 32; j0 += 16)
    for (int q = 0; q < nq; q += 16) {
      int p = 2 * q;
      __mmask16 m0 = lanes16(kc - p), m1 = lanes16(kc - p - 16);
      __m512 v[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++) {
        const float *row = B + (j0 + i) * ldb + p;
        v[i] = j0 + i < n ? (__m512)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, row + 16),
                                                         _mm512_maskz_loadu_ps(m0, row))
                          : _mm512_setzero_ps();
      }
      hrm_transpose16(v);
      for (int k = 0; k < 16 && q + k < nq; k++) _mm512_storeu_ps((float *)(dst + (long)(q + k) * 32 + j0), v[k]);
    }
}
#endif
