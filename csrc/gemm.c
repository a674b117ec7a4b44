/*
 * GEMM driver: blocking, packing and threading around the micro-kernels of gemm_ukr.c.
 * C is cut into (mc x nc) tiles, one pool task each. A task walks K in kc chunks: it packs its op(B) block
 * (kc x nc, NR-column micro-panels: the one in use stays in L1) and its op(A) block (mc x kc, MR-row
 * micro-panels: the block stays in L2), then runs the micro-kernel over the tile. Partial edge tiles go
 * through a small buffer so the micro-kernels only ever see full tiles.
 */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "threadpool.h"

#define KC HRM_GEMM_KC /* packed A/B depth: a 32-wide B micro-panel (32 KB) stays in L1 */
#ifndef MC_MAX
#define MC_MAX 336 /* rows of packed A (multiple of every MR: 14, 6, 4); ~340 KB in L2 */
#endif
#ifndef NC_MAX
#define NC_MAX 512
#endif

typedef struct {
  const float *A, *B;
  float *C;
  int M, N, K, accumulate;
  long rsa, csa, rsb, csb; /* op(A)(i,p) = A[i*rsa + p*csa]; op(B)(p,j) = B[p*rsb + j*csb] */
  int mchunk, nc, nchunks;    /* task = rows [mchunk*ti, ..) x cols [nc*tj, ..) */
  hrm_ukr uk;
  hrm_ukr_fn ukr; /* uk.fn_k when A is stored transposed, uk.fn_r when row-major (see pack_a) */
  int a_rmajor;   /* !transA: the packed A layout; not derivable from the strides, which tie when M or K is 1 */
} gemm_job;

/* Per-thread packing buffers come from the pool's scratch (slot 0): grown on demand, then reused. */
static float *thread_scratch(int thread, size_t floats) {
  return hrm_thread_scratch(0, thread, floats * sizeof(float));
}

hrm_ukr hrm_ukr_selected(void) {
#if defined(__x86_64__)
  switch (hrm_cpu_isa()) {
    case HRM_ISA_AVX512: return hrm_ukr_avx512();
    case HRM_ISA_AVX2: return hrm_ukr_avx2();
    default: break;
  }
#endif
  return hrm_ukr_generic();
}

/* Rows i0.. of op(A) into MR-row panels of MR*KC floats, zero-padded past the block, laid out so that
 * packing is a copy: row-major A keeps its rows (r-major, row stride KC); transposed A, whose MR values per
 * k are contiguous, is copied k by k (k-major). */
static void pack_a(float *dst, const gemm_job *g, int i0, int m, int p0, int kc) {
  int MR = g->uk.mr;
  for (int ir = 0; ir < m; ir += MR) {
    float *d = dst + (size_t)ir * KC;
    int mm = m - ir < MR ? m - ir : MR;
    const float *s = g->A + (size_t)(i0 + ir) * g->rsa + (size_t)p0 * g->csa;
    if (g->a_rmajor) { /* row-major A: r-major panel */
      for (int r = 0; r < mm; r++) memcpy(d + (size_t)r * KC, s + (size_t)r * g->rsa, kc * sizeof(float));
      for (int r = mm; r < MR; r++) memset(d + (size_t)r * KC, 0, kc * sizeof(float));
    } else { /* transposed A (rsa == 1): k-major panel */
      for (int p = 0; p < kc; p++, d += MR, s += g->csa) {
        int r = 0;
        for (; r < mm; r++) d[r] = s[r];
        for (; r < MR; r++) d[r] = 0;
      }
    }
  }
}

/* dst[panel][p][j]: columns j0.. of op(B) in NR-column panels, zero-padded past N. */
static void pack_b(float *dst, const gemm_job *g, int j0, int n, int p0, int kc) {
  int NR = g->uk.nr;
  for (int jr = 0; jr < n; jr += NR) {
    float *d = dst + (size_t)jr * kc;
    int nn = n - jr < NR ? n - jr : NR;
    for (int p = 0; p < kc; p++) {
      const float *s = g->B + (size_t)(p0 + p) * g->rsb + (size_t)(j0 + jr) * g->csb;
      float *dp = d + p * NR;
      if (g->csb == 1) {
        for (int j = 0; j < nn; j++) dp[j] = s[j]; /* inline copy: a memcpy call costs more than 128 bytes */
      } else {
        for (int j = 0; j < nn; j++) dp[j] = s[(size_t)j * g->csb];
      }
      for (int j = nn; j < NR; j++) dp[j] = 0;
    }
  }
}

