/*
 * GEMM driver: blocking, packing and threading around the micro-kernels of gemm_ukr.c.
 * Packing: op(B) goes into NR-column micro-panels (KC deep), op(A) into MR-row micro-panels (an MC x KC block
 * stays in L2); the micro-kernel runs over MR x NR tiles of C. A float32 A is not packed: the micro-kernel
 * reads it in place, a row-major A's rows (packed r-major panels have a row stride too) or a transposed A's
 * MR values per k (k-major panels with the stride M instead of MR), so only a last partial micro-panel is
 * copied. Partial edge tiles go through a small buffer so the micro-kernels only ever see full tiles.
 * Threading, by shape:
 *   - row split (tall C, the forward and dX products): the threads pack all of op(B) together, then take row
 *     tasks that shrink as the rows run out (split_rows), each A block packed once and run against every column;
 *   - transpose first (Aᵀ·B with long K and rows enough: weight gradients): op(B) packed once, then each task
 *     transposes a strip of op(A)'s rows to row-major and computes those rows of C (see gemm_transpose_first);
 *   - depth split (the same with few rows, or bfloat16 panels): the threads take K ranges, BLIS loop order,
 *     each range summing into a partial of its own (the first into C), and the partials are added in range
 *     order;
 *   - column split (short C) or a single task: each task packs its own op(B) columns.
 * Packed buffers are addressed in elements of the panel type (float, or bfloat16 pairs: see gemm.h); the
 * offsets are the same for both, and a bfloat16 block rounds its depth up to an even kc.
 */
#include "gemm.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "simd.h"
#include "threadpool.h"
#if defined(__x86_64__)
#include "transpose_x86.h"
#endif

/* Packed depth: 1536 puts all of K in one block for every forward product of the paper's model (K = 512 or
 * 1536) and every dX product but gate_up's (K = 3072), so C is written once instead of read and written again
 * per block, and fused epilogues (SwiGLU) apply. The B micro-panel (32 x 1536 floats) and A's rows then stream from L2 rather than sitting in L1,
 * which costs less: KC 256 -> 512 gave +3-10% on the model's shapes at 2 threads, 512 -> 1536 another +2-6%. */
#define KC HRM_GEMM_KC
#define MC_MAX 84 /* rows per A block (multiple of every MR: 14, 6, 4): 84 x KC floats, ~500 KB, stay in L2 */
#define NC_MAX 512
#define K_SPLIT_MIN 1024 /* depth from which a weight gradient (Aᵀ·B) splits K across threads */
/* ... on up to this many threads: each takes two K ranges, and every range but the first costs an M x N
 * partial sum (memory, and its reduction) */
#define K_SPLIT_MAX_THREADS 4

typedef struct {
  const float *A, *B;
  float *C;
  int M, N, K, accumulate;
  long rsa, csa, rsb, csb; /* op(A)(i,p) = A[i*rsa + p*csa]; op(B)(p,j) = B[p*rsb + j*csb] */
  int nc; /* columns per task in the column split */
  hrm_ukr uk;
  hrm_ukr_fn ukr; /* uk.fn_k when A is stored transposed, uk.fn_r when row-major (see pack_a) */
  int a_rmajor;   /* !transA: the packed A layout; not derivable from the strides, which tie when M or K is 1 */
  int a_direct;   /* whole micro-panels of A are read in place (uk.fn_d; uk.fn_dk when transposed) */
  const uint32_t *pairs; /* bfloat16 panels, A transposed: A as pairs along k, [ceil(K/2), M] (see to_bf16_pairs) */
  int round_bf16; /* bfloat16 precision on float32 panels: round every packed value (no bf16 dot here) */
  float *glu; /* fused SwiGLU (hrm_linear_swiglu): glu[M, N/2] = silu(gate) * up (hrm_swiglu_rows); C: the product
               * kept as well, or NULL */
  const float *res; /* hrm_linear_residual: C = res + A·op(B), res [M, N] added on the first depth block */
  float *rstd;      /* hrm_linear_residual with a norm: [M], see norm_rows */
  float eps;
  _Atomic long *normed; /* rows normalised inside the product (tasks that computed whole rows) */
} gemm_job;

/* Columns of the result: N, or the N/2 gate columns of a fused SwiGLU, each paired with its up column. */
static int out_cols(const gemm_job *g) { return g->glu ? g->N / 2 : g->N; }

/* Bytes per packed element, and the packed depth of a kc block (bfloat16 pairs need it even). */
static size_t esz(const gemm_job *g) { return g->uk.bf16 ? sizeof(uint16_t) : sizeof(float); }
static int kpad(const gemm_job *g, int kc) { return g->uk.bf16 ? (kc + 1) & ~1 : kc; }

/* bfloat16 precision on float32 panels (no bf16 dot): values rounded in place, or as they are copied. Cloned:
 * the baseline (SSE2) build of these loops made a bfloat16 product of 168x512x512 20% slower than float32. */
HRM_CLONES static void round_block(float *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = hrm_bf16_round(p[i]);
}

HRM_CLONES static void copy_round(float *d, const float *s, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = hrm_bf16_round(s[i]);
}

/* d[0..n) = s[0..n), then zeros up to cap: one packed panel row of `size`-byte elements. */
static void copy_pad(void *d, const void *s, int n, int cap, size_t size) {
  memcpy(d, s, size * n);
  memset((char *)d + size * n, 0, size * (cap - n));
}

/* copy_pad of a float32 panel row: the full rows of the micro-kernels' widths copy with constant sizes, which
 * the compiler turns into a few vector moves; a memcpy call per 14 floats cost half the micro-kernel's time
 * when packing a transposed A. */
static inline void copy_pad_f32(float *d, const float *s, int n, int cap) {
  if (n == cap) switch (cap) {
      case 14: memcpy(d, s, 14 * sizeof(float)); return;
      case 32: memcpy(d, s, 32 * sizeof(float)); return;
      case 16: memcpy(d, s, 16 * sizeof(float)); return;
      case 6: memcpy(d, s, 6 * sizeof(float)); return;
      case 4: memcpy(d, s, 4 * sizeof(float)); return;
      default: break;
    }
  copy_pad(d, s, n, cap, sizeof(float));
}

/* Packing buffers come from the pool's per-thread scratch (grown on demand, then reused). */
static float *thread_scratch(int thread, size_t floats) {
  return hrm_thread_scratch(HRM_SCRATCH_GEMM_A, thread, floats * sizeof(float));
}

hrm_ukr hrm_ukr_selected(void) {
#if defined(__x86_64__)
  switch (hrm_cpu_isa()) {
    case HRM_ISA_AVX512: return hrm_ukr_avx512();
    case HRM_ISA_AVX2: return hrm_ukr_avx2();
    default: break;
  }
#elif defined(__wasm_simd128__)
  return hrm_ukr_wasm();
#endif
  return hrm_ukr_generic();
}

/* Rows i0.. of op(A) into MR-row panels of MR*KC floats, zero-padded past the block, laid out so that
 * packing is a copy: row-major A keeps its rows (r-major, row stride KC); transposed A, whose MR values per
 * k are contiguous, is copied k by k (k-major), each stored row read once across all panels (streaming,
 * rather than MR values from each of kc rows per panel). */
