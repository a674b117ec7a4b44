/*
 * Non-causal multi-head softmax attention over the packed qkv layout [B,S,3,NH,HD]. One pool task per batch row
 * and group of heads: it first copies its heads' q, k, v rows (and dO in the backward) out of the packed rows
 * into per-thread scratch, contiguous per head (stage_heads: with RoPE, q and k are rotated on the way), then
 * runs each head. The products (q kᵀ, P v; backward dO vᵀ, dZ k, dZᵀ q, Pᵀ dO) are register-blocked small GEMMs
 * (small_gemm.h) over the staged rows; kᵀ (vᵀ in the backward) and the [S,S] scores (dZ) are built in scratch too,
 * their rows padded to whole lines (hrm_score_ld: the row softmax, softmax.h, and the transposes ran up to 2x
 * slower on rows S = 82 floats apart). out and dqkv are written in place.
 * Writes the probabilities out when the caller saves them for the backward.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "simd.h"
#include "small_gemm.h"
#include "softmax.h"
#include "threadpool.h"

typedef struct {
  float *out, *probs, *dqkv;
  const float *qkv, *dout, *cprobs;
  long B, S, NH, HD;
  const float *cos, *sin; /* non-NULL: RoPE queries and keys as they are read (hrm_attention_rope_fwd) */
  long nh;                 /* heads per task (heads_per_task) */
} attn_args;

/* Row (b, s) part (0 q, 1 k, 2 v), head h of the packed qkv buffer. */
static inline long qkv_off(const attn_args *a, long b, long s, int part, long h) {
  return ((b * a->S + s) * 3 + part) * a->NH * a->HD + h * a->HD;
}

/* Staged head rows per task at most (parts x heads x S x HD floats: q, k, v and in the backward dO), which
 * stay in L2 (see heads_per_task). */
#define STAGE_MAX_BYTES (1024 << 10)

/* Heads per task: the most (a divisor of NH) whose `parts` staged rows fit STAGE_MAX_BYTES while the
 * B x NH / nh tasks still give every thread two (one puzzle, B = 1: 8 heads in 4 tasks at 2 threads); at
 * least 1. */
static long heads_per_task(long B, long S, long NH, long HD, long parts) {
  for (long nh = NH; nh > 1; nh--)
    if (NH % nh == 0 && parts * nh * S * HD * (long)sizeof(float) <= STAGE_MAX_BYTES &&
        B * (NH / nh) >= 2 * hrm_num_threads())
      return nh;
  return 1;
}

/* Rows s of heads [h0, h0 + nh) of batch row b, copied (q and k rotated, with RoPE) into qh, kh, vh [nh][S][HD].
 * A head's rows lie 3 x NH x HD floats apart in qkv (6 KB for the paper's model). At batch 32 qkv (16 MB) is
 * out of L2, and read in place each row was a miss the hardware prefetchers do not see coming; staged, a task
 * reads its heads' parts of each row as runs of nh x HD floats. Batch 32, 2 threads: the forward with RoPE
 * 3.4 -> 2.7 ms, the backward 5.6 -> 4.9 ms. With qkv in L2 (one puzzle) it is the same speed either way. */
/* dst[j][s] = the HD floats at src + s * ld + j * HD, for nh heads j and S rows s: one head part staged (dO). */
static void stage_rows(float *dst, const float *src, long ld, long S, long nh, long HD) {
  for (long s = 0; s < S; s++)
    for (long j = 0; j < nh; j++) memcpy(dst + (j * S + s) * HD, src + s * ld + j * HD, sizeof(float) * HD);
}

/* q, k and v of each row in turn (q and k rotated with RoPE), so that the task reads its part of qkv front to
 * back once, rather than in three strided passes (q of every row, then k, then v). Inline, so a constant HD
 * gives loops without trip-count logic and copies without memcpy calls. One batch row's 8 heads, HD 64, qkv
 * out of cache, 1 thread: 63 -> 54 us (the small model's 4 heads of HD 32: 17 -> 12 us). */
static inline __attribute__((always_inline)) void stage_qkv(const attn_args *a, const float *q, long rq, long S,
                                                            long nh, long HD, float *qh, float *kh, float *vh) {
  long part = a->NH * HD; /* q, k and v of a row lie one part apart */
  for (long s = 0; s < S; s++, q += rq) {
    const float *k = q + part, *v = k + part, *cs = a->cos ? a->cos + s * HD : NULL, *sn = cs ? a->sin + s * HD : NULL;
    for (long j = 0; j < nh; j++) {
      long at = (j * S + s) * HD;
      if (cs) {
        hrm_rope_head(qh + at, q + j * HD, cs, sn, HD / 2, 1);
        hrm_rope_head(kh + at, k + j * HD, cs, sn, HD / 2, 1);
      } else {
        memcpy(qh + at, q + j * HD, sizeof(float) * HD);
        memcpy(kh + at, k + j * HD, sizeof(float) * HD);
      }
      memcpy(vh + at, v + j * HD, sizeof(float) * HD);
    }
  }
}

HRM_CLONES static void stage_heads(const attn_args *a, long b, long h0, long nh, float *qh, float *kh, float *vh) {
  long S = a->S, HD = a->HD, rq = 3 * a->NH * HD;
  const float *q = a->qkv + b * S * rq + h0 * HD;
  if (HD == 64) /* the paper's head size */
    stage_qkv(a, q, rq, S, nh, 64, qh, kh, vh);
  else if (HD == 32)
    stage_qkv(a, q, rq, S, nh, 32, qh, kh, vh);
  else
    stage_qkv(a, q, rq, S, nh, HD, qh, kh, vh);
}

