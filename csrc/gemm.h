/*
 * Single-precision GEMM over row-major buffers: C[M,N] (+)= op(A)·op(B), where op(A) is [M,K] (A stored
 * [K,M] when transA) and op(B) is [K,N] (B stored [N,K] when transB). BLIS-style: blocks of op(B) and op(A)
 * are packed into micro-panels, and a register-blocked micro-kernel chosen at run time (AVX-512, AVX2+FMA,
 * or portable C) computes MR x NR tiles. Parallel over tiles of C on the thread pool.
 */
#ifndef HRM_GEMM_H
#define HRM_GEMM_H

void hrm_sgemm(int transA, int transB, int M, int N, int K, const float *A, const float *B, float *C,
               int accumulate);

/* Depth of a packed block; also the row stride of r-major A panels. */
#define HRM_GEMM_KC 256

/* Micro-kernel: c[MR x NR] (ldc) = or += Σ_p A(r,p) * b[p*NR + j] over p < kc, where the packed A panel is
 * k-major, A(r,p) = a[p*MR + r] (fn_k), or r-major, A(r,p) = a[r*HRM_GEMM_KC + p] (fn_r). */
typedef void (*hrm_ukr_fn)(int kc, const float *a, const float *b, float *c, long ldc, int accumulate);
typedef struct {
  int mr, nr;
  hrm_ukr_fn fn_k, fn_r;
  const char *name;
} hrm_ukr;

hrm_ukr hrm_ukr_generic(void);
#if defined(__x86_64__)
hrm_ukr hrm_ukr_avx2(void);
hrm_ukr hrm_ukr_avx512(void);
#endif
/* The micro-kernel hrm_sgemm uses on this CPU. */
hrm_ukr hrm_ukr_selected(void);

#endif
