/*
 * GEMM micro-kernels. Each keeps an MR x NR tile of C in registers and streams packed panels of A (MR values
 * per k, broadcast) and B (NR values per k, vector loads). SIMD versions are compiled with per-function
 * target attributes, so the file builds for any x86-64 and the caller picks one after CPU detection.
 * The portable one is plain C (the compiler vectorises it with the baseline ISA; also the WASM path).
 *
 * Two A-panel layouts, so that packing A is a plain copy whichever way A is stored:
 *   k-major:  a[p*MR + r]   (A stored transposed: MR contiguous values per k)
 *   r-major:  a[r*KC + p]   (A row-major: each row's k values copied as they are; stride HRM_GEMM_KC)
 * Each body is written once with the layout strides as parameters and instantiated with constants. The direct
 * entries (fn_d, fn_dk) take the stride from the caller instead of KC or MR, and so read an unpacked A where it
 * lies: rows of a row-major A, or a transposed A (float32, or bfloat16 pairs) with its stride M. The AVX-512
 * float32 kernel has one more entry, fn_dp: fn_d that also prefetches a slice of the next B panel.
 */
#include "gemm.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define KC HRM_GEMM_KC
#define AT(a, r, p, ars, aps) ((a)[(r) * (ars) + (p) * (aps)])

/* ---- portable C: 4 x 16 ---- */
#define G_MR 4
#define G_NR 16
static inline void generic_body(int kc, const float *a, const float *b, float *c, long ldc, const float *src,
                                long ars, long aps) {
  float acc[G_MR][G_NR] = {{0}};
  for (int p = 0; p < kc; p++, b += G_NR)
    for (int r = 0; r < G_MR; r++)
      for (int j = 0; j < G_NR; j++) acc[r][j] += AT(a, r, p, ars, aps) * b[j];
  for (int r = 0; r < G_MR; r++)
    for (int j = 0; j < G_NR; j++) c[r * ldc + j] = src ? src[r * ldc + j] + acc[r][j] : acc[r][j];
}
static void generic_k(int kc, const void *a, const void *b, float *c, long ldc, const float *acc) {
  generic_body(kc, a, b, c, ldc, acc, 1, G_MR);
}
static void generic_r(int kc, const void *a, const void *b, float *c, long ldc, const float *acc) {
  generic_body(kc, a, b, c, ldc, acc, KC, 1);
}
static void generic_d(int kc, const void *a, long lda, const float *b, float *c, long ldc, const float *acc) {
  generic_body(kc, a, b, c, ldc, acc, lda, 1);
}
static void generic_dk(int kc, const void *a, long lda, const float *b, float *c, long ldc, const float *acc) {
  generic_body(kc, a, b, c, ldc, acc, 1, lda);
}
hrm_ukr hrm_ukr_generic(void) {
  return (hrm_ukr){G_MR, G_NR, generic_k, generic_r, generic_d, generic_dk, "generic-4x16", 0, NULL, {NULL, NULL, NULL, NULL}};
}

#if defined(__wasm_simd128__)
/* ---- WASM SIMD128: MR x 8 (MR x 2 accumulators, 2 B vectors, 1 broadcast: within the 16 registers that
 * engines map v128 values to on x86-64 and arm64). With relaxed SIMD the multiply-add is one fused instruction where
 * the CPU has FMA; without it, a multiply then an add (the same products, rounded once more). ---- */
#include <wasm_simd128.h>
#ifdef __wasm_relaxed_simd__
#define W_MADD(x, y, acc) wasm_f32x4_relaxed_madd(x, y, acc)
#define W_NAME "wasm-relaxed"
#else
#define W_MADD(x, y, acc) wasm_f32x4_add(wasm_f32x4_mul(x, y), acc)
#define W_NAME "wasm-simd128"
#endif
/* Tiles measured on the model's products (x·Wᵀ, 82x1536x512 and 512x512x512, 1 thread, Node 20 on an AMD EPYC
 * with AVX-512, 2026-12-07): SIMD128 5x8 36/43 GFLOP/s (4x16 22/24, 6x8 22/25, 4x8 34/38, 8x8 26/28); relaxed
 * 6x8 40/49 (4x16 25/29, 5x8 36/42, 4x8 39/45). Tiles of 16 or more accumulators spill: V8 gives v128 values
 * 16 registers. W_MR/W_NR override them for such sweeps. */
