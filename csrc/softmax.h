/*
 * Row softmax of attention scores, in place in a scratch block whose rows are `ld` floats apart. The portable
 * version is plain C loops; on x86 with AVX-512 the one in softmax_x86.c runs instead.
 * Callers keep `ld` a multiple of 16 floats (hrm_score_ld): with S = 82 rows 82 floats apart, each row's
 * masked tail store and the next row's first load share a cache line, and the softmax ran 2x slower (5.1 vs
 * 2.7 us per 82 x 82 block).
 */
#ifndef HRM_SOFTMAX_H
#define HRM_SOFTMAX_H

#include <string.h>

#include "cpu.h"
#include "simd.h"

/* Row stride of an [S, S] score block in scratch: S rounded up to whole 64-byte lines. */
static inline long hrm_score_ld(long S) { return (S + 15) & ~15L; }

#if defined(__x86_64__)
void hrm_softmax_rows_avx512(float *x, long R, long S, long ld, float scale, float *probs, long ldp);
#endif

/* Rows r < R of x (S values each, rows ld apart) replaced by softmax(scale * row), scale > 0; rows of probs
 * (ldp apart; NULL: none) get a copy. Inline, so every HRM_CLONES caller gets the portable loops built for its
 * ISA. */
static inline __attribute__((always_inline)) void hrm_softmax_rows(float *x, long R, long S, long ld, float scale,
                                                                  float *probs, long ldp) {
#if defined(__x86_64__)
  if (hrm_cpu_isa() == HRM_ISA_AVX512) {
    hrm_softmax_rows_avx512(x, R, S, ld, scale, probs, ldp);
    return;
  }
#endif
  for (long i = 0; i < R; i++) {
    float *row = x + i * ld;
    float m = hrm_max16(row, S); /* scale > 0: the max of the scaled row is scale * m */
    for (long j = 0; j < S; j++) row[j] = hrm_expf((row[j] - m) * scale);
    float inv = 1.0f / hrm_sum16(row, S);
    for (long j = 0; j < S; j++) row[j] *= inv;
    if (probs) memcpy(probs + i * ldp, row, sizeof(float) * S);
  }
}

#endif
