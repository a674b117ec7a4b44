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

#ifndef KC
#define KC 256 /* packed A/B depth; B micro-panel 32 KB stays in L1 */
#endif
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

/* dst[panel][p][r]: rows i0.. of op(A) in MR-row panels, zero-padded past the block.
 * k-outer so each panel is written sequentially (transposed A then reads MR contiguous values per k). */
static void pack_a(float *dst, const gemm_job *g, int i0, int m, int p0, int kc) {
  int MR = g->uk.mr;
  for (int ir = 0; ir < m; ir += MR) {
    float *d = dst + (size_t)ir * kc;
    int mm = m - ir < MR ? m - ir : MR;
    const float *s = g->A + (size_t)(i0 + ir) * g->rsa + (size_t)p0 * g->csa;
    for (int p = 0; p < kc; p++, d += MR, s += g->csa) {
      int r = 0;
      for (; r < mm; r++) d[r] = s[(size_t)r * g->rsa];
      for (; r < MR; r++) d[r] = 0;
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
        memcpy(dp, s, nn * sizeof(float));
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
  g->uk.fn(kc, ap, bp, tmp, g->uk.nr, 0);
  for (int r = 0; r < mm; r++)
    for (int j = 0; j < nn; j++) {
      float v = tmp[r * g->uk.nr + j];
      c[(size_t)r * g->N + j] = acc ? c[(size_t)r * g->N + j] + v : v;
    }
}

/* One (mc x nc) block of C from packed blocks, K range of kc. */
static void macro_kernel(const gemm_job *g, const float *ap, const float *bp, int i0, int m, int j0, int n,
                         int kc, int acc) {
  int MR = g->uk.mr, NR = g->uk.nr;
  for (int jr = 0; jr < n; jr += NR) {
    int nn = n - jr < NR ? n - jr : NR;
    for (int ir = 0; ir < m; ir += MR) {
      int mm = m - ir < MR ? m - ir : MR;
      float *c = g->C + (size_t)(i0 + ir) * g->N + j0 + jr;
      const float *a = ap + (size_t)ir * kc, *b = bp + (size_t)jr * kc;
      if (mm == MR && nn == NR)
        g->uk.fn(kc, a, b, c, g->N, acc);
      else
        edge_tile(g, kc, a, b, c, mm, nn, acc);
    }
  }
}

/* A task owns a row chunk x column block of C: each packed B block is reused by every row block of the
 * chunk, and each packed A block by every micro-panel of B. */
static void gemm_task(void *ctx, int task, int thread) {
  const gemm_job *g = ctx;
  int MR = g->uk.mr, NR = g->uk.nr;
  int r0 = (task / g->nchunks) * g->mchunk, j0 = (task % g->nchunks) * g->nc;
  int rows = g->M - r0 < g->mchunk ? g->M - r0 : g->mchunk;
  int n = g->N - j0 < g->nc ? g->N - j0 : g->nc;
  if (rows <= 0 || n <= 0) return;
  if (g->K == 0) {
    if (!g->accumulate)
      for (int r = 0; r < rows; r++) memset(g->C + (size_t)(r0 + r) * g->N + j0, 0, n * sizeof(float));
    return;
  }
  int mcap = rows < MC_MAX ? (rows + MR - 1) / MR * MR : MC_MAX;
  int npad = (n + NR - 1) / NR * NR;
  float *bp = thread_scratch(thread, (size_t)KC * (mcap + npad));
  float *ap = bp + (size_t)KC * npad;
  for (int p0 = 0; p0 < g->K; p0 += KC) {
    int kc = g->K - p0 < KC ? g->K - p0 : KC;
    int acc = g->accumulate || p0 > 0;
    pack_b(bp, g, j0, n, p0, kc);
    for (int i0 = r0; i0 < r0 + rows; i0 += MC_MAX) {
      int m = r0 + rows - i0 < MC_MAX ? r0 + rows - i0 : MC_MAX;
      pack_a(ap, g, i0, m, p0, kc);
      macro_kernel(g, ap, bp, i0, m, j0, n, kc, acc);
    }
  }
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

void hrm_sgemm(int transA, int transB, int M, int N, int K, const float *A, const float *B, float *C,
               int accumulate) {
  if (M <= 0 || N <= 0) return;
  gemm_job g = {A, B, C, M, N, K, accumulate, 0, 0, 0, 0, 0, 0, 0, hrm_ukr_selected()};
  g.rsa = transA ? 1 : K;
  g.csa = transA ? M : 1;
  g.rsb = transB ? 1 : N;
  g.csb = transB ? K : 1;
  /* Tasks: column blocks of at most NC_MAX, times row chunks (multiples of MR) so that every thread gets
   * about two tasks; the pool's task counter balances them. Tiny problems run as one task. */
  int nth = hrm_num_threads();
  int want = 2.0 * M * N * (double)K < 2e5 ? 1 : 2 * nth;
  int MR = g.uk.mr, NR = g.uk.nr;
  g.nchunks = ceil_div(N, NC_MAX);
  int mchunks = ceil_div(want, g.nchunks);
  if (mchunks > ceil_div(M, MR)) mchunks = ceil_div(M, MR);
  g.mchunk = ceil_div(ceil_div(M, mchunks), MR) * MR;
  mchunks = ceil_div(M, g.mchunk);
  if (mchunks * g.nchunks < want) g.nchunks = ceil_div(want, mchunks); /* short, wide C: split columns */
  g.nc = ceil_div(ceil_div(N, g.nchunks), NR) * NR;
  g.nchunks = ceil_div(N, g.nc);
  hrm_parallel_for(mchunks * g.nchunks, gemm_task, &g);
}