static void pack_a_f32(float *dst, const gemm_job *g, int i0, int m, int p0, int kc) {
  int MR = g->uk.mr;
  if (!g->a_rmajor) {
    for (int p = 0; p < kc; p++) {
      const float *sp = g->A + (size_t)(p0 + p) * g->csa + i0;
      for (int ir = 0; ir < m; ir += MR) {
        copy_pad_f32(dst + (size_t)ir * KC + (size_t)p * MR, sp + ir, m - ir < MR ? m - ir : MR, MR);
      }
    }
    return;
  }
  for (int ir = 0; ir < m; ir += MR) {
    float *d = dst + (size_t)ir * KC;
    int mm = m - ir < MR ? m - ir : MR;
    const float *s = g->A + (size_t)(i0 + ir) * g->rsa + (size_t)p0 * g->csa;
    for (int r = 0; r < mm; r++) {
      if (g->round_bf16) copy_round(d + (size_t)r * KC, s + (size_t)r * g->rsa, kc);
      else memcpy(d + (size_t)r * KC, s + (size_t)r * g->rsa, kc * sizeof(float));
    }
    for (int r = mm; r < MR; r++) memset(d + (size_t)r * KC, 0, kc * sizeof(float));
  }
}

/* bfloat16 conversions for packing: a row as it is, or two rows as pairs (element 2j from s0, 2j+1 from s1;
 * s1 NULL: zeros), which is one 32-bit word per column. bfloat16 panels exist only with the AVX512_BF16 dot
 * product, so on x86 these use its conversion instructions (round to nearest even, as hrm_bf16_bits; they
 * read float32 denormals as zero, which vdpbf16ps does with bfloat16 denormals anyway). */
#if defined(__x86_64__)
#include <immintrin.h>
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
BF16_TARGET static void bf16_row(uint16_t *d, const float *s, int n) {
  int i = 0;
  for (; i + 32 <= n; i += 32)
    _mm512_storeu_si512(d + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + i + 16), _mm512_loadu_ps(s + i)));
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(d + i, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, s + i)));
  }
}
BF16_TARGET static void bf16_pairs(uint32_t *d, const float *s0, const float *s1, int n) {
  for (int j = 0; j < n; j += 16) {
    __mmask16 m = n - j >= 16 ? 0xffff : (__mmask16)((1u << (n - j)) - 1);
    __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, s0 + j)));
    __m512i hi = s1 ? _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, s1 + j)))
                    : _mm512_setzero_si512();
    _mm512_mask_storeu_epi32(d + j, m, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
  }
}
#else
static void bf16_row(uint16_t *d, const float *s, int n) {
  for (int i = 0; i < n; i++) d[i] = hrm_bf16_bits(s[i]);
}
static void bf16_pairs(uint32_t *d, const float *s0, const float *s1, int n) {
  for (int j = 0; j < n; j++) d[j] = hrm_bf16_bits(s0[j]) | (s1 ? (uint32_t)hrm_bf16_bits(s1[j]) << 16 : 0);
}
#endif

/* The same panels in bfloat16: r-major rows as they are (depth padded to even), k-major as MR pairs per k
 * pair, so the micro-kernel broadcasts one 32-bit pair per row. */
static void pack_a_bf16(uint16_t *dst, const gemm_job *g, int i0, int m, int p0, int kc) {
  int MR = g->uk.mr, kp = kpad(g, kc);
  if (!g->a_rmajor) { /* A stored transposed: stored rows p, p+1 give the pairs, converted whole, then split */
    uint32_t pairs[MC_MAX];
    for (int p = 0; p < kc; p += 2) {
      const float *sp = g->A + (size_t)(p0 + p) * g->csa + i0;
      bf16_pairs(pairs, sp, p + 1 < kc ? sp + g->csa : NULL, m);
      for (int ir = 0; ir < m; ir += MR) {
        uint32_t *d = (uint32_t *)(dst + (size_t)ir * KC) + (size_t)(p >> 1) * MR;
        copy_pad(d, pairs + ir, m - ir < MR ? m - ir : MR, MR, sizeof(uint32_t));
      }
    }
    return;
  }
  for (int ir = 0; ir < m; ir += MR) {
    uint16_t *d = dst + (size_t)ir * KC;
    int mm = m - ir < MR ? m - ir : MR;
    const float *s = g->A + (size_t)(i0 + ir) * g->rsa + (size_t)p0 * g->csa;
    for (int r = 0; r < MR; r++) {
      uint16_t *dr = d + (size_t)r * KC;
      if (r < mm) bf16_row(dr, s + (size_t)r * g->rsa, kc);
      memset(dr + (r < mm ? kc : 0), 0, sizeof(uint16_t) * (kp - (r < mm ? kc : 0)));
    }
  }
}

static void pack_a_panels(void *dst, const gemm_job *g, int i0, int m, int p0, int kc) {
  if (g->uk.bf16) {
    pack_a_bf16(dst, g, i0, m, p0, kc);
    return;
  }
  pack_a_f32(dst, g, i0, m, p0, kc); /* rounds the rows of a row-major A as it copies them */
  if (!g->round_bf16 || g->a_rmajor) return;
  for (int ir = 0; ir < m; ir += g->uk.mr) round_block((float *)dst + (size_t)ir * KC, (size_t)g->uk.mr * kc);
}

/* Rows of an m-row block that the direct kernel reads in place (whole micro-panels); the rest are packed. */
static int direct_rows(const gemm_job *g, int m) { return g->a_direct ? m / g->uk.mr * g->uk.mr : 0; }

/* The packed part of an A block (rows i0.., depth p0..): all of it, or with a_direct only the last partial
 * micro-panel. Packing a row-major A was ~7% of a model GEMM's time; reading it in place costs nothing extra,
 * as the packed r-major panels have a row stride too (KC). Packing a transposed A was 12-14% of an Aᵀ·B at
 * T = 2624 (its stored rows lie 10 KB apart: a DRAM stall per row; prefetching the next block while the
 * previous one computed won back only a third of it); read in place, Aᵀ·B and Aᵀ·Bᵀ run 8-10% faster. */
static void pack_a(void *dst, const gemm_job *g, int i0, int m, int p0, int kc) {
  int md = direct_rows(g, m);
  if (m > md) pack_a_panels(dst, g, i0 + md, m - md, p0, kc);
}

/* dst[panel][p][j]: columns j0.. of op(B) in NR-column panels, zero-padded past N, rounded to bfloat16 with
 * round_bf16. */