/* Per (b, group of nh heads): the heads' rows staged, then per head scores = q kᵀ, P = softmax(scale * scores)
 * row by row, out = P v. */
HRM_CLONES static void attn_fwd_task(void *c, int task, int th) {
  const attn_args *a = c;
  long S = a->S, HD = a->HD, nh = a->nh, groups = a->NH / nh, b = task / groups, h0 = (task % groups) * nh;
  long ro = a->NH * HD, ls = hrm_score_ld(S), hs = S * HD; /* hs: one staged head */
  float *qh = hrm_thread_scratch(HRM_SCRATCH_ATTN_FWD, th, sizeof(float) * (3 * nh * hs + HD * ls + S * ls));
  float *kh = qh + nh * hs, *vh = kh + nh * hs, *kt = vh + nh * hs, *sc = kt + HD * ls; /* kt [HD][ls], sc [S][ls] */
  float scale = 1.0f / sqrtf((float)HD);
  stage_heads(a, b, h0, nh, qh, kh, vh);
  for (long j = 0; j < nh; j++) {
    long h = h0 + j;
    hrm_transpose(kt, ls, kh + j * hs, HD, S, HD);
    hrm_small_gemm(S, S, HD, qh + j * hs, HD, 1, kt, ls, sc, ls);
    hrm_softmax_rows(sc, S, S, ls, scale, a->probs ? a->probs + (b * a->NH + h) * S * S : NULL, S);
    hrm_small_gemm(S, HD, S, sc, ls, 1, vh + j * hs, HD, a->out + b * S * ro + h * HD, ro);
  }
}

static void attention_fwd(attn_args *a) {
  a->nh = heads_per_task(a->B, a->S, a->NH, a->HD, 3);
  hrm_parallel_for((int)(a->B * (a->NH / a->nh)), attn_fwd_task, a);
}

void hrm_attention_fwd(float *out, float *probs, const float *qkv, long B, long S, long NH, long HD) {
  attn_args a = {out, probs, NULL, qkv, NULL, NULL, B, S, NH, HD, NULL, NULL, 1};
  attention_fwd(&a);
}

/* The no-grad forward's attention with RoPE folded in: a head's rotated rows are built while staging, instead
 * of the whole qkv being rotated in memory by a pass of its own first. */
void hrm_attention_rope_fwd(float *out, const float *qkv, const float *cos, const float *sin, long B, long S,
                            long NH, long HD) {
  attn_args a = {out, NULL, NULL, qkv, NULL, NULL, B, S, NH, HD, cos, sin, 1};
  attention_fwd(&a);
}

/*
 * dP = dO vᵀ; dZ = scale P ∘ (dP - rowsum(P ∘ dP)); dq = dZ k; dk = dZᵀ q; dv = Pᵀ dO. The transposed operands
 * dZᵀ and Pᵀ are read through the small GEMM's A strides (no copies); vᵀ and dZ are built in scratch next to the
 * staged rows.
 */
HRM_CLONES static void attn_bwd_task(void *c, int task, int th) {
  const attn_args *a = c;
  long S = a->S, HD = a->HD, nh = a->nh, groups = a->NH / nh, b = task / groups, h0 = (task % groups) * nh;
  long rq = 3 * a->NH * HD, ro = a->NH * HD, hs = S * HD, ls = hrm_score_ld(S);
  float *qh = hrm_thread_scratch(HRM_SCRATCH_ATTN_BWD, th, sizeof(float) * (4 * nh * hs + HD * ls + S * ls));
  float *kh = qh + nh * hs, *vh = kh + nh * hs, *gh = vh + nh * hs, *vt = gh + nh * hs, *dz = vt + HD * ls;
  float scale = 1.0f / sqrtf((float)HD);
  stage_heads(a, b, h0, nh, qh, kh, vh);
  stage_rows(gh, a->dout + b * S * ro + h0 * HD, ro, S, nh, HD); /* dO */
  for (long j = 0; j < nh; j++) {
    long h = h0 + j;
    const float *q = qh + j * hs, *k = kh + j * hs, *go = gh + j * hs, *P = a->cprobs + (b * a->NH + h) * S * S;
    hrm_transpose(vt, ls, vh + j * hs, HD, S, HD);
    hrm_small_gemm(S, S, HD, go, HD, 1, vt, ls, dz, ls); /* dP */
    for (long i = 0; i < S; i++) {
      const float *p = P + i * S;
      float *row = dz + i * ls;
      float rowdot = hrm_dot16(p, row, S);
      for (long jj = 0; jj < S; jj++) row[jj] = p[jj] * (row[jj] - rowdot) * scale;
    }
    float *dq = a->dqkv + qkv_off(a, b, 0, 0, h), *dk = dq + a->NH * HD, *dv = dk + a->NH * HD;
    hrm_small_gemm(S, HD, S, dz, ls, 1, k, HD, dq, rq); /* dq = dZ k */
    hrm_small_gemm(S, HD, S, dz, 1, ls, q, HD, dk, rq); /* dk = dZᵀ q */
    hrm_small_gemm(S, HD, S, P, 1, S, go, HD, dv, rq); /* dv = Pᵀ dO */
  }
}

void hrm_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *probs, long B, long S,
                       long NH, long HD) {
  attn_args a = {NULL, NULL, dqkv, qkv, dout, probs, B, S, NH, HD, NULL, NULL, 1};
  a.nh = heads_per_task(B, S, NH, HD, 4);
  hrm_parallel_for((int)(B * (NH / a.nh)), attn_bwd_task, &a);
}
