/*
 * A register-blocked GEMM for the small per-head products of attention (S x S x HD, S ~ 82..901): 4 rows of
 * C by 16 columns held in accumulators, one B row load feeding 4 broadcast FMAs. N must be a multiple of 16
 * (callers pad with zeros). Inline, not cloned, so each HRM_CLONES caller gets a copy built for its ISA.
 */
#ifndef HRM_SMALL_GEMM_H
#define HRM_SMALL_GEMM_H

/* C[i*ldc + n] = sum_k A[i*lda + k] * B[k*ldb + n], for i < M, n < N (N % 16 == 0), k < K. */
static inline __attribute__((always_inline)) void hrm_small_gemm(long M, long N, long K, const float *restrict A, long lda,
                                  const float *restrict B, long ldb, float *restrict C, long ldc) {
  long i = 0;
  for (; i + 4 <= M; i += 4)
    for (long n = 0; n < N; n += 16) {
      float c0[16] = {0}, c1[16] = {0}, c2[16] = {0}, c3[16] = {0};
      const float *a0 = A + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
      for (long k = 0; k < K; k++) {
        const float *b = B + k * ldb + n;
        float x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
        for (int l = 0; l < 16; l++) {
          c0[l] += x0 * b[l];
          c1[l] += x1 * b[l];
          c2[l] += x2 * b[l];
          c3[l] += x3 * b[l];
        }
      }
      for (int l = 0; l < 16; l++) {
        C[i * ldc + n + l] = c0[l];
        C[(i + 1) * ldc + n + l] = c1[l];
        C[(i + 2) * ldc + n + l] = c2[l];
        C[(i + 3) * ldc + n + l] = c3[l];
      }
    }
  for (; i < M; i++)
    for (long n = 0; n < N; n += 16) {
      float c0[16] = {0};
      for (long k = 0; k < K; k++) {
        float x0 = A[i * lda + k];
        for (int l = 0; l < 16; l++) c0[l] += x0 * B[k * ldb + n + l];
      }
      for (int l = 0; l < 16; l++) C[i * ldc + n + l] = c0[l];
    }
}

#endif