static void pack_b_f32(float *dst, const gemm_job *g, int j0, int n, int p0, int kc) {
  int NR = g->uk.nr;
  if (g->csb == 1) { /* row-major B: each stored row read once, across all panels (streaming) */
    for (int p = 0; p < kc; p++) {
      const float *s = g->B + (size_t)(p0 + p) * g->rsb + j0;
      for (int jr = 0; jr < n; jr += NR) {
        float *d = dst + (size_t)jr * kc + (size_t)p * NR;
        int nn = n - jr < NR ? n - jr : NR;
        copy_pad_f32(d, s + jr, nn, NR);
        if (g->round_bf16) round_block(d, nn);
      }
    }
    return;
  }
#if defined(__x86_64__)
  if (NR == 32 && g->rsb == 1) { /* the AVX-512 kernels: B stored transposed, through register transposes */
    for (int jr = 0; jr < n; jr += NR)
      hrm_pack_bt_f32_avx512(dst + (size_t)jr * kc, g->B + (size_t)p0 + (size_t)(j0 + jr) * g->csb, g->csb,
                             n - jr < NR ? n - jr : NR, kc, g->round_bf16);
    return;
  }
#endif
  for (int jr = 0; jr < n; jr += NR) {
    float *d = dst + (size_t)jr * kc;
    int nn = n - jr < NR ? n - jr : NR;
    for (int p = 0; p < kc; p++) {
      const float *s = g->B + (size_t)(p0 + p) * g->rsb + (size_t)(j0 + jr) * g->csb;
      float *dp = d + p * NR;
      for (int j = 0; j < nn; j++) dp[j] = s[(size_t)j * g->csb];
      if (g->round_bf16) round_block(dp, nn);
      for (int j = nn; j < NR; j++) dp[j] = 0;
    }
  }
}

/* dst[panel][p/2][j][p%2]: bfloat16 pairs of rows p, p+1 of op(B), depth padded to even. Row-major B pairs
 * two stored rows; B stored transposed holds each column's pairs contiguously, so a column is converted
 * whole and its 32-bit pairs are spread across the panel. */
static void pack_b_bf16(uint16_t *dst, const gemm_job *g, int j0, int n, int p0, int kc) {
  int NR = g->uk.nr, kp = kpad(g, kc);
  if (g->csb == 1) { /* row-major B: rows p, p+1 converted as pairs once across all panels (streaming) */
    for (int p = 0; p < kc; p += 2) {
      const float *s = g->B + (size_t)(p0 + p) * g->rsb + j0;
      for (int jr = 0; jr < n; jr += NR) {
        uint32_t *d = (uint32_t *)(dst + (size_t)jr * kp) + (size_t)(p >> 1) * NR;
        int nn = n - jr < NR ? n - jr : NR;
        bf16_pairs(d, s + jr, p + 1 < kc ? s + jr + g->rsb : NULL, nn);
        memset(d + nn, 0, sizeof(uint32_t) * (NR - nn));
      }
    }
    return;
  }
#if defined(__x86_64__)
  if (NR == 32 && g->rsb == 1) { /* bfloat16 panels exist only with AVX512_BF16: register transposes */
    for (int jr = 0; jr < n; jr += NR)
      hrm_pack_bt_bf16_avx512((uint32_t *)(dst + (size_t)jr * kp), g->B + (size_t)p0 + (size_t)(j0 + jr) * g->csb,
                              g->csb, n - jr < NR ? n - jr : NR, kc);
    return;
  }
#endif
  uint16_t col[KC + 2];
  col[kc] = 0; /* odd kc: the last pair's upper half */
  for (int jr = 0; jr < n; jr += NR) {
    uint32_t *d = (uint32_t *)(dst + (size_t)jr * kp);
    int nn = n - jr < NR ? n - jr : NR;
    for (int j = 0; j < nn; j++) {
      bf16_row(col, g->B + (size_t)p0 * g->rsb + (size_t)(j0 + jr + j) * g->csb, kc);
      for (int q = 0; q < kp / 2; q++) memcpy(d + (size_t)q * NR + j, col + 2 * q, sizeof(uint32_t));
    }
    if (nn < NR)
      for (int q = 0; q < kp / 2; q++) memset(d + (size_t)q * NR + nn, 0, sizeof(uint32_t) * (NR - nn));
  }
}

static void pack_b(void *dst, const gemm_job *g, int j0, int n, int p0, int kc) {
  if (g->uk.bf16) {
    pack_b_bf16(dst, g, j0, n, p0, kc);
    return;
  }
  pack_b_f32(dst, g, j0, n, p0, kc);
}

/* Packed block pointers: element offsets, scaled by the panel element size. */
static const void *at(const gemm_job *g, const void *base, size_t elems) {
  return (const char *)base + elems * esz(g);
}

/* A tile computed into tmp (nr wide), then its mm x nn corner stored into C (rows ldc apart): plus the
 * residual tile r (non-NULL), plus C (acc), or as it is. Vectorised row by row: at batch 1 (82 rows = 5 x 14
 * + 12) every sixth tile of a product comes through here. */
HRM_CLONES static void store_corner(const float *tmp, int nr, float *c, const float *r, long ldc, int mm, int nn,
                                    int acc) {
  for (int i = 0; i < mm; i++) {
    const float *t = tmp + i * nr;
    float *ci = c + (size_t)i * ldc;
    if (r) {
      const float *ri = r + (size_t)i * ldc;
      for (int j = 0; j < nn; j++) ci[j] = ri[j] + t[j];
    } else if (acc) {
      for (int j = 0; j < nn; j++) ci[j] += t[j];
    } else {
      for (int j = 0; j < nn; j++) ci[j] = t[j];
    }
  }
}

/* Lines of the next B panel (right behind this one, for a SwiGLU up panel too) that each tile of a
 * block prefetches, so that together they fetch all of it: 0 when the kernel has no fn_dp. The panels of a
 * prepacked weight come from DRAM, and each serves only 6 tiles at batch 1: prefetched, the batch-1 products
 * ran 3-6% faster (82x1536x512: 347 -> 366 GFLOP/s median at 2 threads); large products are unchanged.
 * Behind the last panel lies other memory or none: a prefetch never faults, so that is harmless. */
static int pf_lines(const gemm_job *g, int m, int kc) {
  if (!g->uk.fn_dp || !g->a_rmajor || m == 0) return 0;
  int lines = (int)((size_t)kc * g->uk.nr * esz(g) / 64), tiles = (m + g->uk.mr - 1) / g->uk.mr;
  return (lines + tiles - 1) / tiles;
}

/* One micro-tile of A rows ir.. (read in place below md, else from the packed panels at ap) times panel b;
 * with pf, the tile also prefetches its pf lines of the next panel. Packed row-major panels (rows KC apart)
 * go through the direct kernel for that: a bfloat16 A is always packed (rounded), and without the prefetch its
 * batch-1 products from prepacked weights ran 25-30% slower than float32's in the model. */
