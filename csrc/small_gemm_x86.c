/*
 * The AVX-512 version of attention's small per-head GEMM (contract in small_gemm.h). The portable one holds
 * 4 rows x 16 columns: with 16-float vectors that is 4 accumulator chains, half of what two FMA pipes with a
 * 4-cycle latency need to stay busy. This one holds 8 rows x 32 columns (16 zmm accumulators, 2 B loads and
 * 8 broadcasts per k); row tails use the same body with 4, 2 or 1 rows, the column tail a masked vector.
 * The AVX2 version holds 6 rows x 16 columns (12 ymm accumulators), the column tail through maskload.
 */
#include "small_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* M rows of C as blocks of BIG rows, then 4, 2 and 1: every block a constant row count, so ROW_BLOCK (an
 * always-inline body) gets its own unrolled copy for each. BIG <= 8, so at most one of each tail is needed. */
#define FOR_ROW_BLOCKS(BIG, ROW_BLOCK)                                                                           \
  do {                                                                                                         \
    long i = 0;                                                                                                \
    for (; i + (BIG) <= M; i += (BIG)) ROW_BLOCK(BIG, N, K, A + i * ars, ars, aks, B, ldb, C + i * ldc, ldc); \
    if (M - i >= 4) {                                                                                          \
      ROW_BLOCK(4, N, K, A + i * ars, ars, aks, B, ldb, C + i * ldc, ldc);                                     \
      i += 4;                                                                                                  \
    }                                                                                                          \
    if (M - i >= 2) {                                                                                          \
      ROW_BLOCK(2, N, K, A + i * ars, ars, aks, B, ldb, C + i * ldc, ldc);                                     \
      i += 2;                                                                                                  \
    }                                                                                                          \
    if (M - i == 1) ROW_BLOCK(1, N, K, A + i * ars, ars, aks, B, ldb, C + i * ldc, ldc);                       \
  } while (0)

#define T512 __attribute__((target("avx512f")))

/* C[R rows x (16*(W-1) + popcount(m)) columns] = A[R, K] · B: W (1 or 2) vectors per row, the last one masked
 * by m. R <= 8 and W are constants after inlining. */
T512 static inline __attribute__((always_inline)) void tile(int R, int W, __mmask16 m, long K, const float *A,
                                                           long ars, long aks, const float *B, long ldb,
                                                           float *C, long ldc) {
  __m512 c0[8], c1[8];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_ps();
  for (long k = 0; k < K; k++) {
    const float *b = B + k * ldb, *a = A + k * aks;
    __m512 b0 = W == 2 ? _mm512_loadu_ps(b) : _mm512_maskz_loadu_ps(m, b);
    __m512 b1 = W == 2 ? _mm512_maskz_loadu_ps(m, b + 16) : b0;
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      __m512 x = _mm512_set1_ps(a[r * ars]);
      c0[r] = _mm512_fmadd_ps(x, b0, c0[r]);
      if (W == 2) c1[r] = _mm512_fmadd_ps(x, b1, c1[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    if (W == 2) {
      _mm512_storeu_ps(C + r * ldc, c0[r]);
      _mm512_mask_storeu_ps(C + r * ldc + 16, m, c1[r]);
    } else {
      _mm512_mask_storeu_ps(C + r * ldc, m, c0[r]);
    }
  }
}

/* R rows of C across all N columns: 32-column tiles, then a partial one (masked). */
T512 static inline __attribute__((always_inline)) void row_block(int R, long N, long K, const float *A, long ars,
                                                                long aks, const float *B, long ldb, float *C,
                                                                long ldc) {
  long n = 0;
  for (; n + 32 <= N; n += 32) tile(R, 2, 0xffff, K, A, ars, aks, B + n, ldb, C + n, ldc);
  long rem = N - n; /* 0..31; the mask of the last vector holds its 1..16 columns */
  if (rem > 16)
    tile(R, 2, (__mmask16)((1u << (rem - 16)) - 1), K, A, ars, aks, B + n, ldb, C + n, ldc);
  else if (rem > 0)
    tile(R, 1, (__mmask16)((1u << rem) - 1), K, A, ars, aks, B + n, ldb, C + n, ldc);
}

T512 void hrm_small_gemm_avx512(long M, long N, long K, const float *A, long ars, long aks, const float *B,
                                long ldb, float *C, long ldc) {
  FOR_ROW_BLOCKS(8, row_block);
}

/* ---- AVX2 + FMA ---- */
#define T256 __attribute__((target("avx2,fma")))

/* Lanes [0, n) of an 8-float vector (n may be <= 0 or >= 8), as a maskload/maskstore mask. */
T256 static inline __m256i lanes(long n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : n > 8 ? 8 : n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* C[R rows x up to 16 columns]: 2 ymm per row, masked by m0, m1 (all lanes on full tiles). R <= 6. */
T256 static inline __attribute__((always_inline)) void tile8(int R, int full, __m256i m0, __m256i m1, long K,
                                                            const float *A, long ars, long aks, const float *B,
                                                            long ldb, float *C, long ldc) {
  __m256 c0[6], c1[6];
#pragma GCC unroll 6
  for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm256_setzero_ps();
  for (long k = 0; k < K; k++) {
    const float *b = B + k * ldb, *a = A + k * aks;
    __m256 b0 = full ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m0);
    __m256 b1 = full ? _mm256_loadu_ps(b + 8) : _mm256_maskload_ps(b + 8, m1);
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
      __m256 x = _mm256_broadcast_ss(a + r * ars);
      c0[r] = _mm256_fmadd_ps(x, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(x, b1, c1[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; r++) {
    if (full) {
      _mm256_storeu_ps(C + r * ldc, c0[r]);
      _mm256_storeu_ps(C + r * ldc + 8, c1[r]);
    } else {
      _mm256_maskstore_ps(C + r * ldc, m0, c0[r]);
      _mm256_maskstore_ps(C + r * ldc + 8, m1, c1[r]);
    }
  }
}

T256 static inline __attribute__((always_inline)) void row_block8(int R, long N, long K, const float *A, long ars,
                                                                 long aks, const float *B, long ldb, float *C,
                                                                 long ldc) {
  __m256i all = _mm256_set1_epi32(-1);
  long n = 0;
  for (; n + 16 <= N; n += 16) tile8(R, 1, all, all, K, A, ars, aks, B + n, ldb, C + n, ldc);
  if (n < N) tile8(R, 0, lanes(N - n), lanes(N - n - 8), K, A, ars, aks, B + n, ldb, C + n, ldc);
}

T256 void hrm_small_gemm_avx2(long M, long N, long K, const float *A, long ars, long aks, const float *B, long ldb,
                              float *C, long ldc) {
  FOR_ROW_BLOCKS(6, row_block8);
}
#endif