static void edge_tile(const gemm_job *g, int kc, const float *ap, const float *bp, float *c, int mm, int nn,
                      int acc) {
  float tmp[32 * 32];
  g->ukr(kc, ap, bp, tmp, g->uk.nr, 0);
  for (int r = 0; r < mm; r++)
    for (int j = 0; j < nn; j++) {
      float v = tmp[r * g->uk.nr + j];
      c[(size_t)r * g->N + j] = acc ? c[(size_t)r * g->N + j] + v : v;
    }
}

/* The source lines of the next A block, fetched into L2 a few at a time while the current block computes,
 * so that packing it reads from cache instead of waiting on DRAM. */
typedef struct {
  const char *base;
  size_t stride; /* bytes between source rows */
  int rows, lines, next;
} prefetch_plan;

static void plan_next_a(prefetch_plan *pf, const gemm_job *g, int i0, int m, int p0, int kc) {
  *pf = (prefetch_plan){NULL, 0, 0, 0, 0};
  if (m <= 0 || kc <= 0) return;
  if (g->a_rmajor) { /* row-major A: m rows of kc floats */
    pf->base = (const char *)(g->A + (size_t)i0 * g->rsa + p0);
    pf->stride = (size_t)g->rsa * sizeof(float);
    pf->rows = m;
    pf->lines = (kc * (int)sizeof(float) + 63) / 64;
  } else { /* transposed A: kc rows of m floats */
    pf->base = (const char *)(g->A + (size_t)p0 * g->csa + i0);
    pf->stride = (size_t)g->csa * sizeof(float);
    pf->rows = kc;
    pf->lines = (m * (int)sizeof(float) + 63) / 64 + 1;
  }
}

static inline void prefetch_some(prefetch_plan *pf, int count) {
  for (; count > 0 && pf->next < pf->rows * pf->lines; count--, pf->next++)
    __builtin_prefetch(pf->base + (size_t)(pf->next / pf->lines) * pf->stride + (size_t)(pf->next % pf->lines) * 64, 0, 2);
}

/* One (mc x nc) block of C from packed blocks, K range of kc. */
static void macro_kernel(const gemm_job *g, const float *ap, const float *bp, int i0, int m, int j0, int n,
                         int kc, int acc, prefetch_plan *pf) {
  int MR = g->uk.mr, NR = g->uk.nr;
  int calls = ((m + MR - 1) / MR) * ((n + NR - 1) / NR);
  int per_call = (pf->rows * pf->lines + calls - 1) / calls;
  for (int jr = 0; jr < n; jr += NR) {
    int nn = n - jr < NR ? n - jr : NR;
    for (int ir = 0; ir < m; ir += MR) {
      int mm = m - ir < MR ? m - ir : MR;
      float *c = g->C + (size_t)(i0 + ir) * g->N + j0 + jr;
      const float *a = ap + (size_t)ir * KC, *b = bp + (size_t)jr * kc;
      prefetch_some(pf, per_call);
      if (mm == MR && nn == NR)
        g->ukr(kc, a, b, c, g->N, acc);
      else
        edge_tile(g, kc, a, b, c, mm, nn, acc);
    }
  }
}

/* A task owns a row range x column range of C. Per column block (at most NC_MAX wide) it packs that block
 * of op(B) for all of K once (read from L3 by the micro-kernels), then finishes one MC-row block of C at a
 * time over all of K, so the C block stays in L2 between depth steps instead of streaming through DRAM. */