static void tile(const gemm_job *g, const float *ad, const void *ap, int ir, int md, const void *b, int kc,
                 float *dst, long ldd, const float *acc, int pf) {
  if (pf) { /* row-major A (pf_lines), read in place or from its packed rows, KC apart */
    int packed = ir >= md;
    const float *a = packed ? (const float *)ap + (size_t)(ir - md) * KC : ad + (size_t)ir * g->rsa;
    const char *next = (const char *)at(g, b, (size_t)kc * g->uk.nr) + (size_t)(ir / g->uk.mr) * pf * 64;
    g->uk.fn_dp(kc, a, packed ? KC : g->rsa, b, dst, ldd, acc, next, pf);
  } else if (ir >= md)
    g->ukr(kc, at(g, ap, (size_t)(ir - md) * KC), b, dst, ldd, acc);
  else if (g->a_rmajor)
    g->uk.fn_d(kc, ad + (size_t)ir * g->rsa, g->rsa, b, dst, ldd, acc);
  else /* transposed: floats, or bfloat16 pairs (4 bytes each too), with the stride csa = M either way */
    g->uk.fn_dk(kc, ad + ir, g->csa, b, dst, ldd, acc);
}

/* A tile of which only the first nn <= NR/2 columns are wanted, into dst (rows ldd apart): the half-width
 * kernel where the CPU's has one (a last panel of 1-16 columns then costs half a tile), else a whole tile. */
static void tile_part(const gemm_job *g, const float *ad, const void *ap, int ir, int md, const void *b, int kc,
                      float *dst, long ldd, int nn, int pf) {
  if (nn > g->uk.nr / 2 || !g->uk.half.fn_k)
    tile(g, ad, ap, ir, md, b, kc, dst, ldd, NULL, pf);
  else if (ir >= md) /* packed: k-major (A stored transposed) or r-major panels, as g->ukr */
    (g->a_rmajor ? g->uk.half.fn_r : g->uk.half.fn_k)(kc, at(g, ap, (size_t)(ir - md) * KC), b, dst, ldd, NULL);
  else if (g->a_rmajor)
    g->uk.half.fn_d(kc, ad + (size_t)ir * g->rsa, g->rsa, b, dst, ldd, NULL);
  else
    g->uk.half.fn_dk(kc, ad + ir, g->csa, b, dst, ldd, NULL);
}

/* One (mc x nc) block of C, depth p0.. of kc, from packed op(B) at bp and the A block: its first md rows read
 * in place (a_direct), the rest packed at ap. A fused SwiGLU block (all of K in this one block) takes gate
 * columns j0..; each gate panel's up panel lies N/2 packed columns on. */
static void macro_kernel(const gemm_job *g, const void *ap, const void *bp, int i0, int m, int j0, int n,
                         int p0, int jb, int kc, int acc) {
  int MR = g->uk.mr, NR = g->uk.nr, md = direct_rows(g, m);
  const float *ad = g->pairs ? (const float *)(g->pairs + (size_t)(p0 / 2) * g->M + i0)
                             : g->A + (size_t)i0 * g->rsa + (size_t)p0 * g->csa;
  float tmp[32 * 32], tup[32 * 32];
  kc = kpad(g, kc);
  int pf = pf_lines(g, m, kc);
  for (int jr = 0; jr < n; jr += NR) {
    int nn = n - jr < NR ? n - jr : NR;
    const void *b = at(g, bp, (size_t)(jb + jr) * kc);
    for (int ir = 0; ir < m; ir += MR) {
      int mm = m - ir < MR ? m - ir : MR, full = mm == MR && nn == NR;
      if (g->glu) {
        tile_part(g, ad, ap, ir, md, b, kc, tmp, NR, nn, pf);
        tile_part(g, ad, ap, ir, md, at(g, b, (size_t)(g->N / 2) * kc), kc, tup, NR, nn, pf);
        /* SwiGLU as the tiles leave the micro-kernel: the [M, 2F] gate_up product never goes to memory. At K = 128
         * (the small model) this epilogue was 13% of the tile pair on the compiler-vectorised loop. */
        hrm_swiglu_rows(g->glu + (size_t)(i0 + ir) * (g->N / 2) + j0 + jr, g->N / 2, tmp, NR, tup, NR, mm, nn);
        if (g->C) { /* the product too, for a backward: stored from the tiles still in L1 */
          float *c = g->C + (size_t)(i0 + ir) * g->N + j0 + jr;
          store_corner(tmp, NR, c, NULL, g->N, mm, nn, 0);
          store_corner(tup, NR, c + g->N / 2, NULL, g->N, mm, nn, 0);
        }
        continue;
      }
      size_t at_c = (size_t)(i0 + ir) * g->N + j0 + jr;
      float *c = g->C + at_c;
      const float *r = g->res && p0 == 0 ? g->res + at_c : NULL;
      if (r) /* fetched while the tile computes; the micro-kernel only prefetches its own C */
        for (int i = 0; i < mm; i++)
          for (int j = 0; j < nn + 16; j += 16) __builtin_prefetch(r + (size_t)i * g->N + (j < nn ? j : nn - 1));
      if (full) /* the residual (or C itself, accumulating) is added as the micro-kernel stores the tile */
        tile(g, ad, ap, ir, md, b, kc, c, g->N, r ? r : acc ? c : NULL, pf);
      else {
        tile_part(g, ad, ap, ir, md, b, kc, tmp, NR, nn, pf);
        store_corner(tmp, NR, c, r, g->N, mm, nn, acc);
      }
    }
  }
}

/* A fused norm (hrm_linear_residual with rstd): rows i0.. of C, complete (all columns, all of K) and still in
 * L2, normalised in place. Tasks that split the columns leave it to a pass after the product. */
static void norm_rows(const gemm_job *g, int i0, int m) {
  float *c = g->C + (size_t)i0 * g->N;
  hrm_rmsnorm_rows(c, g->rstd + i0, c, 0, m, g->N, g->eps);
  atomic_fetch_add_explicit(g->normed, m, memory_order_relaxed);
}

/* Rows [r0, r0+rows) x columns [j0, j0+n) of C over all of K, from op(B) already packed at bp (all depth
 * blocks, npad columns each; column j0 is packed column jb): one MC-row block at a time, so the C block stays
 * in L2 between depth steps instead of streaming through DRAM once per KC. */
static void compute_rows(const gemm_job *g, const void *bp, size_t npad, int r0, int rows, int j0, int n, int jb,
                         int thread) {
  int mcap = rows < MC_MAX ? (rows + g->uk.mr - 1) / g->uk.mr * g->uk.mr : MC_MAX;
  float *ap = thread_scratch(thread, (size_t)KC * mcap);
  for (int i0 = r0; i0 < r0 + rows; i0 += MC_MAX) {
    int m = r0 + rows - i0 < MC_MAX ? r0 + rows - i0 : MC_MAX;
    for (int p0 = 0; p0 < g->K; p0 += KC) {
      int kc = g->K - p0 < KC ? g->K - p0 : KC;
      pack_a(ap, g, i0, m, p0, kc);
      macro_kernel(g, ap, at(g, bp, (size_t)p0 * npad), i0, m, j0, n, p0, jb, kc, g->accumulate || p0 > 0);
    }
    if (g->rstd && j0 == 0 && n == g->N) norm_rows(g, i0, m);
  }
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }
/* Panels of op(B) one packing task handles: enough contiguous row length (4 x 32 floats) to stream. */
#define PACK_GROUP 4
static int min_int(int a, int b) { return a < b ? a : b; }
/* One task per thread; tiny problems one (a wake-up costs more than they do). */
static int task_count(int M, int N, int K) { return 2.0 * M * N * (double)K < 2e5 ? 1 : hrm_num_threads(); }