#ifndef W_MR
#ifdef __wasm_relaxed_simd__
#define W_MR 6
#else
#define W_MR 5
#endif
#endif
#ifndef W_NR
#define W_NR 8
#endif
#define W_NV (W_NR / 4)
static inline __attribute__((always_inline)) void wasm_body(int kc, const float *a, const float *b, float *c,
                                                            long ldc, const float *src, long ars, long aps) {
  v128_t acc[W_MR][W_NV];
  for (int r = 0; r < W_MR; r++)
    for (int v = 0; v < W_NV; v++) acc[r][v] = wasm_f32x4_splat(0.0f);
  for (int p = 0; p < kc; p++, b += W_NR) {
    v128_t bv[W_NV];
    for (int v = 0; v < W_NV; v++) bv[v] = wasm_v128_load(b + 4 * v);
    for (int r = 0; r < W_MR; r++) {
      v128_t ar = wasm_f32x4_splat(AT(a, r, p, ars, aps));
      for (int v = 0; v < W_NV; v++) acc[r][v] = W_MADD(ar, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < W_MR; r++)
    for (int v = 0; v < W_NV; v++) {
      v128_t x = acc[r][v];
      if (src) x = wasm_f32x4_add(x, wasm_v128_load(src + r * ldc + 4 * v));
      wasm_v128_store(c + r * ldc + 4 * v, x);
    }
}
static void wasm_k(int kc, const void *a, const void *b, float *c, long ldc, const float *acc) {
  wasm_body(kc, a, b, c, ldc, acc, 1, W_MR);
}
static void wasm_r(int kc, const void *a, const void *b, float *c, long ldc, const float *acc) {
  wasm_body(kc, a, b, c, ldc, acc, KC, 1);
}
static void wasm_d(int kc, const void *a, long lda, const float *b, float *c, long ldc, const float *acc) {
  wasm_body(kc, a, b, c, ldc, acc, lda, 1);
}
static void wasm_dk(int kc, const void *a, long lda, const float *b, float *c, long ldc, const float *acc) {
  wasm_body(kc, a, b, c, ldc, acc, 1, lda);
}
hrm_ukr hrm_ukr_wasm(void) { return (hrm_ukr){W_MR, W_NR, wasm_k, wasm_r, wasm_d, wasm_dk, W_NAME, 0, NULL, {NULL, NULL, NULL, NULL}}; }
#endif

#if defined(__x86_64__)
/* Starts fetching the C tile (rows of 32 floats: up to three lines each when unaligned) before the k loop, so
 * that the accumulate-and-store at the end finds it in L1: C is tens of MB across a model GEMM and its tile
 * would otherwise arrive from L3 or DRAM, stalling each tile by the latency of its loads (~10% of the time). */
static inline void prefetch_c_tile(const float *c, long ldc, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    const char *cr = (const char *)(c + r * ldc);
    for (int off = 0; off < cols * (int)sizeof(float); off += 64) _mm_prefetch(cr + off, _MM_HINT_T0);
    _mm_prefetch(cr + cols * sizeof(float) - 1, _MM_HINT_T0);
  }
}

/* ---- AVX2 + FMA: 6 x 16 (12 ymm accumulators, 2 B vectors, 1 broadcast: 15 of 16 registers) ---- */
#define A2_MR 6
__attribute__((target("avx2,fma"), always_inline)) static inline void avx2_body(int kc, const float *a,
                                                                               const float *b, float *c,
                                                                               long ldc, const float *src,
                                                                               long ars, long aps) {
  __m256 c0[A2_MR], c1[A2_MR];
  prefetch_c_tile(c, ldc, A2_MR, 16);
#pragma GCC unroll 6
  for (int r = 0; r < A2_MR; r++) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int p = 0; p < kc; p++, b += 16) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < A2_MR; r++) {
      __m256 ar = _mm256_broadcast_ss(&AT(a, r, p, ars, aps));
      c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < A2_MR; r++) {
    float *cr = c + r * ldc;
    if (src) {
      c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(src + r * ldc));
      c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(src + r * ldc + 8));
    }
    _mm256_storeu_ps(cr, c0[r]);
    _mm256_storeu_ps(cr + 8, c1[r]);
  }
}
__attribute__((target("avx2,fma"))) static void avx2_k(int kc, const void *a, const void *b, float *c,
                                                       long ldc, const float *acc) {
  avx2_body(kc, a, b, c, ldc, acc, 1, A2_MR);
}
__attribute__((target("avx2,fma"))) static void avx2_r(int kc, const void *a, const void *b, float *c,
                                                       long ldc, const float *acc) {
  avx2_body(kc, a, b, c, ldc, acc, KC, 1);
}
__attribute__((target("avx2,fma"))) static void avx2_d(int kc, const void *a, long lda, const float *b,
                                                       float *c, long ldc, const float *acc) {
  avx2_body(kc, a, b, c, ldc, acc, lda, 1);
}
__attribute__((target("avx2,fma"))) static void avx2_dk(int kc, const void *a, long lda, const float *b,
                                                         float *c, long ldc, const float *acc) {
  avx2_body(kc, a, b, c, ldc, acc, 1, lda);
}
hrm_ukr hrm_ukr_avx2(void) { return (hrm_ukr){A2_MR, 16, avx2_k, avx2_r, avx2_d, avx2_dk, "avx2-6x16", 0, NULL,
                                      {NULL, NULL, NULL, NULL}}; }

