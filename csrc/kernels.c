/*
 * Row-wise fused kernels: embedding, RMSNorm, RoPE, SwiGLU, residual add/scale and the losses.
 * Each parallelises over rows (or columns for the scatter-add) with hrm_parallel_range; grains keep small
 * inputs on the calling thread. Reductions use 16 partial sums so they vectorise without -ffast-math.
 */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "exp_x86.h"
#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

#define GRAIN_ELEMS 16384 /* below ~16K elements of work a wake-up costs more than it saves */

static long grain_rows(long row_elems) { return row_elems >= GRAIN_ELEMS ? 1 : GRAIN_ELEMS / (row_elems + 1) + 1; }

/* ---- embedding ---- */
typedef struct {
  float *out;
  const float *table, *dout;
  const int32_t *ids;
  long T, D;
} emb_args;

static void emb_fwd_range(void *c, long t0, long t1, int th) {
  const emb_args *a = c;
  (void)th;
  for (long t = t0; t < t1; t++) memcpy(a->out + t * a->D, a->table + (long)a->ids[t] * a->D, a->D * sizeof(float));
}
void hrm_embedding_fwd(float *out, const int32_t *ids, const float *table, long T, long D) {
  emb_args a = {out, table, NULL, ids, T, D};
  hrm_parallel_range(T, grain_rows(D), emb_fwd_range, &a);
}

/* Scatter-add split by columns, so threads never write the same row element. */
static void emb_bwd_range(void *c, long d0, long d1, int th) {
  const emb_args *a = c;
  (void)th;
  for (long t = 0; t < a->T; t++) {
    float *dst = a->out + (long)a->ids[t] * a->D;
    const float *src = a->dout + t * a->D;
    for (long d = d0; d < d1; d++) dst[d] += src[d];
  }
}
void hrm_embedding_bwd(float *dtable, const float *dout, const int32_t *ids, long T, long D) {
  emb_args a = {dtable, NULL, dout, ids, T, D};
  long grain = T * D < GRAIN_ELEMS ? D : 64;
  hrm_parallel_range(D, grain, emb_bwd_range, &a);
}

/* ---- RMSNorm ---- */
typedef struct {
  float *out, *rstd;
  const float *inp, *dout, *y, *rs;
  long T, D;
  float eps;
} rms_args;

HRM_CLONES void hrm_rmsnorm_rows(float *out, float *rstd, const float *inp, long t0, long t1, long D, float eps) {
  for (long t = t0; t < t1; t++) {
    const float *x = inp + t * D;
    float *y = out + t * D;
    float r = 1.0f / sqrtf(hrm_dot16(x, x, D) / (float)D + eps);
    rstd[t] = r;
    for (long d = 0; d < D; d++) y[d] = x[d] * r;
  }
}

static void rms_fwd_range(void *c, long t0, long t1, int th) {
  const rms_args *a = c;
  (void)th;
  hrm_rmsnorm_rows(a->out, a->rstd, a->inp, t0, t1, a->D, a->eps);
}
void hrm_rmsnorm_fwd(float *out, float *rstd, const float *inp, long T, long D, float eps) {
  rms_args a = {out, rstd, inp, NULL, NULL, NULL, T, D, eps};
  hrm_parallel_range(T, grain_rows(D), rms_fwd_range, &a);
}

HRM_CLONES static void rms_bwd_range(void *c, long t0, long t1, int th) {
  const rms_args *a = c;
  (void)th;
  for (long t = t0; t < t1; t++) {
    const float *dy = a->dout + t * a->D, *y = a->y + t * a->D;
    float *dx = a->out + t * a->D;
    float m = hrm_dot16(dy, y, a->D) / (float)a->D, r = a->rs[t];
    for (long d = 0; d < a->D; d++) dx[d] = r * (dy[d] - y[d] * m);
  }
}
void hrm_rmsnorm_bwd(float *dinp, const float *dout, const float *out, const float *rstd, long T, long D) {
  rms_args a = {dinp, NULL, NULL, dout, out, rstd, T, D, 0};
  hrm_parallel_range(T, grain_rows(D), rms_bwd_range, &a);
}

/* ---- RoPE ---- */
typedef struct {
  float *out;
  const float *inp, *cos, *sin;
  long T, W, S, NR, HD;
  int sign;
} rope_args;

#define ROPE_MAX_INPLACE_HD 1024