/* ---- all of op(B) packed at once (weight-sized): depth block by depth block, KC x npad each, the threads
 * taking groups of PACK_GROUP panels. The layout compute_rows reads, for the row split and hrm_pack_b. ---- */
typedef struct {
  const gemm_job *g;
  void *bp;
} pack_all;

static size_t padded_n(const gemm_job *g) { return (size_t)ceil_div(g->N, g->uk.nr) * g->uk.nr; }
/* Bytes of op(B) packed whole: KC-deep blocks, the last only as deep as what is left of K (even for bfloat16
 * pairs). Every block but the last is full, so block p0 starts at p0 x npad either way. */
static size_t packed_b_size(const gemm_job *g) {
  int last = g->K > 0 ? (g->K - 1) / KC * KC : 0;
  return padded_n(g) * ((size_t)last + (size_t)kpad(g, g->K - last)) * esz(g);
}

static void pack_b_range(void *ctx, long begin, long end, int thread) {
  const pack_all *s = ctx;
  (void)thread;
  int NR = s->g->uk.nr, groups = ceil_div(ceil_div(s->g->N, NR), PACK_GROUP);
  for (long t = begin; t < end; t++) { /* t = depth block * groups + group of PACK_GROUP panels */
    int p0 = (int)(t / groups) * KC, jr = (int)(t % groups) * PACK_GROUP * NR;
    int kc = min_int(s->g->K - p0, KC);
    void *dst = (char *)s->bp + ((size_t)p0 * padded_n(s->g) + (size_t)jr * kpad(s->g, kc)) * esz(s->g);
    pack_b(dst, s->g, jr, min_int(PACK_GROUP * NR, s->g->N - jr), p0, kc);
  }
}

static void pack_all_b(const gemm_job *g, void *bp) {
  pack_all s = {g, bp};
  hrm_parallel_range((long)ceil_div(g->K, KC) * ceil_div(ceil_div(g->N, g->uk.nr), PACK_GROUP), 1, pack_b_range,
                     &s);
}

#define MAX_ROW_TASKS 48
/* Products from all of op(B) packed at bp, in row tasks x cchunk-column blocks of C, one pool task each (ctasks
 * column blocks per row task). */
typedef struct {
  const gemm_job *g;
  const void *bp;
  int rtasks, cchunk, ctasks;
  int rb[MAX_ROW_TASKS + 1]; /* row task t: rows rb[t] .. rb[t+1] */
} packed_split;

static void packed_task(void *ctx, int task, int thread) {
  const packed_split *s = ctx;
  int rt = task / s->ctasks, r0 = s->rb[rt], c0 = (task % s->ctasks) * s->cchunk;
  int rows = s->rb[rt + 1] - r0, cols = min_int(out_cols(s->g) - c0, s->cchunk);
  if (rows > 0 && cols > 0) compute_rows(s->g, s->bp, padded_n(s->g), r0, rows, c0, cols, c0, thread);
}

static void run_packed(const packed_split *s) { hrm_parallel_for(s->rtasks * s->ctasks, packed_task, (void *)s); }

/* Rows split across `threads` in whole micro-panels, in tasks that shrink as the rows run out: each takes
 * half of what is left per thread, down to two micro-panels. On a shared host a core can lose the CPU for a
 * while mid-product; with one equal task per thread the other then idles at the end, with shrinking tasks it
 * takes over the remaining rows. Measured at 2 threads on the model's shapes with cold inputs: mean time
 * -10-20% on a loaded host, best time unchanged or better; a full training step -10% (median). */
static void split_rows(packed_split *s, int threads) {
  const gemm_job *g = s->g;
  int MR = g->uk.mr, r = 0, n = 0;
  s->rb[0] = 0;
  while (r < g->M) {
    int rem = g->M - r, c = ceil_div(ceil_div(rem, 2 * threads), MR) * MR;
    if (c < 2 * MR) c = 2 * MR;
    if (c > rem || n == MAX_ROW_TASKS - 1) c = rem;
    r += c;
    s->rb[++n] = r;
  }
  s->rtasks = n;
}

/* ---- row split: the threads pack all of op(B) together, then each computes its own rows, packing each A
 * block once for all columns (per 512-column block it was packed N / 512 times: ~5% of the time) ---- */
static void run_row_split(const gemm_job *g, const void *bp, int tasks) {
  packed_split s = {g, bp, 0, out_cols(g), 1, {0}};
  split_rows(&s, tasks);
  run_packed(&s);
}

static void gemm_row_split(const gemm_job *g, int tasks) {
  void *bp = hrm_thread_scratch(HRM_SCRATCH_GEMM_SHARED_B, 0, packed_b_size(g));
  pack_all_b(g, bp);
  run_row_split(g, bp, tasks);
}

/* ---- column split (short C) or a single task: each task packs its own op(B) columns ---- */
static void cols_task(void *ctx, int task, int thread) {
  const gemm_job *g = ctx;
  int c0 = task * g->nc, cols = min_int(g->N - c0, g->nc), NR = g->uk.nr, kblocks = ceil_div(g->K, KC);
  size_t ncap = (size_t)ceil_div(min_int(cols, NC_MAX), NR) * NR;
  float *bp = hrm_thread_scratch(HRM_SCRATCH_GEMM_B, thread, sizeof(float) * KC * ncap * kblocks);
  for (int j0 = c0; j0 < c0 + cols; j0 += NC_MAX) {
    int n = min_int(c0 + cols - j0, NC_MAX);
    size_t npad = (size_t)ceil_div(n, NR) * NR;
    for (int p0 = 0; p0 < g->K; p0 += KC)
      pack_b((char *)bp + (size_t)p0 * npad * esz(g), g, j0, n, p0, min_int(g->K - p0, KC));
    compute_rows(g, bp, npad, 0, g->M, j0, n, 0, thread);
  }
}

/* ---- depth split (a weight gradient: C small, K = tokens long): the threads take K ranges ----
 * Splitting rows would give each thread few rows to reuse the shared packed op(B) over, and packing all of
 * op(B)'s depth at once sends it through DRAM. Instead each K range runs the plain BLIS loop order (per KC
 * block: pack op(B) once, L2-sized, then every row block against it), range 0 into C, each other range into
 * a partial sum of its own; the partials are added into C at the end in range order. Which thread takes
 * which range varies from run to run, the sums do not: the result is the same bits every time (with a
 * partial per thread instead, the grouping of ranges followed the scheduling, and so did the rounding). */
typedef struct {
  const gemm_job *g;
  float *partial; /* (tasks - 1) x M x N: range t > 0 sums into partial[t - 1], range 0 into C */
  int kchunk, tasks;
} k_split;