/* prefetch_c_tile with write intent (prefetchw), for the AVX-512 kernels: the line arrives owned, so the store
 * at the end of the tile does not wait for a read-for-ownership. A tile over 16 fresh 84 x 1536 C blocks ran
 * 152-157 -> 158-162 GFLOP/s on 1 thread; the model's forward products +2-3% (best of 12); a full training step
 * at batch 32 won 4 of 5 alternations, median 4.50 -> 4.38 s. Every AVX-512 CPU has PREFETCHW; the AVX2 kernel
 * keeps the read prefetch, as some AVX2 CPUs (Haswell) run PREFETCHW as a no-op. */
__attribute__((target("prfchw"), always_inline)) static inline void prefetchw_c_tile(const float *c, long ldc,
                                                                                    int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    char *cr = (char *)(c + r * ldc);
    for (int off = 0; off < cols * (int)sizeof(float); off += 64) _m_prefetchw(cr + off);
    _m_prefetchw(cr + cols * sizeof(float) - 1);
  }
}

/* ---- AVX-512: 14 x 32 (28 zmm accumulators, 2 B vectors, 1 broadcast: 31 of 32 registers) ---- */
#define A5_MR 14
/* Targets of the AVX-512 kernels: prefetchw_c_tile inlines into them. */
#define A5_TARGET "avx512f,prfchw"
#define A5_BF16_TARGET "avx512f,avx512bf16,prfchw"
/* c[14 x 16·nv] (ldc) = or += the accumulators (columns 0-15 in c0, 16-31 in c1); shared by both AVX-512
 * kernels. nv (1 or 2) is a constant where it inlines. */
