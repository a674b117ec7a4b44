/*
 * The AVX-512 row softmax of attention (contract in softmax.h). A row of up to 128 scores is held in 8 zmm
 * registers from its load to its store: max, exp, sum and scale without the three passes through memory of the
 * portable loops, and with tree reductions instead of their serial sums of 16 partials. Longer rows (ARC,
 * S = 901) take three passes over the row, 16 lanes at a time. The exponential is hrm_exp16 (exp_x86.h).
 * Rows of up to 128 go four at a time, their steps interleaved (rows_in_regs).
 */
#include "softmax.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#include "exp_x86.h"
#include "transpose_x86.h" /* hrm_lanes16 */

#define T512 __attribute__((target("avx512f")))
#define NRI 4 /* rows interleaved by rows_in_regs */

/* NR rows (rows ld apart, each V <= 8 vectors) in registers, their steps interleaved: a row alone is one chain
 * of dependent steps (max, its reduction, exp, sum, its reduction, the reciprocal), which out-of-order execution
 * overlaps with the next row's only in part. NR and V are constants after inlining. */
T512 static inline __attribute__((always_inline)) void rows_in_regs(int NR, int V, float *row, long ld, long S,
                                                                   __m512 scale, float *prow, long ldp) {
  __m512 x[4][8], mx[4], sum[4], m[4], inv[4];
  __mmask16 tail = hrm_lanes16(S - 16L * (V - 1));
#pragma GCC unroll 4
  for (int t = 0; t < NR; t++) mx[t] = _mm512_set1_ps(-INFINITY), sum[t] = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int v = 0; v < V; v++)
#pragma GCC unroll 4
    for (int t = 0; t < NR; t++) {
      const float *r = row + t * ld + 16 * v;
      x[t][v] = v == V - 1 ? _mm512_mask_loadu_ps(mx[t], tail, r) : _mm512_loadu_ps(r);
      mx[t] = _mm512_max_ps(mx[t], x[t][v]);
    }
#pragma GCC unroll 4
  for (int t = 0; t < NR; t++) m[t] = _mm512_set1_ps(_mm512_reduce_max_ps(mx[t]));
#pragma GCC unroll 8
  for (int v = 0; v < V; v++)
#pragma GCC unroll 4
    for (int t = 0; t < NR; t++) {
      x[t][v] = hrm_exp16(_mm512_mul_ps(_mm512_sub_ps(x[t][v], m[t]), scale));
      if (v == V - 1) x[t][v] = _mm512_maskz_mov_ps(tail, x[t][v]);
      sum[t] = _mm512_add_ps(sum[t], x[t][v]);
    }
#pragma GCC unroll 4
  for (int t = 0; t < NR; t++) inv[t] = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum[t]));
#pragma GCC unroll 8
  for (int v = 0; v < V; v++)
#pragma GCC unroll 4
    for (int t = 0; t < NR; t++) {
      __m512 p = _mm512_mul_ps(x[t][v], inv[t]);
      __mmask16 k = v == V - 1 ? tail : 0xffff;
      _mm512_mask_storeu_ps(row + t * ld + 16 * v, k, p);
      if (prow) _mm512_mask_storeu_ps(prow + t * ldp + 16 * v, k, p);
    }
}

/* A row of any length: max, then exp and sum (stored), then scale, 16 lanes at a time. */
T512 static void row_in_passes(float *row, long S, __m512 scale, float *prow) {
  __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
  for (long j = 0; j < S; j += 16) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, hrm_lanes16(S - j), row + j));
  __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  for (long j = 0; j < S; j += 16) {
    __mmask16 k = hrm_lanes16(S - j);
    __m512 e = _mm512_maskz_mov_ps(k, hrm_exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), m), scale)));
    _mm512_mask_storeu_ps(row + j, k, e);
    sum = _mm512_add_ps(sum, e);
  }
  __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (long j = 0; j < S; j += 16) {
    __mmask16 k = hrm_lanes16(S - j);
    __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), inv);
    _mm512_mask_storeu_ps(row + j, k, p);
    if (prow) _mm512_mask_storeu_ps(prow + j, k, p);
  }
}

/* rows_in_regs for a row length of V vectors known only at run time (1..8): one unrolled copy per length. */
T512 static inline __attribute__((always_inline)) void rows_of_v(int NR, long V, float *row, long ld, long S,
                                                                __m512 scale, float *prow, long ldp) {
  switch (V) {
    case 1: rows_in_regs(NR, 1, row, ld, S, scale, prow, ldp); break;
    case 2: rows_in_regs(NR, 2, row, ld, S, scale, prow, ldp); break;
    case 3: rows_in_regs(NR, 3, row, ld, S, scale, prow, ldp); break;
    case 4: rows_in_regs(NR, 4, row, ld, S, scale, prow, ldp); break;
    case 5: rows_in_regs(NR, 5, row, ld, S, scale, prow, ldp); break;
    case 6: rows_in_regs(NR, 6, row, ld, S, scale, prow, ldp); break;
    case 7: rows_in_regs(NR, 7, row, ld, S, scale, prow, ldp); break;
    default: rows_in_regs(NR, 8, row, ld, S, scale, prow, ldp); break;
  }
}

T512 void hrm_softmax_rows_avx512(float *x, long R, long S, long ld, float scale, float *probs, long ldp) {
  __m512 sc = _mm512_set1_ps(scale);
  long V = (S + 15) / 16, i = 0;
  /* Rows in fours, the rest one by one. Per 82 x 82 block, 1 thread: 3.44 -> 2.83 us (pairs: 2.97; threes:
   * 2.85); 40 x 40: 1.00 -> 0.76; 128 x 128: 6.6 -> 5.75. */
  if (V >= 2 && V <= 8)
    for (; i + NRI <= R; i += NRI) rows_of_v(NRI, V, x + i * ld, ld, S, sc, probs ? probs + i * ldp : NULL, ldp);
  for (; i < R; i++) {
    float *row = x + i * ld, *prow = probs ? probs + i * ldp : NULL;
    if (V <= 8)
      rows_of_v(1, V, row, ld, S, sc, prow, ldp);
    else
      row_in_passes(row, S, sc, prow);
  }
}

#endif