static void k_range_task(void *ctx, int task, int thread) {
  const k_split *s = ctx;
  gemm_job sub = *s->g;
  int k0 = task * s->kchunk, NR = sub.uk.nr; /* k0 < K: tasks = ceil(K / kchunk) */
  sub.K = min_int(s->kchunk, sub.K - k0);
  sub.A += (size_t)k0 * sub.csa;
  if (sub.pairs) sub.pairs += (size_t)(k0 / 2) * sub.M; /* k0 even */
  sub.B += (size_t)k0 * sub.rsb;
  if (task > 0) {
    sub.C = s->partial + (size_t)(task - 1) * sub.M * sub.N;
    sub.accumulate = 0;
  }
  int mcap = min_int(ceil_div(sub.M, sub.uk.mr) * sub.uk.mr, MC_MAX);
  size_t ncap = (size_t)ceil_div(min_int(sub.N, NC_MAX), NR) * NR;
  float *bp = hrm_thread_scratch(HRM_SCRATCH_GEMM_B, thread, sizeof(float) * KC * ncap);
  float *ap = thread_scratch(thread, (size_t)KC * mcap);
  for (int j0 = 0; j0 < sub.N; j0 += NC_MAX) {
    int n = min_int(sub.N - j0, NC_MAX);
    for (int p0 = 0; p0 < sub.K; p0 += KC) {
      int kc = min_int(sub.K - p0, KC);
      pack_b(bp, &sub, j0, n, p0, kc);
      for (int i0 = 0; i0 < sub.M; i0 += MC_MAX) {
        int m = min_int(sub.M - i0, MC_MAX);
        pack_a(ap, &sub, i0, m, p0, kc);
        macro_kernel(&sub, ap, bp, i0, m, j0, n, p0, 0, kc, sub.accumulate || p0 > 0);
      }
    }
  }
}

/* C[i] += partial 0 + partial 1 + ..., in that order, over elements [begin, end). */
static void add_partials(void *ctx, long begin, long end, int thread) {
  const k_split *s = ctx;
  size_t mn = (size_t)s->g->M * s->g->N;
  (void)thread;
  for (int t = 1; t < s->tasks; t++) {
    const float *src = s->partial + (t - 1) * mn;
    for (long i = begin; i < end; i++) s->g->C[i] += src[i];
  }
}

static void gemm_k_split(const gemm_job *g, int threads) {
  /* Two K ranges per thread, handed out as threads come free (see split_rows for why): one more pass over an
   * M x N partial each, but mean time -10-15% at 2 threads on the model's weight gradients (loaded host),
   * best time +5-10%. Ranges are multiples of 16 (even: bfloat16 pairs). */
  k_split s = {g, NULL, ceil_div(ceil_div(g->K, 2 * threads), 16) * 16, 0};
  s.tasks = ceil_div(g->K, s.kchunk);
  s.partial = hrm_thread_scratch(HRM_SCRATCH_GEMM_SHARED_B, 0, sizeof(float) * (s.tasks - 1) * g->M * g->N);
  hrm_parallel_for(s.tasks, k_range_task, &s);
  hrm_parallel_range((long)g->M * g->N, 4096, add_partials, &s);
}

/* Whether whole micro-panels of A can be read in place: a kernel for it, and A's values as the product takes
 * them (not to be rounded to bfloat16; bfloat16 pairs of a transposed A are made in run_job). */
static int a_in_place(const gemm_job *g) {
  if ((g->a_rmajor ? g->uk.fn_d : g->uk.fn_dk) == NULL || g->round_bf16) return 0;
  /* A float32 A stored transposed with its rows 2 KB or more apart (M >= 512) is packed too: read in place, each
   * k step of a tile takes MR values from the next stored row, further on than the prefetchers follow. Only
   * with K below K_SPLIT_MIN, where it was measured (longer products transpose first, or on many threads split
   * K with A in place, as before): 2 threads, in-process switch, median GFLOP/s
   * 3072x512x512 139 -> 260, 1024x512x512 130 -> 242, 2624x1536x512 229 -> 271-278, 768x512x512 188 -> 216,
   * 512x512x512 183 -> 202 (13-16 of 16 each; AVX2 10 of 10); at M = 128 packing lost (4 of 16). bfloat16
   * pairs (the dot product) keep their pass of their own (to_bf16_pairs). */
  if (!g->a_rmajor && !g->uk.bf16 && g->K < K_SPLIT_MIN && (size_t)g->M * sizeof(float) >= 2048) return 0;
  /* A row-major A whose rows lie a multiple of 4 KB apart is packed (rows KC apart) instead: read in place,
   * the 14 rows of a micro-panel share one L1 set and evict each other. Gate_up's dX (K = 3072) ran at 60% of
   * the rate of its K = 1536 neighbours, 2624x512x1024 likewise; packed, 196 -> 320 GFLOP/s median at 2
   * threads. */
  return !(g->a_rmajor && g->K * sizeof(float) % 4096 == 0);
}

/* A product's job: strides of op(A), op(B), and the micro-kernel for this CPU and precision (the bfloat16 dot
 * product when there is one; otherwise float32 kernels on rounded panels). */
static gemm_job make_job(int transA, int transB, int M, int N, int K, const float *A, const float *B, float *C,
                         int accumulate, int bf16) {
  int dot = bf16 && hrm_cpu_bf16_dot();
#if defined(__x86_64__)
  hrm_ukr uk = dot ? hrm_ukr_avx512_bf16() : hrm_ukr_selected();
#else
  hrm_ukr uk = hrm_ukr_selected();
#endif
  gemm_job g = {A, B, C, M, N, K, accumulate, transA ? 1 : K, transA ? M : 1, transB ? 1 : N, transB ? K : 1, 0,
                uk, transA ? uk.fn_k : uk.fn_r, !transA, 0, NULL, bf16 && !dot, NULL, NULL, NULL, 0, NULL};
  g.a_direct = a_in_place(&g);
  return g;
}

/* A transposed A (stored [K, M]) as bfloat16 pairs along k: pairs[q*M + i] holds A(i, 2q) in its low half
 * and A(i, 2q+1) (zero past K) in its high half: the k-major pair panel layout with the stride M instead of MR,
 * which the micro-kernel reads in place. Packing that layout per block read each stored row (10 KB apart at
 * T = 2624) once per 84 values, a DRAM stall each: Aᵀ·B ran at ~2/3 of the rate of A·B in bfloat16. This pass
 * streams. */
typedef struct {
  const gemm_job *g;
  uint32_t *pairs;
} to_pairs;

static void pairs_range(void *ctx, long begin, long end, int thread) {
  const to_pairs *s = ctx;
  const gemm_job *g = s->g;
  (void)thread;
  for (long q = begin; q < end; q++) {
    const float *row = g->A + (size_t)(2 * q) * g->csa;
    bf16_pairs(s->pairs + (size_t)q * g->M, row, 2 * q + 1 < g->K ? row + g->csa : NULL, g->M);
  }
}

static const uint32_t *to_bf16_pairs(const gemm_job *g) {
  long q = (g->K + 1) / 2;
  to_pairs s = {g, hrm_thread_scratch(HRM_SCRATCH_GEMM_PAIRS, 0, sizeof(uint32_t) * (size_t)q * g->M)};
  hrm_parallel_range(q, 8, pairs_range, &s);
  return s.pairs;
}