__attribute__((target(A5_TARGET), always_inline)) static inline void avx512_store_tile(__m512 *c0, __m512 *c1,
                                                                                       float *c, long ldc,
                                                                                       const float *src, int nv) {
#pragma GCC unroll 14
  for (int r = 0; r < A5_MR; r++) {
    float *cr = c + r * ldc;
    if (src) {
      c0[r] = _mm512_add_ps(c0[r], _mm512_loadu_ps(src + r * ldc));
      if (nv == 2) c1[r] = _mm512_add_ps(c1[r], _mm512_loadu_ps(src + r * ldc + 16));
    }
    _mm512_storeu_ps(cr, c0[r]);
    if (nv == 2) _mm512_storeu_ps(cr + 16, c1[r]);
  }
}
/* One k step of the 14 x 16·nv tile: nv B vectors, 14 broadcasts of A(r, p), 14·nv FMAs. */
__attribute__((target(A5_TARGET), always_inline)) static inline void avx512_step(__m512 *c0, __m512 *c1,
                                                                                 const float *a, const float *b,
                                                                                 int p, long ars, long aps,
                                                                                 int nv) {
  __m512 b0 = _mm512_loadu_ps(b), b1 = nv == 2 ? _mm512_loadu_ps(b + 16) : b0;
  /* Rows 7-13 from a second base: in place (fn_d: ars = lda, a run-time stride) 14 row addresses took 13 index
   * registers, so GCC kept one in a vector register and moved it back each k step (vmovq, on an FMA port: 29
   * uops for 28 FMA slots) and reloaded two from the stack. With two bases the same 6 index registers serve
   * both halves. In cache, 1 thread: K = 512 168-170 -> 176, K = 1536 171 -> 178, K = 128 167 -> 173 GFLOP/s. */
  const float *a7 = a + 7 * ars;
#pragma GCC unroll 14
  for (int r = 0; r < A5_MR; r++) {
    __m512 ar = _mm512_set1_ps(r < 7 ? AT(a, r, p, ars, aps) : AT(a7, r - 7, p, ars, aps));
    c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
    if (nv == 2) c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
  }
}
/* The float32 tile, 16·nv columns of the 32-wide panels; its first npf (<= kc) k steps also prefetch a line of
 * pf each (see hrm_ukr.fn_dp). */
__attribute__((target(A5_TARGET), always_inline)) static inline void avx512_body(int kc, const float *a,
                                                                                 const float *b, float *c,
                                                                                 long ldc, const float *src,
                                                                                 long ars, long aps,
                                                                                 const char *pf, int npf, int nv) {
  __m512 c0[A5_MR], c1[A5_MR];
  prefetchw_c_tile(c, ldc, A5_MR, 16 * nv);
#pragma GCC unroll 14
  for (int r = 0; r < A5_MR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
  int p = 0;
  for (; p < npf; p++, b += 32) {
    _mm_prefetch(pf + 64 * p, _MM_HINT_T0);
    avx512_step(c0, c1, a, b, p, ars, aps, nv);
  }
  for (; p < kc; p++, b += 32) avx512_step(c0, c1, a, b, p, ars, aps, nv);
  avx512_store_tile(c0, c1, c, ldc, src, nv);
}
/* The four layouts' entries at nv vectors (A5_ENTRIES(name, nv) defines name_k, name_r, name_d, name_dk). */
#define A5_ENTRIES(name, nv)                                                                                   \
  __attribute__((target(A5_TARGET))) static void name##_k(int kc, const void *a, const void *b, float *c,     \
                                                         long ldc, const float *acc) {                        \
    avx512_body(kc, a, b, c, ldc, acc, 1, A5_MR, NULL, 0, nv);                                                \
  }                                                                                                            \
  __attribute__((target(A5_TARGET))) static void name##_r(int kc, const void *a, const void *b, float *c,     \
                                                         long ldc, const float *acc) {                        \
    avx512_body(kc, a, b, c, ldc, acc, KC, 1, NULL, 0, nv);                                                   \
  }                                                                                                            \
  __attribute__((target(A5_TARGET))) static void name##_d(int kc, const void *a, long lda, const float *b,    \
                                                         float *c, long ldc, const float *acc) {              \
    avx512_body(kc, a, b, c, ldc, acc, lda, 1, NULL, 0, nv);                                                  \
  }                                                                                                            \
  __attribute__((target(A5_TARGET))) static void name##_dk(int kc, const void *a, long lda, const float *b,   \
                                                          float *c, long ldc, const float *acc) {             \
    avx512_body(kc, a, b, c, ldc, acc, 1, lda, NULL, 0, nv);                                                  \
  }
