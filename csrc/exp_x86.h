/*
 * hrm_expf and hrm_sigmoidf on 16 AVX-512 lanes, for the x86 kernels that exponentiate in their inner loops
 * (attention's softmax, SwiGLU). x86-64 only; the inline parts need avx512f enabled in their callers.
 */
#ifndef HRM_EXP_X86_H
#define HRM_EXP_X86_H

#include "simd.h" /* HRM_EXP_LO, HRM_EXP_HI */

#if defined(__x86_64__)
#include <immintrin.h>

/* hrm_expf on 16 lanes: the same clamps, rounding trick and polynomial, with the power of two applied by
 * vscalefps rather than built in the exponent bits (convert, add the bias, shift, multiply: four instructions
 * for one). Bit for bit hrm_expf below 88.37 (checked over every 7th float in [-100, 88)); above, where
 * hrm_expf's 2^128 overflows to inf, this gives the finite value. The lower clamp holds the result at
 * exp(-87.34) ~ 1e-38 rather than letting it go denormal (slow on Intel cores without flush-to-zero) and keeps
 * -inf from reaching the reduction as inf - inf = NaN. The clamps take x as the second operand of max/min,
 * which they return when it is NaN: NaN propagates.
 * In a SwiGLU tile epilogue, 1 thread, 14 x 32 gate and up tiles: 193 ns with the compiler's vectorisation of
 * hrm_sigmoidf, 158 with these intrinsics and the exponent bits, 145 with vscalefps. */
__attribute__((target("avx512f"))) static inline __m512 hrm_exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(HRM_EXP_LO), x);
  x = _mm512_min_ps(_mm512_set1_ps(HRM_EXP_HI), x);
  __m512 big = _mm512_set1_ps(12582912.0f);
  __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), big), big);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x));
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  __m512 y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, n);
}

/* hrm_sigmoidf on 16 lanes: 1 / (1 + exp(-x)), with the IEEE division; x held at -87.34 and up, so that the
 * result stays a normal number (>= 1.2e-38). */
__attribute__((target("avx512f"))) static inline __m512 hrm_sigmoid16(__m512 x) {
  __m512 one = _mm512_set1_ps(1.0f);
  x = _mm512_max_ps(_mm512_set1_ps(HRM_EXP_LO), x);
  return _mm512_div_ps(one, _mm512_add_ps(one, hrm_exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* SwiGLU on rows of n values: y = silu(g) * u (act_x86.c); y may be g. */
void hrm_swiglu_rows_avx512(float *y, long ldy, const float *g, long ldg, const float *u, long ldu, long rows,
                            long n);
/* Its backward on one row of n: dg = dy u s (1 + g (1 - s)), du = dy g s, s = sigmoid(g); dg and du may be g
 * and u (each lane read before it is written). act non-NULL: the forward's g s u written there too. */
void hrm_swiglu_bwd_row_avx512(float *dg, float *du, float *act, const float *g, const float *u, const float *dy,
                               long n);
#endif

#endif