HRM_CLONES static void rope_range(void *c, long t0, long t1, int th) {
  const rope_args *a = c;
  (void)th;
  long half = a->HD / 2;
  float copy[ROPE_MAX_INPLACE_HD];
  for (long t = t0; t < t1; t++) {
    const float *cs = a->cos + (t % a->S) * a->HD, *sn = a->sin + (t % a->S) * a->HD;
    const float *x = a->inp + t * a->W;
    float *y = a->out + t * a->W;
    for (long h = 0; h < a->NR; h++, x += a->HD, y += a->HD) {
      if (y == x && a->HD <= ROPE_MAX_INPLACE_HD) {
        memcpy(copy, x, a->HD * sizeof(float));
        hrm_rope_head(y, copy, cs, sn, half, a->sign);
      } else if (y == x) { /* a head too wide for the copy: element by element, still correct in place */
        for (long i = 0; i < half; i++) {
          float x1 = x[i], x2 = x[half + i];
          y[i] = a->sign > 0 ? x1 * cs[i] - x2 * sn[i] : x1 * cs[i] + x2 * sn[half + i];
          y[half + i] = a->sign > 0 ? x2 * cs[half + i] + x1 * sn[half + i] : x2 * cs[half + i] - x1 * sn[i];
        }
      } else
        hrm_rope_head(y, x, cs, sn, half, a->sign);
    }
    if (a->out != a->inp) memcpy(y, x, (a->W - a->NR * a->HD) * sizeof(float));
  }
}
void hrm_rope(float *out, const float *inp, const float *cos, const float *sin, long T, long W, long S, long NR,
              long HD, int sign) {
  rope_args a = {out, inp, cos, sin, T, W, S, NR, HD, sign};
  hrm_parallel_range(T, grain_rows(W), rope_range, &a);
}

/* ---- SwiGLU ---- */
typedef struct {
  float *out;
  const float *gu, *dout;
  long T, F;
  float *act; /* backward: silu(gate) * up written too, or NULL */
} swiglu_args;

/* y[r][j] = silu(g) * u over rows of n values, rows ldy, ldg, ldu apart; y may be g. The fused gate_up product's
 * tile epilogue (gemm.c) and swigluForward share it; AVX-512 CPUs take act_x86.c's. */
HRM_CLONES void hrm_swiglu_rows(float *y, long ldy, const float *g, long ldg, const float *u, long ldu, long rows,
                                long n) {
#if defined(__x86_64__)
  if (hrm_cpu_isa() == HRM_ISA_AVX512) {
    hrm_swiglu_rows_avx512(y, ldy, g, ldg, u, ldu, rows, n);
    return;
  }
#endif
  for (long r = 0; r < rows; r++)
    for (long j = 0; j < n; j++) {
      float gv = g[r * ldg + j];
      y[r * ldy + j] = gv * hrm_sigmoidf(gv) * u[r * ldu + j];
    }
}

static void swiglu_fwd_range(void *c, long t0, long t1, int th) {
  const swiglu_args *a = c;
  (void)th;
  const float *g = a->gu + t0 * 2 * a->F;
  hrm_swiglu_rows(a->out + t0 * a->F, a->F, g, 2 * a->F, g + a->F, 2 * a->F, t1 - t0, a->F);
}
void hrm_swiglu_fwd(float *out, const float *gate_up, long T, long F) {
  swiglu_args a = {out, gate_up, NULL, T, F, NULL};
  hrm_parallel_range(T, grain_rows(F), swiglu_fwd_range, &a);
}

HRM_CLONES static void swiglu_bwd_range(void *c, long t0, long t1, int th) {
  const swiglu_args *a = c;
  (void)th;
  for (long t = t0; t < t1; t++) {
    const float *g = a->gu + t * 2 * a->F, *u = g + a->F, *dy = a->dout + t * a->F;
    float *dg = a->out + t * 2 * a->F, *du = dg + a->F;
    float *act = a->act ? a->act + t * a->F : NULL;
    for (long f = 0; f < a->F; f++) {
      float s = hrm_sigmoidf(g[f]);
      if (act) act[f] = g[f] * s * u[f];
      dg[f] = dy[f] * u[f] * s * (1.0f + g[f] * (1.0f - s));
      du[f] = dy[f] * g[f] * s;
    }
  }
}
/* In place (dgate_up == gate_up, the backward reuses the saved buffer): one pointer, so the compiler sees
 * each element read before it is written and vectorises without an overlap check. */