static void gemm_task(void *ctx, int task, int thread) {
  const gemm_job *g = ctx;
  int MR = g->uk.mr, NR = g->uk.nr;
  int r0 = (task / g->nchunks) * g->mchunk, c0 = (task % g->nchunks) * g->nc;
  int rows = g->M - r0 < g->mchunk ? g->M - r0 : g->mchunk;
  int cols = g->N - c0 < g->nc ? g->N - c0 : g->nc;
  if (rows <= 0 || cols <= 0) return;
  if (g->K == 0) {
    if (!g->accumulate)
      for (int r = 0; r < rows; r++) memset(g->C + (size_t)(r0 + r) * g->N + c0, 0, cols * sizeof(float));
    return;
  }
  int mcap = rows < MC_MAX ? (rows + MR - 1) / MR * MR : MC_MAX;
  int kblocks = (g->K + KC - 1) / KC;
  size_t ncap = (size_t)((cols < NC_MAX ? cols : NC_MAX) + NR - 1) / NR * NR;
  float *bp = thread_scratch(thread, (size_t)KC * (mcap + ncap * kblocks));
  float *ap = bp + (size_t)KC * ncap * kblocks;
  for (int j0 = c0; j0 < c0 + cols; j0 += NC_MAX) {
    int n = c0 + cols - j0 < NC_MAX ? c0 + cols - j0 : NC_MAX;
    size_t npad = (size_t)(n + NR - 1) / NR * NR;
    for (int p0 = 0; p0 < g->K; p0 += KC)
      pack_b(bp + (size_t)p0 * npad, g, j0, n, p0, g->K - p0 < KC ? g->K - p0 : KC);
    for (int i0 = r0; i0 < r0 + rows; i0 += MC_MAX) {
      int m = r0 + rows - i0 < MC_MAX ? r0 + rows - i0 : MC_MAX;
      for (int p0 = 0; p0 < g->K; p0 += KC) {
        int kc = g->K - p0 < KC ? g->K - p0 : KC;
        pack_a(ap, g, i0, m, p0, kc);
        /* next A block: this row block one depth step on, else the next row block from depth 0 */
        int ni = i0, np = p0 + KC;
        if (np >= g->K) ni = i0 + MC_MAX, np = 0;
        int nm = r0 + rows - ni < MC_MAX ? r0 + rows - ni : MC_MAX;
        prefetch_plan pf;
        plan_next_a(&pf, g, ni, nm, np, g->K - np < KC ? g->K - np : KC);
        macro_kernel(g, ap, bp + (size_t)p0 * npad, i0, m, j0, n, kc, g->accumulate || p0 > 0, &pf);
      }
    }
  }
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

void hrm_sgemm(int transA, int transB, int M, int N, int K, const float *A, const float *B, float *C,
               int accumulate) {
  if (M <= 0 || N <= 0) return;
  gemm_job g = {A, B, C, M, N, K, accumulate, 0, 0, 0, 0, 0, 0, 0, hrm_ukr_selected(), NULL, !transA};
  g.ukr = transA ? g.uk.fn_k : g.uk.fn_r;
  g.rsa = transA ? 1 : K;
  g.csa = transA ? M : 1;
  g.rsb = transB ? 1 : N;
  g.csb = transB ? K : 1;
  /* One task per thread (tiny problems: one task). Split rows or columns, whichever packs less in total:
   * every row split re-packs op(B) (K*N), every column block re-packs op(A) (M*K). */
  int nth = hrm_num_threads();
  int tasks = 2.0 * M * N * (double)K < 2e5 ? 1 : nth;
  int MR = g.uk.mr, NR = g.uk.nr;
  double best = -1;
  for (int tm = 1; tm <= tasks; tm++) {
    if (tasks % tm) continue;
    int tn = tasks / tm;
    int mchunk = ceil_div(ceil_div(M, tm), MR) * MR, nc = ceil_div(ceil_div(N, tn), NR) * NR;
    if (ceil_div(M, mchunk) * ceil_div(N, nc) < tasks && tasks > 1 && best >= 0) continue; /* idle threads */
    double cost = (double)ceil_div(M, mchunk) * N + (double)M * ceil_div(N, nc) * ceil_div(nc, NC_MAX);
    if (best < 0 || cost < best) best = cost, g.mchunk = mchunk, g.nc = nc;
  }
  g.nchunks = ceil_div(N, g.nc);
  int mchunks = ceil_div(M, g.mchunk);
  hrm_parallel_for(mchunks * g.nchunks, gemm_task, &g);
}
