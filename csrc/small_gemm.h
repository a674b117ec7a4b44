/*
 * A register-blocked GEMM for the small per-head products of attention (S x S x HD, S ~ 82..901), reading its
 * operands where they lie: A through a row and a k stride (so a transposed A, e.g. Pᵀ, needs no copy), B and C
 * through row strides (a head's q, k, v inside the packed qkv rows). Any N: the last column block is partial.
 * The portable version holds 4 rows x 16 columns in accumulators, one B row load feeding 4 broadcast FMAs; it
 * is inline, not cloned, so each HRM_CLONES caller gets a copy built for its ISA. On x86 with AVX-512 or AVX2
 * the versions in small_gemm_x86.c run instead.
 */
#ifndef HRM_SMALL_GEMM_H
#define HRM_SMALL_GEMM_H

#include "cpu.h"

/* C[i*ldc + n] = Σ_k A[i*ars + k*aks] * B[k*ldb + n], for i < M, n < N, k < K; C is written, nothing beyond. */
#if defined(__x86_64__)
void hrm_small_gemm_avx512(long M, long N, long K, const float *A, long ars, long aks, const float *B, long ldb,
                           float *C, long ldc);
void hrm_small_gemm_avx2(long M, long N, long K, const float *A, long ars, long aks, const float *B, long ldb,
                         float *C, long ldc);
#endif

/* 4 rows x 16 columns of C: 4 x 16 accumulators the compiler keeps in vector registers. */
static inline __attribute__((always_inline)) void hrm_small_gemm_4x16(long K, const float *A, long ars, long aks,
                                                                     const float *B, long ldb, float *C,
                                                                     long ldc) {
  float c0[16] = {0}, c1[16] = {0}, c2[16] = {0}, c3[16] = {0};
  for (long k = 0; k < K; k++) {
    const float *b = B + k * ldb, *a = A + k * aks;
    float x0 = a[0], x1 = a[ars], x2 = a[2 * ars], x3 = a[3 * ars];
    for (int l = 0; l < 16; l++) {
      c0[l] += x0 * b[l];
      c1[l] += x1 * b[l];
      c2[l] += x2 * b[l];
      c3[l] += x3 * b[l];
    }
  }
  for (int l = 0; l < 16; l++) {
    C[l] = c0[l];
    C[ldc + l] = c1[l];
    C[2 * ldc + l] = c2[l];
    C[3 * ldc + l] = c3[l];
  }
}

/* 1 row x 16 columns of C: the rows left after the 4-row blocks. */
static inline __attribute__((always_inline)) void hrm_small_gemm_1x16(long K, const float *A, long aks,
                                                                     const float *B, long ldb, float *C) {
  float c0[16] = {0};
  for (long k = 0; k < K; k++) {
    const float *b = B + k * ldb;
    float x0 = A[k * aks];
    for (int l = 0; l < 16; l++) c0[l] += x0 * b[l];
  }
  for (int l = 0; l < 16; l++) C[l] = c0[l];
}

/* The partial column block (nn < 16 columns): one element at a time (at S = 82, 2 of 82 columns). */
static inline void hrm_small_gemm_edge(int R, int nn, long K, const float *A, long ars, long aks, const float *B,
                                       long ldb, float *C, long ldc) {
  for (int r = 0; r < R; r++)
    for (int l = 0; l < nn; l++) {
      float acc = 0;
      for (long k = 0; k < K; k++) acc += A[r * ars + k * aks] * B[k * ldb + l];
      C[r * ldc + l] = acc;
    }
}

static inline __attribute__((always_inline)) void hrm_small_gemm_portable(long M, long N, long K, const float *A,
                                                                         long ars, long aks, const float *B,
                                                                         long ldb, float *C, long ldc) {
  for (long i = 0; i < M; i += 4)
    for (long n = 0; n < N; n += 16) {
      const float *a = A + i * ars, *b = B + n;
      float *c = C + i * ldc + n;
      if (M - i >= 4 && N - n >= 16)
        hrm_small_gemm_4x16(K, a, ars, aks, b, ldb, c, ldc);
      else if (N - n >= 16)
        for (long r = i; r < M; r++) hrm_small_gemm_1x16(K, A + r * ars, aks, b, ldb, C + r * ldc + n);
      else
        hrm_small_gemm_edge(M - i < 4 ? (int)(M - i) : 4, N - n < 16 ? (int)(N - n) : 16, K, a, ars, aks, b, ldb,
                            c, ldc);
    }
}

/* t[c*ldt + r] = x[r*ld + c] for r < R, c < C: a head's k or v ([R = S rows of C = HD], row stride ld)
 * transposed, the B operand of q kᵀ or dO vᵀ. Attention keeps ldt a multiple of 16 floats (hrm_score_ld):
 * with ldt = S = 82 most rows of t start mid-line, and the transpose (its 16-lane stores) took 1.2 us per
 * head of HD 64 instead of 0.7. */
#if defined(__x86_64__)
#include "transpose_x86.h"
#endif
static inline __attribute__((always_inline)) void hrm_transpose(float *t, long ldt, const float *x, long ld,
                                                               long R, long C) {
#if defined(__x86_64__)
  if (hrm_cpu_isa() == HRM_ISA_AVX512) {
    hrm_transpose_avx512(t, ldt, x, ld, R, R, C, 0);
    return;
  }
#endif
  for (long r = 0; r < R; r++)
    for (long c = 0; c < C; c++) t[c * ldt + r] = x[r * ld + c];
}

/* The small GEMM for this CPU: AVX-512 or AVX2 when detected, else the portable one. */
static inline __attribute__((always_inline)) void hrm_small_gemm(long M, long N, long K, const float *A, long ars,
                                                                long aks, const float *B, long ldb, float *C,
                                                                long ldc) {
#if defined(__x86_64__)
  switch (hrm_cpu_isa()) {
    case HRM_ISA_AVX512: hrm_small_gemm_avx512(M, N, K, A, ars, aks, B, ldb, C, ldc); return;
    case HRM_ISA_AVX2: hrm_small_gemm_avx2(M, N, K, A, ars, aks, B, ldb, C, ldc); return;
    default: break;
  }
#endif
  hrm_small_gemm_portable(M, N, K, A, ars, aks, B, ldb, C, ldc);
}

#endif