A5_ENTRIES(avx512, 2)
/* 14 x 16: a last panel with 16 or fewer columns left (N = 97: one) computes half a tile instead of a whole
 * one. mlp_t's products with N = 97 at batch 32, 2 threads (Zen 5): 16384x97x1024 12.9 -> 11.1 ms,
 * 16384x97x512 5.7 -> 4.8 ms (16384x96x1024: 9.6 ms). */
A5_ENTRIES(avx512h, 1)
__attribute__((target(A5_TARGET))) static void avx512_dp(int kc, const float *a, long lda, const float *b,
                                                         float *c, long ldc, const float *acc, const void *pf, int npf) {
  avx512_body(kc, a, b, c, ldc, acc, lda, 1, pf, npf < kc ? npf : kc, 2);
}
hrm_ukr hrm_ukr_avx512(void) {
  return (hrm_ukr){A5_MR, 32, avx512_k, avx512_r, avx512_d, avx512_dk, "avx512-14x32", 0, avx512_dp,
                   {avx512h_k, avx512h_r, avx512h_d, avx512h_dk}};
}

/* ---- AVX512_BF16: 14 x 32 over bfloat16 pairs. vdpbf16ps adds a[2i]*b[2i] + a[2i+1]*b[2i+1] to float32
 * lane i, so one instruction covers two k steps: per k pair, 2 B vectors (32 columns x 2 k), 14 broadcast
 * A pairs, 28 dot products. Same register budget as the float32 kernel, twice the work per instruction (on a
 * Sapphire Rapids-class core each took about two cycles, so it ran at 0.55x the float32 kernel: see cpu.c) ---- */
__attribute__((target(A5_BF16_TARGET), always_inline)) static inline void avx512_bf16_body(
    int kc, const uint16_t *a, const uint16_t *b, float *c, long ldc, const float *src, long ars, long aps) {
  __m512 c0[A5_MR], c1[A5_MR];
  prefetchw_c_tile(c, ldc, A5_MR, 32);
#pragma GCC unroll 14
  for (int r = 0; r < A5_MR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int q = 0; q < kc / 2; q++, b += 64) {
    __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
#pragma GCC unroll 14
    for (int r = 0; r < A5_MR; r++) {
      int32_t pair;
      memcpy(&pair, a + r * ars + q * aps, sizeof pair);
      __m512bh ar = (__m512bh)_mm512_set1_epi32(pair);
      c0[r] = _mm512_dpbf16_ps(c0[r], ar, b0);
      c1[r] = _mm512_dpbf16_ps(c1[r], ar, b1);
    }
  }
  avx512_store_tile(c0, c1, c, ldc, src, 2);
}
__attribute__((target(A5_BF16_TARGET))) static void avx512_bf16_k(int kc, const void *a, const void *b,
                                                                  float *c, long ldc, const float *acc) {
  avx512_bf16_body(kc, a, b, c, ldc, acc, 2, 2 * A5_MR);
}
__attribute__((target(A5_BF16_TARGET))) static void avx512_bf16_r(int kc, const void *a, const void *b,
                                                                  float *c, long ldc, const float *acc) {
  avx512_bf16_body(kc, a, b, c, ldc, acc, KC, 2);
}
__attribute__((target(A5_BF16_TARGET))) static void avx512_bf16_dk(int kc, const void *a, long lda,
                                                                   const float *b, float *c, long ldc,
                                                                   const float *acc) {
  avx512_bf16_body(kc, a, (const uint16_t *)b, c, ldc, acc, 2, 2 * lda);
}
hrm_ukr hrm_ukr_avx512_bf16(void) {
  return (hrm_ukr){A5_MR, 32, avx512_bf16_k, avx512_bf16_r, NULL, avx512_bf16_dk, "avx512bf16-14x32", 1, NULL,
                   {NULL, NULL, NULL, NULL}};
}
#endif
