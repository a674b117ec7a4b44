/*
 * AVX-512 transposes through 16 x 16 register blocks: a strided matrix (attention's k and v, see small_gemm.h),
 * and a transposed op(B) (B stored [N, K]: a linear layer's weight) packed into the 32-column panels of the
 * AVX-512 micro-kernels, float32 or bfloat16 pairs. The portable packer loads one element at a time, K floats
 * from the last: ~3% of a float32 forward product at T = 2624, and more with the bfloat16 conversion of each
 * column on its own.
 */
#include "gemm.h"

#if defined(__x86_64__)
#include "transpose_x86.h"

/* 16 x 16 blocks transposed in registers and stored a column (16 rows) at a time, edges masked, where scalar
 * loops stored each element a row from the last (~5 us of a 22 us attention head at S = 82). */
__attribute__((target("avx512f"))) void hrm_transpose_avx512(float *t, long ldt, const float *x, long ld, long R,
                                                             long Rpad, long C, int round) {
  for (long r0 = 0; r0 < Rpad; r0 += 16) {
    __mmask16 rm = hrm_lanes16(Rpad - r0);
    for (long c0 = 0; c0 < C; c0 += 16) {
      __mmask16 cm = hrm_lanes16(C - c0);
      __m512 v[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++)
        v[i] = r0 + i < R ? _mm512_maskz_loadu_ps(cm, x + (r0 + i) * ld + c0) : _mm512_setzero_ps();
      if (round)
        for (int i = 0; i < 16; i++) v[i] = hrm_bf16_round16(v[i]);
      hrm_transpose16(v);
      for (long k = 0; k < 16 && c0 + k < C; k++) _mm512_mask_storeu_ps(t + (c0 + k) * ldt + r0, rm, v[k]);
    }
  }
}

/* One float32 panel: dst[p*32 + j] = B[j*ldb + p] for j < n (zeros up to 32 columns), p < kc; rounded to
 * bfloat16 with `round`. */
void hrm_pack_bt_f32_avx512(float *dst, const float *B, long ldb, int n, int kc, int round) {
  hrm_transpose_avx512(dst, 32, B, ldb, n, 32, kc, round);
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
      __mmask16 m0 = hrm_lanes16(kc - p), m1 = hrm_lanes16(kc - p - 16);
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
