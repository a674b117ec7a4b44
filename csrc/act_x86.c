/*
 * AVX-512 SwiGLU, forward and backward, on hrm_sigmoid16: the fused gate_up product's tile epilogue
 * (gemm.c) and the element-wise kernels (kernels.c) call these where the CPU has AVX-512. The portable loops
 * they replace are the same arithmetic; GCC's vectorisation of hrm_sigmoidf there was 20% slower.
 */
#include "exp_x86.h"

#if defined(__x86_64__)
#include "transpose_x86.h" /* hrm_lanes16 */

#define T512 __attribute__((target("avx512f")))

T512 void hrm_swiglu_rows_avx512(float *y, long ldy, const float *g, long ldg, const float *u, long ldu, long rows,
                                 long n) {
  for (long r = 0; r < rows; r++)
    for (long j = 0; j < n; j += 16) {
      __mmask16 k = hrm_lanes16(n - j);
      __m512 gv = _mm512_maskz_loadu_ps(k, g + r * ldg + j), uv = _mm512_maskz_loadu_ps(k, u + r * ldu + j);
      _mm512_mask_storeu_ps(y + r * ldy + j, k, _mm512_mul_ps(_mm512_mul_ps(gv, hrm_sigmoid16(gv)), uv));
    }
}

T512 void hrm_swiglu_bwd_row_avx512(float *dg, float *du, float *act, const float *g, const float *u, const float *dy,
                                   long n) {
  __m512 one = _mm512_set1_ps(1.0f);
  for (long j = 0; j < n; j += 16) {
    __mmask16 k = hrm_lanes16(n - j);
    __m512 gv = _mm512_maskz_loadu_ps(k, g + j), uv = _mm512_maskz_loadu_ps(k, u + j);
    __m512 d = _mm512_maskz_loadu_ps(k, dy + j), s = hrm_sigmoid16(gv);
    if (act) _mm512_mask_storeu_ps(act + j, k, _mm512_mul_ps(_mm512_mul_ps(gv, s), uv));
    /* 1 + g (1 - s) as one FMA, as the compiler contracts the portable loop: near g = -1.28 it cancels */
    __m512 ds = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(d, uv), s), _mm512_fmadd_ps(gv, _mm512_sub_ps(one, s), one));
    _mm512_mask_storeu_ps(dg + j, k, ds);
    _mm512_mask_storeu_ps(du + j, k, _mm512_mul_ps(_mm512_mul_ps(d, gv), s));
  }
}
#endif