/* A product with K > 0, split across the threads by its shape. */
static void run_job(gemm_job *g) {
  if (g->a_direct && !g->a_rmajor && g->uk.bf16) g->pairs = to_bf16_pairs(g);
  /* Weight gradients split K (up to M = 2K: gate_up's, 3072x512x2624, ran 15% faster than with rows split);
   * otherwise rows are split when every thread gets at least two micro-panels of them (op(B) then is packed
   * once, together); short C splits its columns instead. */
  int M = g->M, N = g->N, K = g->K, tasks = task_count(M, N, K);
  if (tasks > 1 && tasks <= K_SPLIT_MAX_THREADS && !g->a_rmajor && K >= K_SPLIT_MIN && 2L * K >= M && K >= N) {
    gemm_k_split(g, tasks);
    return;
  }
  if (tasks > 1 && M >= 2 * tasks * g->uk.mr) {
    gemm_row_split(g, tasks);
    return;
  }
  g->nc = ceil_div(ceil_div(N, tasks), g->uk.nr) * g->uk.nr;
  hrm_parallel_for(ceil_div(N, g->nc), cols_task, g);
}

/* ---- a transposed A with a long K (a weight gradient, dYᵀ·X: A stored [K = tokens, M]), transposed first ----
 * Read in place, each k step of a tile reads MR values from a stored row M floats (6-12 KB) from the last,
 * beyond what the hardware prefetchers follow; the k-split product ran at 40-60% of the rate of the same
 * product from a row-major A (3072x512x2624: 95 vs 223 GFLOP/s median at 2 threads, 1536x512x2624: 115 vs 221).
 * Instead, op(B) is packed once, then each task takes a strip of MC_MAX rows of C, transposes those rows of
 * op(A) into a row-major block of its own thread (stored rows read as 336-byte runs, 16 x 16 register
 * transposes) and computes the strip from it while the block is still in its L2 (84 x 2624 floats: 880 KB).
 * Transposing 256-row chunks in a pass of their own and then splitting their rows ran 15% slower than the same
 * product from a row-major A: the chunk (2.7 MB) spilled out of L2, and half of each thread's rows had been
 * transposed by the other thread. */

/* At[c*K + r] = A[r*ld + c] for r < K, c < C: columns [0, C) of A (stored [K, ld]) as a row-major [C, K],
 * rounded to bfloat16 with `round`. */
static void transpose_block(float *At, const float *A, long ld, int K, int C, int round) {
#if defined(__x86_64__)
  if (hrm_cpu_isa() == HRM_ISA_AVX512) {
    hrm_transpose_avx512(At, K, A, ld, K, K, C, round);
    return;
  }
#endif
  for (long r0 = 0; r0 < K; r0 += 16) /* 16 x 16 blocks: both sides touch whole lines */
    for (long c0 = 0; c0 < C; c0 += 16)
      for (long r = r0; r < r0 + 16 && r < K; r++)
        for (long c = c0; c < c0 + 16 && c < C; c++) At[c * K + r] = A[r * ld + c];
  if (round) round_block(At, (size_t)C * K);
}

/* Depth up to which a strip (MC_MAX x K floats: 1.4 MB at 4096) stays in L2 well enough to pay; longer ones
 * (mlp_t's weight gradients, K = batch x hidden = 16384) spilled and ran at 60-70% of the k split's rate:
 * 1024x96x16384 18-20 -> 12.8 ms, 1024x512x16384 61 -> 56-57 ms at 2 threads (Zen 5). */
#define TRANSPOSE_FIRST_MAX_K 4096

/* Where the k split would run (see run_job) but C has rows enough for every thread to take several strips
 * (with 64 rows at 2 threads the k split was as fast), and K is at most TRANSPOSE_FIRST_MAX_K. Not for bfloat16 panels: those read a transposed A as
 * pairs, converted in a streaming pass of their own. */
static int transpose_a_first(const gemm_job *g) {
  return !g->a_rmajor && !g->uk.bf16 && g->K >= K_SPLIT_MIN && g->K <= TRANSPOSE_FIRST_MAX_K && g->M >= 4 * hrm_num_threads() * g->uk.mr;
}

typedef struct {
  const gemm_job *g; /* the product from a row-major op(A) (A unset): each strip's job but for A, M and C */
  const float *A;    /* op(A) stored transposed, [K, M] */
  const void *bp;    /* op(B), packed whole */
  int n;             /* strips */
} strips;

/* Rows of strip t: MC_MAX each (the last what is left), or with as few strips as threads, an equal share of the
 * micro-panels each, so that no thread waits on one of 84 rows while the other computes 44 (M = 128 at 2
 * threads: 159-163 -> 167-170 GFLOP/s median). More strips keep 84 rows: 7 strips of 70-84 rows for M = 512
 * streamed op(B) once more and ran 10% slower than 6 of 84 and one of 8. */
static int strip_start(const strips *s, int t) {
  int M = s->g->M, mr = s->g->uk.mr;
  if (s->n > hrm_num_threads()) return min_int(M, t * MC_MAX);
  return min_int(M, t * ceil_div(M, mr) / s->n * mr);
}

static void strip_task(void *ctx, int task, int thread) {
  const strips *s = ctx;
  int m0 = strip_start(s, task), mc = strip_start(s, task + 1) - m0;
  gemm_job sub = *s->g;
  float *at = hrm_thread_scratch(HRM_SCRATCH_GEMM_PAIRS, thread, sizeof(float) * (size_t)MC_MAX * sub.K);
  transpose_block(at, s->A + m0, sub.M, sub.K, mc, sub.round_bf16);
  sub.A = at, sub.M = mc, sub.C += (size_t)m0 * sub.N;
  sub.round_bf16 = 0; /* op(B) is packed, and the strip was rounded as it was transposed: read it in place */
  sub.a_direct = a_in_place(&sub);
  compute_rows(&sub, s->bp, padded_n(&sub), 0, mc, 0, sub.N, 0, thread);
}

static void gemm_transpose_first(int transB, int M, int N, int K, const float *A, const float *B, float *C,
                                 int accumulate, int bf16) {
  gemm_job g = make_job(0, transB, M, N, K, NULL, B, C, accumulate, bf16); /* op(A) row-major, as in a strip */
  void *bp = hrm_thread_scratch(HRM_SCRATCH_GEMM_SHARED_B, 0, packed_b_size(&g));
  pack_all_b(&g, bp);
  strips s = {&g, A, bp, ceil_div(M, MC_MAX)};
  hrm_parallel_for(s.n, strip_task, &s);
}

/* ---- a weight gradient the other way round: Cᵀ = op(B)ᵀ·op(A)ᵀ, then transposed into C ----
 * Tiles cover C in MR x NR pieces, so a C with N just past a multiple of NR computes a whole panel for a few
 * columns: mlp_t's gate_up gradient (1024 x 97, K = 16384 at batch 32) paid for 1036 x 128. Its transpose
 * pays for 98 x 1024, and its op(A)ᵀ (tokens x 97, rows 388 bytes apart) streams where the strips of the
 * transpose-first path (84 x 16384: 5.5 MB) outgrew L2: 20.2 -> 12.7 ms at 2 threads (Zen 5, AVX-512).
 * Only for long K, where both operands stream anyway and the extra pass over C (weight-sized) is small. */
