/*
 * GEMM over row-major float32 buffers: C[M,N] (+)= op(A)·op(B), where op(A) is [M,K] (A stored [K,M] when
 * transA) and op(B) is [K,N] (B stored [N,K] when transB). BLIS-style: blocks of op(B) and op(A) are packed
 * into micro-panels, and a register-blocked micro-kernel chosen at run time (AVX-512, AVX2+FMA, or portable
 * C) computes MR x NR tiles. Parallel over tiles of C on the thread pool.
 *
 * bfloat16 precision: every element of A and B is rounded to bfloat16 (round to nearest even) as it is
 * packed, products are exact and accumulate in float32. With the AVX512_BF16 dot product (where cpu.c uses it)
 * the panels hold bfloat16 pairs and the micro-kernel uses vdpbf16ps; elsewhere the rounded values stay float32
 * and the float32 micro-kernels run them: the same numbers up to summation order, at 0.9-1.0x float32 speed.
 */
#ifndef HRM_GEMM_H
#define HRM_GEMM_H

#include <stddef.h>
#include <stdint.h>

void hrm_gemm(int transA, int transB, int M, int N, int K, const float *A, const float *B, float *C,
              int accumulate, int bf16);
static inline void hrm_sgemm(int transA, int transB, int M, int N, int K, const float *A, const float *B,
                             float *C, int accumulate) {
  hrm_gemm(transA, transB, M, N, K, A, B, C, accumulate, 0);
}

/* op(B) packed once for many products with different A (a weight across a forward pass): the byte size of
 * the packed form, packing (B as in hrm_gemm: [K,N], or [N,K] when transB), and C[M,N] = A[M,K]·op(B) from it
 * (A row-major, C written). The packed form depends on the CPU's micro-kernel: use it in this process only. */
size_t hrm_packed_b_bytes(int K, int N, int bf16);
void hrm_pack_b(void *dst, int transB, int K, int N, const float *B, int bf16);
void hrm_gemm_prepacked(int M, int N, int K, const float *A, const void *packed, float *C, int bf16);

/* out[M,N] = res + A[M,K]·Wᵀ (W [N,K]): a linear layer and the residual add after it in one pass, from W
 * or (packed non-NULL) from hrm_pack_b of W with transB, K, N and the same bf16. out may be res. With rstd
 * non-NULL, out is then RMS-normalised row by row as hrm_rmsnorm_fwd(out, rstd, out, M, N, eps) would (same
 * bits): where a thread computes whole rows, each block of them while it is still in cache. */
void hrm_linear_residual(int M, int N, int K, const float *A, const float *W, const void *packed,
                         const float *res, float *out, int bf16, float *rstd, float eps);
/* out[M,F] = silu(gate) * up, (gate | up) = A[M,K]·Wᵀ with W [2F,K] (gate rows first, as the official
 * chunk(2)): the gate_up projection and SwiGLU in one pass, from W itself or (packed non-NULL) from hrm_pack_b
 * of W with transB, K, 2F and the same bf16. gate_up non-NULL: the product [M, 2F] is written there too (what
 * the backward reads), as the tiles leave the micro-kernel. */
void hrm_linear_swiglu(int M, int F, int K, const float *A, const float *W, const void *packed, float *out,
                       float *gate_up, int bf16);

/* Depth of a packed block; also the row stride (in elements) of r-major A panels. Even, so bfloat16 pairs
 * never straddle two blocks. */
#define HRM_GEMM_KC 1536

/* Micro-kernel: c[MR x NR] (ldc) = src + Σ_p A(r,p) * B(p,j) over p < kc, from packed panels; src (rows ldc
 * apart too) is NULL for none, c itself to accumulate, or another matrix (a residual added as the tile is stored).
 * float32 panels: B(p,j) = b[p*NR + j]; A is k-major, A(r,p) = a[p*MR + r] (fn_k), or r-major,
 * A(r,p) = a[r*HRM_GEMM_KC + p] (fn_r).
 * bfloat16 panels (kc even, zero-padded): pairs along k, B(p,j) = b[(p/2)*2*NR + 2*j + p%2]; k-major A,
 * A(r,p) = a[(p/2)*2*MR + 2*r + p%2], or r-major as above. */
typedef void (*hrm_ukr_fn)(int kc, const void *a, const void *b, float *c, long ldc, const float *src);
/* The kernels reading A where it lies, so that it needs no packing. fn_d: row-major float32 A, rows lda floats
 * apart (r-major with stride lda). fn_dk: A stored transposed, k-major with stride lda in panel elements:
 * float32 A(r,p) = a[p*lda + r]; bfloat16, pairs along k, A(r,p) = a[(p/2)*2*lda + 2*r + p%2] (a transposed A
 * converted to pairs once per product, see to_bf16_pairs in gemm.c). */
typedef void (*hrm_ukr_direct_fn)(int kc, const void *a, long lda, const float *b, float *c, long ldc,
                                  const float *src);
/* fn_d that also prefetches npf 64-byte lines from pf (up to kc of them, one per k step): a slice of the next B
 * panel, so that a panel serving few tiles (a batch-1 forward: 6) does not arrive from DRAM at its first. */
typedef void (*hrm_ukr_direct_pf_fn)(int kc, const float *a, long lda, const float *b, float *c, long ldc,
                                     const float *src, const void *pf, int npf);
typedef struct {
  int mr, nr;
  hrm_ukr_fn fn_k, fn_r;
  hrm_ukr_direct_fn fn_d, fn_dk; /* fn_d NULL for bfloat16 panels */
  const char *name;
  int bf16;                   /* panels hold bfloat16 pairs */
  hrm_ukr_direct_pf_fn fn_dp; /* NULL where the kernel has none: fn_d runs, without the prefetch */
  struct {                    /* the same entries for a tile's first NR/2 columns only (same panels); NULL: none */
    hrm_ukr_fn fn_k, fn_r;
    hrm_ukr_direct_fn fn_d, fn_dk;
  } half;
} hrm_ukr;

hrm_ukr hrm_ukr_generic(void);
#if defined(__wasm_simd128__)
hrm_ukr hrm_ukr_wasm(void);
#endif
#if defined(__x86_64__)
hrm_ukr hrm_ukr_avx2(void);
hrm_ukr hrm_ukr_avx512(void);
hrm_ukr hrm_ukr_avx512_bf16(void);
#endif
#if defined(__x86_64__)
/* One 32-column panel of a transposed op(B) (stored [N, K], rows ldb apart; n <= 32 columns, kc deep), packed
 * for the AVX-512 kernels through register transposes: float32 (rounded to bfloat16 with `round`), or bfloat16
 * pairs (AVX512_BF16 only). */
void hrm_pack_bt_f32_avx512(float *dst, const float *B, long ldb, int n, int kc, int round);
void hrm_pack_bt_bf16_avx512(uint32_t *dst, const float *B, long ldb, int n, int kc);
#endif
/* The float32 micro-kernel hrm_gemm uses on this CPU. */
hrm_ukr hrm_ukr_selected(void);

/* bfloat16 bits of x, rounded to nearest even (NaN stays NaN). */
static inline uint16_t hrm_bf16_bits(float x) {
  union {
    float f;
    uint32_t u;
  } v = {x};
  uint32_t rounded = (v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16, quiet = (v.u >> 16) | 0x40u;
  return (uint16_t)((v.u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded); /* a select: loops vectorise */
}
static inline float hrm_bf16_round(float x) {
  union {
    uint32_t u;
    float f;
  } v = {(uint32_t)hrm_bf16_bits(x) << 16};
  return v.f;
}

#endif