HRM_CLONES static void swiglu_bwd_inplace_range(void *c, long t0, long t1, int th) {
  const swiglu_args *a = c;
  (void)th;
  for (long t = t0; t < t1; t++) {
    float *g = a->out + t * 2 * a->F, *u = g + a->F;
    const float *dy = a->dout + t * a->F;
    float *act = a->act ? a->act + t * a->F : NULL;
    for (long f = 0; f < a->F; f++) {
      float gf = g[f], uf = u[f], s = hrm_sigmoidf(gf);
      if (act) act[f] = gf * s * uf;
      g[f] = dy[f] * uf * s * (1.0f + gf * (1.0f - s));
      u[f] = dy[f] * gf * s;
    }
  }
}
#if defined(__x86_64__)
/* The AVX-512 rows read each lane before writing it, so one range serves in place and out of place. */
static void swiglu_bwd_avx512_range(void *c, long t0, long t1, int th) {
  const swiglu_args *a = c;
  (void)th;
  for (long t = t0; t < t1; t++) {
    const float *g = a->gu + t * 2 * a->F;
    float *dg = a->out + t * 2 * a->F;
    hrm_swiglu_bwd_row_avx512(dg, dg + a->F, a->act ? a->act + t * a->F : NULL, g, g + a->F, a->dout + t * a->F,
                              a->F);
  }
}
#endif
void hrm_swiglu_bwd(float *dgate_up, float *act, const float *dout, const float *gate_up, long T, long F) {
  swiglu_args a = {dgate_up, gate_up, dout, T, F, act};
  hrm_range_fn fn = dgate_up == gate_up ? swiglu_bwd_inplace_range : swiglu_bwd_range;
#if defined(__x86_64__)
  if (hrm_cpu_isa() == HRM_ISA_AVX512) fn = swiglu_bwd_avx512_range;
#endif
  hrm_parallel_range(T, grain_rows(F), fn, &a);
}

/* ---- residual add / scale ---- */
typedef struct {
  float *o0, *o1;
  const float *i0, *i1;
  float alpha, beta;
} add_args;

HRM_CLONES static void add_range(void *c, long b, long e, int th) {
  const add_args *a = c;
  (void)th;
  for (long i = b; i < e; i++) a->o0[i] = a->alpha * a->i0[i] + a->beta * a->i1[i];
}
void hrm_add(float *out, const float *a, const float *b, float alpha, float beta, long n) {
  add_args x = {out, NULL, a, b, alpha, beta};
  hrm_parallel_range(n, GRAIN_ELEMS * 4, add_range, &x);
}

HRM_CLONES static void add_bwd_range(void *c, long b, long e, int th) {
  const add_args *a = c;
  (void)th;
  for (long i = b; i < e; i++) {
    float g = a->i0[i];
    a->o0[i] = a->alpha * g;
    a->o1[i] = a->beta * g;
  }
}
void hrm_add_bwd(float *da, float *db, const float *dout, float alpha, float beta, long n) {
  add_args x = {da, db, dout, NULL, alpha, beta};
  hrm_parallel_range(n, GRAIN_ELEMS * 4, add_bwd_range, &x);
}

/* ---- batched transpose (TRM's mlp_t works on the state transposed to [B, D, S]) ---- */
typedef struct {
  float *out;
  const float *inp;
  long R, C, tiles; /* tiles: column tiles per matrix */
} transpose_args;

#define TRANSPOSE_TILE 16

/* Work item i: matrix i / tiles, columns of tile i % tiles, all rows, 16 x 16 blocks at a time: each block
 * reads 16 rows of 64 bytes and writes 16 columns of 64 bytes, so both sides stay within cache lines. */
HRM_CLONES static void transpose_range(void *c, long i0, long i1, int th) {
  const transpose_args *a = c;
  (void)th;
  const long R = a->R, C = a->C;
  for (long i = i0; i < i1; i++) {
    const long b = i / a->tiles, c0 = (i % a->tiles) * TRANSPOSE_TILE;
    const long c1 = c0 + TRANSPOSE_TILE < C ? c0 + TRANSPOSE_TILE : C;
    const float *x = a->inp + b * R * C;
    float *t = a->out + b * R * C;
    for (long r0 = 0; r0 < R; r0 += TRANSPOSE_TILE) {
      const long r1 = r0 + TRANSPOSE_TILE < R ? r0 + TRANSPOSE_TILE : R;
      for (long col = c0; col < c1; col++)
        for (long r = r0; r < r1; r++) t[col * R + r] = x[r * C + col];
    }
  }
}
void hrm_transpose_batched(float *out, const float *inp, long B, long R, long C) {
  const long tiles = (C + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
  transpose_args x = {out, inp, R, C, tiles};
  long grain = R * TRANSPOSE_TILE >= GRAIN_ELEMS ? 1 : GRAIN_ELEMS / (R * TRANSPOSE_TILE) + 1;
  hrm_parallel_range(B * tiles, grain, transpose_range, &x);
}