static size_t padded_area(int M, int N, const hrm_ukr *uk) {
  return (size_t)ceil_div(M, uk->mr) * uk->mr * ((size_t)ceil_div(N, uk->nr) * uk->nr);
}

static int swap_pays(int transA, int M, int N, int K, const hrm_ukr *uk) {
  return transA && K >= K_SPLIT_MIN && 20 * padded_area(N, M, uk) < 17 * padded_area(M, N, uk);
}

/* C[M,N] (+)= T[N,M]ᵀ, in 16 x 16 blocks so both sides touch whole lines. */
static void add_transposed(float *C, const float *T, int M, int N, int accumulate) {
  for (int i0 = 0; i0 < M; i0 += 16)
    for (int j0 = 0; j0 < N; j0 += 16)
      for (int i = i0; i < i0 + 16 && i < M; i++)
        for (int j = j0; j < j0 + 16 && j < N; j++) {
          float t = T[(size_t)j * M + i];
          C[(size_t)i * N + j] = accumulate ? C[(size_t)i * N + j] + t : t;
        }
}

void hrm_gemm(int transA, int transB, int M, int N, int K, const float *A, const float *B, float *C,
              int accumulate, int bf16) {
  if (M <= 0 || N <= 0) return;
  gemm_job g = make_job(transA, transB, M, N, K, A, B, C, accumulate, bf16);
  if (swap_pays(transA, M, N, K, &g.uk)) {
    float *T = hrm_thread_scratch(HRM_SCRATCH_GEMM_SWAP, 0, sizeof(float) * (size_t)M * N);
    hrm_gemm(!transB, 0, N, M, K, B, A, T, 0, bf16); /* op(B)ᵀ·op(A)ᵀ, with transA set: A stored [K, M] */
    add_transposed(C, T, M, N, accumulate);
    return;
  }
  if (transA && K > 0 && transpose_a_first(&g)) {
    gemm_transpose_first(transB, M, N, K, A, B, C, accumulate, bf16);
    return;
  }
  if (K == 0) { /* C = 0 (or unchanged when accumulating) */
    if (!accumulate) memset(C, 0, sizeof(float) * M * N);
    return;
  }
  run_job(&g);
}

/* ---- op(B) packed once, used by many products (a linear layer's weight across a forward pass) ---- */
size_t hrm_packed_b_bytes(int K, int N, int bf16) {
  gemm_job g = make_job(0, 0, 0, N, K, NULL, NULL, NULL, 0, bf16);
  return packed_b_size(&g);
}

void hrm_pack_b(void *dst, int transB, int K, int N, const float *B, int bf16) {
  gemm_job g = make_job(0, transB, 0, N, K, NULL, B, NULL, 0, bf16);
  pack_all_b(&g, dst);
}

#define PREPACKED_ROW_SPLIT 512

/* The split of a product from all of op(B) packed: few rows (one puzzle: 82) split the columns, so each packed
 * panel is read from memory by one thread only; many rows split the rows. */
static packed_split split_packed(const gemm_job *g, const void *bp) {
  int tasks = task_count(g->M, g->N, g->K), MR = g->uk.mr, NR = g->uk.nr, n = out_cols(g);
  packed_split s = {g, bp, 1, n, 1, {0, g->M}}; /* one row task: all rows */
  if (tasks > 1 && g->M >= 2 * tasks * MR && (g->M >= PREPACKED_ROW_SPLIT || n < 2 * tasks * NR))
    split_rows(&s, tasks);
  else if (tasks > 1) {
    s.cchunk = ceil_div(ceil_div(n, tasks), NR) * NR;
    s.ctasks = ceil_div(n, s.cchunk);
  }
  return s;
}

/* C[M,N] = A[M,K]·op(B) from op(B) packed by hrm_pack_b with the same K, N, bf16. */
void hrm_gemm_prepacked(int M, int N, int K, const float *A, const void *packed, float *C, int bf16) {
  if (M <= 0 || N <= 0) return;
  gemm_job g = make_job(0, 0, M, N, K, A, NULL, C, 0, bf16);
  if (K == 0) {
    memset(C, 0, sizeof(float) * M * N);
    return;
  }
  packed_split s = split_packed(&g, packed);
  run_packed(&s);
}

/* ---- a linear layer and the residual add after it, fused: out = res + A·Wᵀ ---- */
void hrm_linear_residual(int M, int N, int K, const float *A, const float *W, const void *packed,
                         const float *res, float *out, int bf16, float *rstd, float eps) {
  if (M <= 0 || N <= 0) return;
  /* out == res is a plain accumulating product; otherwise the first depth block adds res as it stores C, so
   * the product is not written and read back by a separate add. */
  gemm_job g = make_job(0, 1, M, N, K, A, W, out, res == out, bf16);
  _Atomic long normed = 0;
  if (res != out) g.res = res;
  g.rstd = rstd, g.eps = eps, g.normed = &normed;
  if (K == 0) {
    if (res != out) memcpy(out, res, sizeof(float) * M * N);
  } else if (!packed) {
    run_job(&g);
  } else {
    packed_split s = split_packed(&g, packed);
    run_packed(&s);
  }
  /* Either every task computed whole rows (all normalised) or none did (a column split, or K == 0). */
  if (rstd && atomic_load(&normed) < M) hrm_rmsnorm_fwd(out, rstd, out, M, N, eps);
}

/* ---- gate_up projection and SwiGLU fused (see macro_kernel) ---- */
void hrm_linear_swiglu(int M, int F, int K, const float *A, const float *W, const void *packed, float *out,
                       float *gate_up, int bf16) {
  if (M <= 0 || F <= 0) return;
  gemm_job g = make_job(0, 1, M, 2 * F, K, A, W, gate_up, 0, bf16);
  /* Fused when all of K is one depth block (no partial sums to carry between blocks) and the up half starts
   * on a panel boundary; otherwise the product goes through memory. */
  if (K == 0 || K > KC || F % g.uk.nr != 0) {
    float *gu = gate_up ? gate_up : hrm_thread_scratch(HRM_SCRATCH_GLU, 0, sizeof(float) * 2 * (size_t)M * F);
    if (packed)
      hrm_gemm_prepacked(M, 2 * F, K, A, packed, gu, bf16);
    else
      hrm_gemm(0, 1, M, 2 * F, K, A, W, gu, 0, bf16);
    hrm_swiglu_fwd(out, gu, M, F);
    return;
  }
  g.glu = out;
  if (!packed) {
    void *bp = hrm_thread_scratch(HRM_SCRATCH_GEMM_SHARED_B, 0, packed_b_size(&g));
    pack_all_b(&g, bp);
    packed = bp;
  }
  packed_split s = split_packed(&g, packed);
  run_packed(&s);
}
